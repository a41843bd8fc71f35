import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';

const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;

describe('refreshTokenCodec', () => {
  const key = createSecretKey(randomBytes(32));
  const otherKey = createSecretKey(randomBytes(32));

  describe('generate', () => {
    it('returns 43 base64url characters that decode to 32 bytes', () => {
      const token = codec.generate();
      expect(token).toMatch(BASE64URL_43);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    });

    it('never repeats', () => {
      const tokens = new Set(Array.from({ length: 1000 }, () => codec.generate()));
      expect(tokens.size).toBe(1000);
    });

    it('produces well-formed tokens', () => {
      for (let i = 0; i < 200; i++) expect(codec.isWellFormed(codec.generate())).toBe(true);
    });
  });

  describe('newNonce', () => {
    it('is random and fits the 64-character nonce column', () => {
      const a = codec.newNonce();
      const b = codec.newNonce();
      expect(a).not.toBe(b);
      expect(a.length).toBeLessThanOrEqual(64);
      expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    });
  });

  describe('hash', () => {
    it('is the lowercase hex SHA-256 of the token', () => {
      expect(codec.hash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      const token = codec.generate();
      expect(codec.hash(token)).toBe(createHash('sha256').update(token).digest('hex'));
      expect(codec.hash(token)).toMatch(/^[0-9a-f]{64}$/);
    });

    it('differs for different tokens and never equals the token', () => {
      const a = codec.generate();
      const b = codec.generate();
      expect(codec.hash(a)).not.toBe(codec.hash(b));
      expect(codec.hash(a)).not.toContain(a);
    });
  });

  describe('deriveChild', () => {
    const parent = codec.generate();
    const nonce = codec.newNonce();

    it('is deterministic for the same parent, nonce and key', () => {
      const child = codec.deriveChild(parent, nonce, key);
      expect(codec.deriveChild(parent, nonce, key)).toBe(child);
      // A different KeyObject holding the same bytes derives the same child (keys are reloaded from the database).
      const sameKey = createSecretKey(key.export());
      expect(codec.deriveChild(parent, nonce, sameKey)).toBe(child);
    });

    it('yields a well-formed token distinct from its parent', () => {
      const child = codec.deriveChild(parent, nonce, key);
      expect(child).toMatch(BASE64URL_43);
      expect(codec.isWellFormed(child)).toBe(true);
      expect(child).not.toBe(parent);
    });

    it('changes with the nonce', () => {
      expect(codec.deriveChild(parent, codec.newNonce(), key)).not.toBe(codec.deriveChild(parent, nonce, key));
    });

    it('changes with the parent', () => {
      expect(codec.deriveChild(codec.generate(), nonce, key)).not.toBe(codec.deriveChild(parent, nonce, key));
    });

    it('changes with the key', () => {
      expect(codec.deriveChild(parent, nonce, otherKey)).not.toBe(codec.deriveChild(parent, nonce, key));
    });

    it('is not a plain hash of its inputs (needs the key)', () => {
      const child = codec.deriveChild(parent, nonce, key);
      expect(child).not.toBe(createHash('sha256').update(`rt1.${parent}.${nonce}`).digest('base64url'));
      expect(child).not.toBe(
        createHash('sha256')
          .update(parent + nonce)
          .digest('base64url'),
      );
    });
  });

  describe('isWellFormed', () => {
    const valid = 'A'.repeat(21) + '-_' + 'z9'.repeat(10);

    it('accepts 43 base64url characters', () => {
      expect(valid).toHaveLength(43);
      expect(codec.isWellFormed(valid)).toBe(true);
    });

    it.each([
      ['empty', ''],
      ['42 characters', valid.slice(1)],
      ['44 characters', `${valid}A`],
      ['padding', `${valid.slice(1)}=`],
      ['"+" (base64, not base64url)', `+${valid.slice(1)}`],
      ['"/" (base64, not base64url)', `/${valid.slice(1)}`],
      ['a space', ` ${valid.slice(1)}`],
      ['a leading space', ` ${valid}`],
      ['a trailing newline', `${valid}\n`],
      ['a dot', `.${valid.slice(1)}`],
      ['a non-ASCII letter', `é${valid.slice(1)}`],
      ['a NUL byte', `\u0000${valid.slice(1)}`],
    ])('rejects a string with %s', (_label, token) => {
      expect(codec.isWellFormed(token)).toBe(false);
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['a number', 42],
      ['an array', [valid]],
      ['an object', { toString: () => valid }],
      ['a Buffer', Buffer.from(valid)],
      ['a String object', new String(valid)],
    ])('rejects %s', (_label, value) => {
      expect(codec.isWellFormed(value)).toBe(false);
    });
  });
});

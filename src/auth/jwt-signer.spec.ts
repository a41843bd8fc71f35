import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { isLowS } from './es256-signature.js';
import { signJwt } from './jwt-signer.js';

describe('signJwt', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  // Both paths: on the thread pool, and inline while the pool is full of password hashes.
  it.each([false, true])('signs ES256 with the low s only (inline: %s)', async (inline) => {
    for (let i = 0; i < 48; i++) {
      const token = await signJwt({ alg: 'ES256', kid: 'k' }, { n: i }, privateKey, { inline });
      const [header, payload, signature] = token.split('.');
      const bytes = Buffer.from(signature, 'base64url');
      expect(isLowS(bytes)).toBe(true);
      expect(
        verify('sha256', Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, bytes),
      ).toBe(true);
    }
  });
});

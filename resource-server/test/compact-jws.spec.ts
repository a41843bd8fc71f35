import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { readCanonicalHeader } from '../src/compact-jws.js';

const ORDERS = {
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  ES512:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
} as const;
const HASHES = { ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' } as const;

function toBigInt(bytes: Buffer): bigint {
  return BigInt(`0x${bytes.toString('hex')}`);
}
function toBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

/** The token with `s` replaced by `n - s`: the same signature's twin, valid for the same key. */
function twin(token: string, order: bigint): string {
  const [header, payload, signature] = token.split('.');
  const bytes = Buffer.from(signature, 'base64url');
  const half = bytes.length / 2;
  const s = toBigInt(bytes.subarray(half));
  const flipped = Buffer.concat([bytes.subarray(0, half), toBytes(order - s, half)]);
  return `${header}.${payload}.${flipped.toString('base64url')}`;
}

describe('readCanonicalHeader', () => {
  it('reads the header of a token in canonical base64url', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ sub: 'u' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'k' })
      .sign(privateKey);
    expect(readCanonicalHeader(token)).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'k' });
  });

  it('refuses other spellings of the same bytes: padding, +/, spare low bits, wrong segment count', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const [header, payload, signature] = token.split('.');
    // A 256-byte signature leaves 4 spare bits in its last character; setting one decodes the same.
    const last = signature.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = signature.slice(0, -1) + alphabet[alphabet.indexOf(last) | 1];
    expect(Buffer.from(sameBytes, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(true);
    expect(sameBytes).not.toBe(signature);

    expect(readCanonicalHeader(`${header}.${payload}.${sameBytes}`)).toBeUndefined();
    expect(readCanonicalHeader(`${header}=.${payload}.${signature}`)).toBeUndefined();
    expect(readCanonicalHeader(`${header}.${payload}.${signature.replace(/-/g, '+').replace(/_/g, '/')}`)).toBe(
      /[-_]/.test(signature) ? undefined : readCanonicalHeader(token),
    );
    expect(readCanonicalHeader(`${header}.${payload}`)).toBeUndefined();
    expect(readCanonicalHeader(`${header}.${payload}.`)).toBeUndefined();
    expect(readCanonicalHeader(`${header}.${payload}.${signature}.x`)).toBeUndefined();
    expect(readCanonicalHeader(`${Buffer.from('[1]').toString('base64url')}.${payload}.${signature}`)).toBeUndefined();
  });

  for (const alg of ['ES256', 'ES384', 'ES512'] as const) {
    it(`${alg}: accepts the low-s signature and refuses its high-s twin, which verifies too`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const signed = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg }).sign(privateKey);
      const bytes = Buffer.from(signed.split('.')[2], 'base64url');
      const high = toBigInt(bytes.subarray(bytes.length / 2)) > ORDERS[alg] >> 1n;
      const low = high ? twin(signed, ORDERS[alg]) : signed;
      const highTwin = high ? signed : twin(signed, ORDERS[alg]);

      // Both verify: this is what makes the order table right and the rule necessary.
      const key = createPublicKey({ key: (await exportJWK(publicKey)) as never, format: 'jwk' });
      for (const token of [low, highTwin]) {
        const [h, p, s] = token.split('.');
        const ok = cryptoVerify(
          HASHES[alg],
          Buffer.from(`${h}.${p}`),
          { key, dsaEncoding: 'ieee-p1363' },
          Buffer.from(s, 'base64url'),
        );
        expect(ok).toBe(true);
      }
      expect(readCanonicalHeader(low)).toEqual({ alg });
      expect(readCanonicalHeader(highTwin)).toBeUndefined();
    });
  }
});

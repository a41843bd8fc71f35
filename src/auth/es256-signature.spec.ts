import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { isLowS, toLowS } from './es256-signature.js';

const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const sOf = (signature: Buffer) => BigInt(`0x${signature.subarray(32).toString('hex')}`);
const withS = (signature: Buffer, s: bigint) =>
  Buffer.concat([signature.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex')]);

describe('ES256 low-s signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p1363 = { dsaEncoding: 'ieee-p1363' as const };

  it('keeps a signature that still verifies, with s in the lower half; its twin is refused', () => {
    let sawHigh = false;
    for (let i = 0; i < 64; i++) {
      const data = Buffer.from(`message ${i}`);
      const signature = sign('sha256', data, { key: privateKey, ...p1363 });
      const twin = withS(signature, N - sOf(signature));
      // Both spellings verify: the malleability this guards against.
      expect(verify('sha256', data, { key: publicKey, ...p1363 }, twin)).toBe(true);
      sawHigh ||= sOf(signature) > N / 2n;

      const low = toLowS(signature);
      expect(verify('sha256', data, { key: publicKey, ...p1363 }, low)).toBe(true);
      expect(isLowS(low)).toBe(true);
      expect(isLowS(withS(low, N - sOf(low)))).toBe(false);
      expect(low.subarray(0, 32)).toEqual(signature.subarray(0, 32));
    }
    expect(sawHigh).toBe(true);
  });

  it('refuses signatures of the wrong length', () => {
    const signature = toLowS(sign('sha256', Buffer.from('x'), { key: privateKey, ...p1363 }));
    expect(isLowS(signature.subarray(1))).toBe(false);
    expect(isLowS(Buffer.concat([signature, Buffer.alloc(1)]))).toBe(false);
    expect(isLowS(Buffer.alloc(0))).toBe(false);
  });
});

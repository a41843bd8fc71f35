/**
 * ECDSA signatures are malleable: if (r, s) verifies, so does (r, n − s), and in JWS's raw r‖s
 * form (RFC 7518 §3.4) the twin is canonical base64url too. Left alone, every ES256 token would
 * have a second spelling that verifies, a "different" token that is the same credential (the
 * same class of problem as non-canonical base64url). We sign with the low s only and refuse the
 * high one, as Bitcoin (BIP 62/146) and Ethereum (EIP-2) do.
 */

/** Order n of the P-256 group (FIPS 186-4, D.1.2.3). */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_ORDER = P256_ORDER >> 1n;
const COORDINATE_BYTES = 32;

const sOf = (signature: Buffer) => BigInt(`0x${signature.subarray(COORDINATE_BYTES).toString('hex')}`);

/** The low-s form of a raw ES256 signature (r‖s, 64 bytes): s is replaced by n − s when above n/2. */
export function toLowS(signature: Buffer): Buffer {
  const s = sOf(signature);
  if (s <= P256_HALF_ORDER) return signature;
  const low = Buffer.from((P256_ORDER - s).toString(16).padStart(COORDINATE_BYTES * 2, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, COORDINATE_BYTES), low]);
}

/** True for a raw ES256 signature of the right length whose s is in the lower half (the one we sign). */
export function isLowS(signature: Buffer): boolean {
  return signature.length === COORDINATE_BYTES * 2 && sOf(signature) <= P256_HALF_ORDER;
}

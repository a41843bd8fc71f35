/** The JOSE header of a compact JWS, as sent: read, never trusted. */
export type JoseHeader = Record<string, unknown>;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The header of a compact JWS written in its one accepted spelling, or undefined.
 *
 * Each segment must be the base64url spelling that round-trips: decoders ignore the spare low bits
 * of the last character (and some accept `=` or `+/`), so without this one signed token would have
 * several spellings that all verify, and a cache keyed by the string would hold the same credential
 * under many keys. ECDSA signatures must have a low `s` for the same reason: `(r, n - s)` verifies
 * too, so anyone holding a token could mint a second spelling of it. The auth server applies the
 * same rules (src/auth/access-token.service.ts isCanonicalCompactJws).
 */
export function readCanonicalHeader(token: string): JoseHeader | undefined {
  const segments = token.split('.');
  if (segments.length !== 3 || !segments.every(isCanonicalBase64url)) return undefined;
  const header = parseJsonObject(Buffer.from(segments[0], 'base64url').toString('utf8'));
  if (!header) return undefined;
  const order = typeof header.alg === 'string' ? CURVE_ORDERS[header.alg] : undefined;
  if (order !== undefined && !hasLowS(Buffer.from(segments[2], 'base64url'), order)) return undefined;
  return header;
}

function isCanonicalBase64url(segment: string): boolean {
  return BASE64URL.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function parseJsonObject(text: string): JoseHeader | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JoseHeader) : undefined;
  } catch {
    return undefined;
  }
}

/** The group order n of each JWS ECDSA curve (P-256, P-384, P-521; SEC 2 §2.4). */
const CURVE_ORDERS: Record<string, bigint> = {
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  ES512:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/**
 * JWS ECDSA signatures are `r || s`, each half the length. A signature of the wrong length is left
 * to the verifier to refuse; here only the high-s twin is ruled out.
 */
function hasLowS(signature: Buffer, order: bigint): boolean {
  if (signature.length % 2 !== 0) return true;
  const s = BigInt(`0x${signature.subarray(signature.length / 2).toString('hex') || '0'}`);
  return s <= order >> 1n;
}

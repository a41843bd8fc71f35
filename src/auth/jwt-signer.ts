import { createHmac, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { JwtAlgorithm } from '../config/app-config.js';
import { toLowS } from './es256-signature.js';

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Compact JWS signing. RS256 and ES256 signatures are computed on libuv's thread pool (node's
 * async `crypto.sign`), not on the event loop: an RS256 signature costs ~0.3 ms of CPU, which at
 * a thousand refreshes a second would otherwise be a third of the loop. HS256 stays inline
 * (microseconds). Verification is jsonwebtoken's (passport-jwt, @nestjs/jwt).
 */
export function signJwt(
  header: { alg: JwtAlgorithm } & Record<string, unknown>,
  claims: object,
  key: KeyObject,
  { inline = false }: { inline?: boolean } = {},
): Promise<string> {
  const input = `${base64url(header)}.${base64url(claims)}`;
  if (header.alg === 'HS256') {
    return Promise.resolve(`${input}.${createHmac('sha256', key).update(input).digest('base64url')}`);
  }
  // ES256 signatures are the raw r||s pair in JWS (RFC 7518 §3.4), not DER.
  const keyInput = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  // Low s only: its twin (r, n − s) would be a second spelling of the same token (es256-signature.ts).
  const jws = (signature: Buffer) =>
    `${input}.${(header.alg === 'ES256' ? toLowS(signature) : signature).toString('base64url')}`;
  // `inline`: the thread pool is full of password hashes; waiting for one would cost far more than signing here.
  if (inline) return Promise.resolve(jws(cryptoSign('sha256', Buffer.from(input), keyInput)));
  return new Promise((resolve, reject) => {
    cryptoSign('sha256', Buffer.from(input), keyInput, (error, signature) => {
      if (error) reject(error);
      else resolve(jws(signature));
    });
  });
}

import { createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Refresh tokens are 256-bit opaque strings (43 base64url characters).
 * A session's first token is random; each rotated token is HMAC(server key, parent token, nonce)
 * with a fresh random nonce. The database keeps only SHA-256 hashes and the nonces, so nothing
 * stored can be replayed, yet a client that re-presents the parent within the grace window can
 * be handed the very same child again (the server re-derives it from the parent it was shown).
 */
export const refreshTokenCodec = {
  generate(): string {
    return randomBytes(32).toString('base64url');
  },

  newNonce(): string {
    return randomBytes(32).toString('base64url');
  },

  deriveChild(parentToken: string, nonce: string, key: KeyObject): string {
    return createHmac('sha256', key).update(`rt1.${parentToken}.${nonce}`).digest('base64url');
  },

  hash(token: string): string {
    return createHash('sha256').update(token).digest('hex');
  },

  isWellFormed(token: unknown): token is string {
    return typeof token === 'string' && TOKEN_PATTERN.test(token);
  },
};

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 16 random bytes, base64url (22 characters): unguessable and URL-safe, though not secret. */
export function newClientId(): string {
  return randomBytes(16).toString('base64url');
}

/** 32 random bytes (256 bits), base64url (43 characters). */
export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * SHA-256, hex. Passwords need a slow hash because people pick guessable ones; a secret of 256
 * random bits cannot be guessed from its hash however fast the hash is, so a slow one would add
 * no safety, only cost: every feed connection and introspection call checks a secret, and a
 * slow hash would hand anyone able to send a Basic header a cheap way to burn our CPU.
 */
export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A hash no secret has in practice: an unknown client_id is compared against it, so it costs the same. */
const DUMMY_HASH = hashClientSecret(randomBytes(32).toString('base64url'));

/** Whether `secret` hashes to `storedHash` (no stored hash: compared with a dummy, then false); constant time. */
export function clientSecretMatches(secret: string, storedHash: string | undefined): boolean {
  const presented = Buffer.from(hashClientSecret(secret), 'hex');
  const stored = Buffer.from(storedHash ?? DUMMY_HASH, 'hex');
  // Both are 32 bytes unless a row was tampered with; timingSafeEqual throws on a length mismatch.
  const equal = stored.length === presented.length && timingSafeEqual(presented, stored);
  return equal && storedHash !== undefined;
}

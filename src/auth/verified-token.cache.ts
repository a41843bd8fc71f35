import type { AccessTokenClaims } from './access-token.service.js';

/**
 * ~10k live tokens per instance (under 10 MB); beyond that the oldest entries go and are
 * verified again.
 */
const MAX_ENTRIES = 10_000;

/**
 * Entries are found by the token's last characters (its signature's end) and then compared whole.
 * A Map keyed by the whole token hashed all ~800 characters of the header's fresh string on every
 * request (2.5 % of GET /auth/me's CPU); the tail is as unique among real tokens, and a token
 * crafted to share one finds the entry but not a match, so it is verified like any unknown token.
 */
const KEY_LENGTH = 32;

interface Entry {
  token: string;
  claims: AccessTokenClaims;
}

/**
 * Access tokens whose signature, issuer and type were already verified, until their `exp`. A
 * client sends the same token on every request for its lifetime, so the signature check runs once
 * per token instead of once per request. The session check still runs on every request: a revoked
 * session's token is refused whether cached or not.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  get(token: string, now = Date.now()): AccessTokenClaims | undefined {
    const key = token.slice(-KEY_LENGTH);
    const entry = this.entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    if (entry.claims.exp * 1000 <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.claims;
  }

  set(token: string, claims: AccessTokenClaims): void {
    const key = token.slice(-KEY_LENGTH);
    if (!this.entries.has(key) && this.entries.size >= MAX_ENTRIES) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    // Only what the guard needs: a small object per entry.
    const { sub, sid, jti, exp, iat, iss, aud, roles, auth_time, amr, scope } = claims;
    this.entries.set(key, {
      token,
      claims: { sub, sid, jti, exp, iat, iss, aud, roles, auth_time, amr, ...(scope ? { scope } : {}) },
    });
  }
}

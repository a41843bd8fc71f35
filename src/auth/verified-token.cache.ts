import type { AccessTokenClaims } from './access-token.service.js';

/**
 * ~10k live tokens per instance (under 10 MB); beyond that the oldest entries go and are
 * verified again. Keyed by the whole token: hashing it per request cost more than the lookup.
 */
const MAX_ENTRIES = 10_000;

/**
 * Access tokens whose signature, issuer and type were already verified, keyed by the exact token
 * string, until their `exp`. A client sends the same token on every request for its lifetime, so
 * the signature check runs once per token instead of once per request. The session check still
 * runs on every request: a revoked session's token is refused whether cached or not.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, AccessTokenClaims>();

  get(token: string, now = Date.now()): AccessTokenClaims | undefined {
    const claims = this.entries.get(token);
    if (!claims) return undefined;
    if (claims.exp * 1000 <= now) {
      this.entries.delete(token);
      return undefined;
    }
    return claims;
  }

  set(token: string, claims: AccessTokenClaims): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    // Only what the guard needs: a small object per entry.
    const { sub, sid, jti, exp, iat, iss, aud, roles, auth_time, amr, scope } = claims;
    this.entries.set(token, { sub, sid, jti, exp, iat, iss, aud, roles, auth_time, amr, ...(scope ? { scope } : {}) });
  }
}

/**
 * How long after a session revocation an access token of that session may still have been
 * issued. A token is signed after its request found the session live, so one whose check came
 * just before the revocation committed is signed a moment after it: at most the rest of a
 * request (a cut-off's wait of up to 1 s, a key re-read, a busy database), plus the clock
 * difference between the instance that revoked and the one that signed (keys.service.ts allows
 * 5 s). A minute covers all of it; entries only stay a minute longer in the feed for it.
 */
export const SIGNING_MARGIN_S = 60;

/**
 * `until` of a session revoked at `nowMs`: the latest `exp` any of its access tokens can have.
 * Each is capped at ACCESS_TOKEN_TTL after its `iat` and at the session's end (AccessTokenService),
 * and none is issued after the revocation but for the signing margin.
 */
export function sessionRevocationUntil(nowMs: number, sessionExpiresAtMs: number, accessTokenTtl: number): number {
  return Math.min(Math.floor(nowMs / 1000) + accessTokenTtl, Math.floor(sessionExpiresAtMs / 1000)) + SIGNING_MARGIN_S;
}

/**
 * `until` of a user's cut-off at `notBefore` (epoch s): it affects exactly the tokens with an
 * earlier `iat`, so at most `notBefore - 1`, which expire ACCESS_TOKEN_TTL later at the latest.
 * A token signed late carries its late `iat` and is not affected, but resource servers accept a
 * token until its `exp` plus their clock tolerance (the kit: 5 s by default), and their clocks
 * may lag ours: the same margin as sessions keeps the entry until none of them can.
 */
export function cutOffRevocationUntil(notBefore: number, accessTokenTtl: number): number {
  return notBefore - 1 + accessTokenTtl + SIGNING_MARGIN_S;
}

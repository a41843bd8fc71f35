import { describe, expect, it } from '@jest/globals';
import { cutOffRevocationUntil, sessionRevocationUntil, SIGNING_MARGIN_S } from './revocation-horizon.js';

const TTL = 3600;

describe('revocation horizons (`until`)', () => {
  it('a session: the latest exp of a token signed up to the revocation, plus the signing margin', () => {
    const now = 1_764_925_200_500;
    const farEnd = now + 30 * 86_400_000;
    // A token signed in the same second as the revocation: iat = floor(now), exp = iat + TTL.
    expect(sessionRevocationUntil(now, farEnd, TTL)).toBe(Math.floor(now / 1000) + TTL + SIGNING_MARGIN_S);
  });

  it("a session ending sooner: no token outlives the session's end (AccessTokenService caps exp there)", () => {
    const now = 1_764_925_200_000;
    const end = now + 600_500;
    expect(sessionRevocationUntil(now, end, TTL)).toBe(Math.floor(end / 1000) + SIGNING_MARGIN_S);
  });

  it("a cut-off: the tokens issued before notBefore, whose exp is at most notBefore - 1 + TTL, plus the margin for verifiers' clocks", () => {
    expect(cutOffRevocationUntil(1_764_925_201, TTL)).toBe(1_764_925_200 + TTL + SIGNING_MARGIN_S);
  });
});

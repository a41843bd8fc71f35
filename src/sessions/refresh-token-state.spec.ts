import { describe, expect, it } from '@jest/globals';
import {
  isBeyondGrant,
  isExpired,
  isGraceRetry,
  isReuse,
  isRotated,
  isSessionExpired,
  isSessionRevoked,
  type RefreshTokenState,
  type RotatedChild,
} from './refresh-token-state.js';

const T0 = Date.UTC(2031, 0, 1);
const GRACE = 10_000;

/** A current token of a live session, at T0; `child` makes it a rotated one (rotated at T0). */
function state(
  overrides: {
    session?: Partial<RefreshTokenState['session']>;
    token?: Partial<RefreshTokenState['token']>;
    child?: Partial<RotatedChild>;
  } = {},
): RefreshTokenState {
  return {
    token: { id: 't', expiresAt: T0 + 60_000, ...overrides.token },
    session: {
      id: 's',
      userId: 'u',
      createdAt: T0 - 60_000,
      expiresAt: T0 + 3_600_000,
      revokedAt: null,
      scope: null,
      ...overrides.session,
    },
    child: overrides.child
      ? {
          id: 'c',
          createdAt: T0,
          expiresAt: T0 + 60_000,
          nonce: 'n',
          tokenHash: 'h',
          rotated: false,
          ...overrides.child,
        }
      : null,
  };
}

describe('RefreshTokenState predicates', () => {
  describe('isSessionRevoked', () => {
    it('is true once the session has a revocation time, whatever its tokens', () => {
      expect(isSessionRevoked(state())).toBe(false);
      expect(isSessionRevoked(state({ session: { revokedAt: T0 } }))).toBe(true);
      expect(isSessionRevoked(state({ session: { revokedAt: 0 } }))).toBe(true);
    });
  });

  describe('isSessionExpired', () => {
    it('is true from the session’s absolute end on', () => {
      const s = state({ session: { expiresAt: T0 + 5 } });
      expect(isSessionExpired(s, T0 + 4)).toBe(false);
      expect(isSessionExpired(s, T0 + 5)).toBe(true);
    });
  });

  describe('isRotated', () => {
    it('is true when a child points at the token', () => {
      expect(isRotated(state())).toBe(false);
      expect(isRotated(state({ child: {} }))).toBe(true);
    });
  });

  describe('isExpired', () => {
    it('is true from the token’s idle expiry on', () => {
      const s = state({ token: { expiresAt: T0 + 5 } });
      expect(isExpired(s, T0 + 4)).toBe(false);
      expect(isExpired(s, T0 + 5)).toBe(true);
    });
  });

  describe('isGraceRetry', () => {
    it('is true for a rotated token presented again within the window while its child is current', () => {
      expect(isGraceRetry(state({ child: {} }), T0 + GRACE, GRACE)).toBe(true);
    });

    it('is false for a token not rotated yet', () => {
      expect(isGraceRetry(state(), T0, GRACE)).toBe(false);
    });

    it('is false with no grace window (REFRESH_REUSE_GRACE=0)', () => {
      expect(isGraceRetry(state({ child: {} }), T0, 0)).toBe(false);
    });

    it('is false 1 ms after the window closes', () => {
      expect(isGraceRetry(state({ child: {} }), T0 + GRACE + 1, GRACE)).toBe(false);
    });

    it('is false once the child was itself rotated (it is no longer the current token)', () => {
      expect(isGraceRetry(state({ child: { rotated: true } }), T0 + 1, GRACE)).toBe(false);
    });

    it('is false once the child has expired', () => {
      expect(isGraceRetry(state({ child: { expiresAt: T0 + 1 } }), T0 + 1, GRACE)).toBe(false);
    });

    it('is false for a child without a nonce (it could not be derived again)', () => {
      expect(isGraceRetry(state({ child: { nonce: null } }), T0 + 1, GRACE)).toBe(false);
    });
  });

  describe('isReuse', () => {
    it('is true for a rotated token presented outside the grace window', () => {
      expect(isReuse(state({ child: {} }), T0 + GRACE + 1, GRACE)).toBe(true);
      expect(isReuse(state({ child: {} }), T0, 0)).toBe(true);
      expect(isReuse(state({ child: { rotated: true } }), T0 + 1, GRACE)).toBe(true);
    });

    it('is false for a current token and for a grace retry', () => {
      expect(isReuse(state(), T0, GRACE)).toBe(false);
      expect(isReuse(state({ child: {} }), T0 + 1, GRACE)).toBe(false);
    });
  });

  describe('isBeyondGrant', () => {
    const granted = state({ session: { scope: 'notes:read notes:write' } });

    it('is false for the whole grant (nothing requested), a subset or all of it', () => {
      expect(isBeyondGrant(granted, undefined)).toBe(false);
      expect(isBeyondGrant(granted, ['notes:write'])).toBe(false);
      expect(isBeyondGrant(granted, ['notes:write', 'notes:read'])).toBe(false);
    });

    it('is true for any scope the session was not granted', () => {
      expect(isBeyondGrant(granted, ['notes:read', 'admin'])).toBe(true);
      expect(isBeyondGrant(state(), ['notes:read'])).toBe(true);
    });
  });
});

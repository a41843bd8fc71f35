/**
 * Everything the rotation decides on for one presented refresh token: the token, its session,
 * and the child it was rotated into, if any (loaded in one query by RefreshTokenRepository).
 */
export interface RefreshTokenState {
  token: { id: string; expiresAt: number };
  /** `scope`: the session's grant, normalised and space-separated; null for none. */
  session: {
    id: string;
    userId: string;
    createdAt: number;
    expiresAt: number;
    revokedAt: number | null;
    scope: string | null;
  };
  /** The token's successor; null while the token is current. */
  child: RotatedChild | null;
}

export interface RotatedChild {
  id: string;
  createdAt: number;
  expiresAt: number;
  /** Null for a first token; a child always has one (it is derived from its parent with it). */
  nonce: string | null;
  tokenHash: string;
  /** The child was itself rotated already: it is no longer the session's current token. */
  rotated: boolean;
}

/** A state whose token was rotated into a child that a retry can be handed again. */
export type GraceRetryState = RefreshTokenState & { child: RotatedChild & { nonce: string } };

/** The session was revoked (logout, reuse, password change…): none of its tokens is worth anything. */
export function isSessionRevoked(state: RefreshTokenState): boolean {
  return state.session.revokedAt !== null;
}

/** The session is past its absolute end (SESSION_MAX_AGE). */
export function isSessionExpired(state: RefreshTokenState, now: number): boolean {
  return state.session.expiresAt <= now;
}

/** The token was used already: a child points at it. */
export function isRotated(state: RefreshTokenState): boolean {
  return state.child !== null;
}

/** The token is past its idle expiry (REFRESH_TOKEN_TTL). */
export function isExpired(state: RefreshTokenState, now: number): boolean {
  return state.token.expiresAt <= now;
}

/**
 * A used token presented again within `graceMs` of its rotation while its child is still the
 * session's current, unexpired token: a client retrying after it lost the response. It gets that
 * same child back (if the child really derives from the presented token; see the rotation).
 */
export function isGraceRetry(state: RefreshTokenState, now: number, graceMs: number): state is GraceRetryState {
  const child = state.child;
  return (
    graceMs > 0 &&
    child !== null &&
    child.nonce !== null &&
    now - child.createdAt <= graceMs &&
    !child.rotated &&
    child.expiresAt > now
  );
}

/**
 * A refresh asking for scope the session was not granted (RFC 6749 §6: a refresh may narrow the
 * grant, never widen it). `requested` undefined asks for the whole grant.
 */
export function isBeyondGrant(state: RefreshTokenState, requested: readonly string[] | undefined): boolean {
  if (!requested) return false;
  const granted = state.session.scope?.split(' ') ?? [];
  return requested.some((token) => !granted.includes(token));
}

/** A used token presented again outside the grace window: two parties hold it, so the session must end. */
export function isReuse(state: RefreshTokenState, now: number, graceMs: number): boolean {
  return isRotated(state) && !isGraceRetry(state, now, graceMs);
}

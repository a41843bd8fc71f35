export type RefreshRejection = 'malformed' | 'unknown' | 'expired' | 'session_expired' | 'revoked' | 'reused';

/** A refresh token that cannot be used; the controller turns it into 401 (or OAuth invalid_grant). */
export class InvalidRefreshTokenError extends Error {
  override name = 'InvalidRefreshTokenError';

  constructor(readonly reason: RefreshRejection) {
    super(`Refresh token rejected: ${reason}`);
  }
}

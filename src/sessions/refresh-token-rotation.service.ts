import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AuditService } from '../audit/audit.service.js';
import type { ClientInfo } from '../common/http/client-info.js';
import type { AppConfig, AuthConfig } from '../config/app-config.js';
import { KeysService } from '../keys/keys.service.js';
import { InvalidScopeError } from '../common/scope.js';
import { InvalidRefreshTokenError } from './invalid-refresh-token.error.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { RefreshTokenRepository } from './refresh-token.repository.js';
import {
  isBeyondGrant,
  isExpired,
  isGraceRetry,
  isReuse,
  isRotated,
  isSessionExpired,
  isSessionRevoked,
  type GraceRetryState,
  type RefreshTokenState,
} from './refresh-token-state.js';
import { SessionRepository } from './session.repository.js';
import { SessionsService, type IssuedRefreshToken } from './sessions.service.js';

/** Rotation, the grace window and reuse detection: the one place that decides what a refresh token is worth. */
@Injectable()
export class RefreshTokenRotationService {
  private readonly auth: AuthConfig;

  constructor(
    private readonly tokens: RefreshTokenRepository,
    private readonly sessionRepository: SessionRepository,
    private readonly keys: KeysService,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  /**
   * Uses up a refresh token and returns its successor in the same session.
   * Exactly one of several concurrent calls with the same token rotates it; the others take the
   * replay path: the same child inside the grace window, otherwise reuse detection.
   * `requestedScope` (tokens) beyond the session's grant throws InvalidScopeError and leaves the
   * presented token as it was; the caller issues the narrower access token (RFC 6749 §6).
   */
  async rotate(
    presented: unknown,
    client: ClientInfo = {},
    now = Date.now(),
    requestedScope?: readonly string[],
  ): Promise<IssuedRefreshToken> {
    if (!codec.isWellFormed(presented)) throw new InvalidRefreshTokenError('malformed');
    const state = await this.tokens.findTokenState(codec.hash(presented));
    if (!state) throw new InvalidRefreshTokenError('unknown');
    return this.decide(presented, state, client, now, requestedScope);
  }

  /** What the presented token is worth, one rule per line. */
  private async decide(
    presented: string,
    state: RefreshTokenState,
    client: ClientInfo,
    now: number,
    requestedScope?: readonly string[],
  ): Promise<IssuedRefreshToken> {
    const graceMs = this.auth.refreshReuseGrace * 1000;
    if (isSessionRevoked(state)) throw new InvalidRefreshTokenError('revoked');
    if (isSessionExpired(state, now)) throw new InvalidRefreshTokenError('session_expired');
    // A child that does not derive from the presented token is no retry of it: reuse.
    if (isGraceRetry(state, now, graceMs)) {
      const child = this.derivedChild(presented, state);
      if (child === undefined) return this.reuse(state, client, now);
      if (isBeyondGrant(state, requestedScope)) throw beyondGrant();
      return this.retry(state, child, now);
    }
    if (isReuse(state, now, graceMs)) return this.reuse(state, client, now);
    if (isExpired(state, now)) throw new InvalidRefreshTokenError('expired');
    if (isBeyondGrant(state, requestedScope)) throw beyondGrant();
    return this.rotateCurrent(presented, state, client, now, requestedScope);
  }

  /** The token is the session's current one: derive its child and store it, unless a concurrent call did first. */
  private async rotateCurrent(
    presented: string,
    state: RefreshTokenState,
    client: ClientInfo,
    now: number,
    requestedScope: readonly string[] | undefined,
  ): Promise<IssuedRefreshToken> {
    const nonce = codec.newNonce();
    const token = codec.deriveChild(presented, nonce, this.keys.refreshTokenMacKey());
    const expiresAt = Math.min(now + this.auth.refreshTokenTtl * 1000, state.session.expiresAt);
    const child = {
      id: randomUUID(),
      sessionId: state.session.id,
      parentId: state.token.id,
      tokenHash: codec.hash(token),
      nonce,
      createdAt: now,
      expiresAt,
    };
    if (await this.sessionRepository.rotate(child)) return this.issued(state, token, expiresAt);
    // A concurrent request rotated this token first: decide again on what it stored (a replay).
    const current = await this.tokens.findTokenState(codec.hash(presented));
    if (!current || !isRotated(current))
      throw new Error('The refresh token could not be rotated, and no concurrent rotation explains it');
    return this.decide(presented, current, client, now, requestedScope);
  }

  /** The rotated child, when it really derives from the presented token; undefined otherwise (then it is reuse). */
  private derivedChild(presented: string, state: GraceRetryState): string | undefined {
    const child = codec.deriveChild(presented, state.child.nonce, this.keys.refreshTokenMacKey());
    return codec.hash(child) === state.child.tokenHash ? child : undefined;
  }

  /** The same child again, for a client retrying a refresh whose answer it lost. */
  private async retry(state: GraceRetryState, child: string, now: number): Promise<IssuedRefreshToken> {
    await this.sessionRepository.touch(state.session.id, now);
    return this.issued(state, child, state.child.expiresAt);
  }

  /** Two parties hold the token: the whole session is revoked (audited once), and the token refused. */
  private async reuse(state: RefreshTokenState, client: ClientInfo, now: number): Promise<never> {
    if (await this.sessions.revoke(state.session.id, 'refresh_token_reuse', now)) {
      await this.audit.record('refresh_token_reuse', {
        userId: state.session.userId,
        sessionId: state.session.id,
        ip: client.ip,
        userAgent: client.userAgent,
        detail: { sessionRevoked: true },
      });
    }
    throw new InvalidRefreshTokenError('reused');
  }

  private issued(state: RefreshTokenState, token: string, expiresAt: number): IssuedRefreshToken {
    return {
      userId: state.session.userId,
      sessionId: state.session.id,
      token,
      expiresAt,
      sessionExpiresAt: state.session.expiresAt,
      // A session is only ever started by a password login, so its creation is that login.
      authTime: state.session.createdAt,
      scope: state.session.scope,
    };
  }
}

function beyondGrant(): InvalidScopeError {
  return new InvalidScopeError('The requested scope exceeds the scope granted to this session');
}

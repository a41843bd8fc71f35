import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig, AuthConfig } from '../config/app-config.js';
import { Sql } from '../database/sql.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { KeysService } from '../keys/keys.service.js';
import { InvalidRefreshTokenError } from './invalid-refresh-token.error.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { SessionsService, type ClientInfo, type IssuedRefreshToken } from './sessions.service.js';
import { INSERT_TOKEN, LOAD_TOKEN_STATE, TOUCH_SESSION } from './sessions.sql.js';

/** A presented token, its session, and the child it was rotated into (if any). */
interface TokenState {
  tokenId: string;
  tokenExpiresAt: number;
  sessionId: string;
  userId: string;
  sessionExpiresAt: number;
  sessionRevokedAt: number | null;
  childId: string | null;
  childCreatedAt: number | null;
  childExpiresAt: number | null;
  childNonce: string | null;
  childTokenHash: string | null;
  grandchildId: string | null;
}

/** Rotation, the grace window and reuse detection: the one place that decides what a refresh token is worth. */
@Injectable()
export class RefreshTokenRotation {
  private readonly auth: AuthConfig;

  constructor(
    private readonly sql: Sql,
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
   */
  async rotate(presented: unknown, client: ClientInfo = {}, now = Date.now()): Promise<IssuedRefreshToken> {
    if (!codec.isWellFormed(presented)) throw new InvalidRefreshTokenError('malformed');
    const state = await this.load(presented);
    if (!state) throw new InvalidRefreshTokenError('unknown');
    this.assertSessionLive(state, now);
    if (state.childId) return this.replay(presented, state, client, now);
    if (state.tokenExpiresAt <= now) throw new InvalidRefreshTokenError('expired');

    const nonce = codec.newNonce();
    const token = codec.deriveChild(presented, nonce, this.keys.refreshTokenMacKey());
    const expiresAt = Math.min(now + this.auth.refreshTokenTtl * 1000, state.sessionExpiresAt);
    try {
      // The unique index on parent_id is the compare-and-set: one child per token, ever. The
      // session's last use is recorded in the same transaction.
      await this.sql.transaction([
        [INSERT_TOKEN, [randomUUID(), state.sessionId, state.tokenId, codec.hash(token), nonce, now, expiresAt]],
        [TOUCH_SESSION, [now, state.sessionId]],
      ]);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // A concurrent request rotated this token first: answer as for any replay.
      const current = await this.load(presented);
      if (!current?.childId) throw error;
      this.assertSessionLive(current, now);
      return this.replay(presented, current, client, now);
    }
    return { userId: state.userId, sessionId: state.sessionId, token, expiresAt, sessionExpiresAt: state.sessionExpiresAt };
  }

  /**
   * The presented token was already rotated. Inside the grace window, and while its child is
   * still the session's current token, hand back that same child (a retry after a lost
   * response). Anything else means two parties hold the token: revoke the whole session.
   */
  private async replay(presented: string, state: TokenState, client: ClientInfo, now: number): Promise<IssuedRefreshToken> {
    const graceMs = this.auth.refreshReuseGrace * 1000;
    const inGrace =
      graceMs > 0 &&
      state.childCreatedAt !== null &&
      now - state.childCreatedAt <= graceMs &&
      state.grandchildId === null &&
      state.childExpiresAt !== null &&
      state.childExpiresAt > now &&
      state.childNonce !== null;
    if (inGrace) {
      const child = codec.deriveChild(presented, state.childNonce!, this.keys.refreshTokenMacKey());
      if (codec.hash(child) === state.childTokenHash) {
        await this.touch(state.sessionId, now);
        return { userId: state.userId, sessionId: state.sessionId, token: child, expiresAt: state.childExpiresAt!, sessionExpiresAt: state.sessionExpiresAt };
      }
    }
    if (await this.sessions.revoke(state.sessionId, 'refresh_token_reuse', now)) {
      await this.audit.record('refresh_token_reuse', {
        userId: state.userId,
        sessionId: state.sessionId,
        ip: client.ip,
        userAgent: client.userAgent,
        detail: { sessionRevoked: true },
      });
    }
    throw new InvalidRefreshTokenError('reused');
  }

  private assertSessionLive(state: TokenState, now: number): void {
    if (state.sessionRevokedAt !== null) throw new InvalidRefreshTokenError('revoked');
    if (state.sessionExpiresAt <= now) throw new InvalidRefreshTokenError('session_expired');
  }

  private async touch(sessionId: string, now: number): Promise<void> {
    await this.sql.run(TOUCH_SESSION, [now, sessionId]);
  }

  private async load(token: string): Promise<TokenState | null> {
    const row = await this.sql.one<Record<string, string | number | null>>(LOAD_TOKEN_STATE, [codec.hash(token)]);
    if (!row) return null;
    const num = (v: string | number | null) => (v === null ? null : Number(v));
    const str = (v: string | number | null) => (v === null ? null : String(v));
    return {
      tokenId: String(row.token_id),
      tokenExpiresAt: Number(row.token_expires_at),
      sessionId: String(row.session_id),
      userId: String(row.user_id),
      sessionExpiresAt: Number(row.session_expires_at),
      sessionRevokedAt: num(row.session_revoked_at),
      childId: str(row.child_id),
      childCreatedAt: num(row.child_created_at),
      childExpiresAt: num(row.child_expires_at),
      childNonce: str(row.child_nonce),
      childTokenHash: str(row.child_token_hash),
      grandchildId: str(row.grandchild_id),
    };
  }
}

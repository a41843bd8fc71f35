import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, MoreThan, Not, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { AuthConfig, AppConfig } from '../config/app-config.js';
import { Sql } from '../database/sql.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { KeysService } from '../keys/keys.service.js';
import { InvalidRefreshTokenError } from './invalid-refresh-token.error.js';
import { RefreshToken } from './refresh-token.entity.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { SessionRevocationBus } from './session-revocation.bus.js';
import { SessionStateCache } from './session-state.cache.js';
import { Session, type SessionRevokeReason } from './session.entity.js';

export interface ClientInfo {
  userAgent?: string | null;
  ip?: string | null;
}

/** What the client receives for a session: the raw refresh token (never stored) and its expiry. */
export interface IssuedRefreshToken {
  userId: string;
  sessionId: string;
  token: string;
  expiresAt: number;
}

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

/** A presented token, its session, its child and grandchild (if rotated): everything rotate() decides on. */
const LOAD_TOKEN_STATE = `
  SELECT t.id AS token_id, t.expires_at AS token_expires_at, t.session_id AS session_id,
         s.user_id AS user_id, s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at,
         c.id AS child_id, c.created_at AS child_created_at, c.expires_at AS child_expires_at,
         c.nonce AS child_nonce, c.token_hash AS child_token_hash, g.id AS grandchild_id
    FROM refresh_tokens t
    JOIN sessions s ON s.id = t.session_id
    LEFT JOIN refresh_tokens c ON c.parent_id = t.id
    LEFT JOIN refresh_tokens g ON g.parent_id = c.id
   WHERE t.token_hash = ?`;

const INSERT_SESSION = `
  INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, ip)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const INSERT_TOKEN = `
  INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, nonce, created_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

const TOUCH_SESSION = 'UPDATE sessions SET last_used_at = ? WHERE id = ?';

/** Issues, rotates and revokes sessions and their refresh tokens. */
@Injectable()
export class SessionsService {
  private readonly auth: AuthConfig;

  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>,
    private readonly keys: KeysService,
    private readonly sql: Sql,
    private readonly state: SessionStateCache,
    private readonly bus: SessionRevocationBus,
    private readonly audit: AuditService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  /** Starts a session for a user who just proved their password. */
  async create(userId: string, client: ClientInfo, now = Date.now()): Promise<IssuedRefreshToken> {
    const session: Session = {
      id: randomUUID(),
      userId,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + this.auth.sessionMaxAge * 1000,
      revokedAt: null,
      revokedReason: null,
      userAgent: client.userAgent?.slice(0, 512) || null,
      ip: client.ip?.slice(0, 64) || null,
    };
    const token = codec.generate();
    const expiresAt = Math.min(now + this.auth.refreshTokenTtl * 1000, session.expiresAt);
    // One transaction: a crash can never leave a session without its first token.
    await this.sql.transaction([
      [
        INSERT_SESSION,
        [session.id, userId, now, now, session.expiresAt, null, null, session.userAgent, session.ip],
      ],
      [INSERT_TOKEN, [randomUUID(), session.id, null, codec.hash(token), null, now, expiresAt]],
    ]);
    return { userId, sessionId: session.id, token, expiresAt };
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
    return { userId: state.userId, sessionId: state.sessionId, token, expiresAt };
  }

  /**
   * Revokes the session a refresh token (current or already rotated) belongs to. Returns the
   * session when this call revoked it; undefined when unknown or already revoked.
   */
  async revokeByToken(
    presented: unknown,
    reason: SessionRevokeReason = 'logout',
  ): Promise<{ sessionId: string; userId: string } | undefined> {
    if (!codec.isWellFormed(presented)) return undefined;
    const row = await this.tokens
      .createQueryBuilder('t')
      .innerJoin(Session, 's', 's.id = t.session_id')
      .select('s.id', 'session_id')
      .addSelect('s.user_id', 'user_id')
      .where('t.token_hash = :hash', { hash: codec.hash(presented) })
      .getRawOne<{ session_id: string; user_id: string }>();
    if (!row || !(await this.revoke(row.session_id, reason))) return undefined;
    return { sessionId: row.session_id, userId: row.user_id };
  }

  /** Marks a session revoked; returns false when it was already revoked or does not exist. */
  async revoke(sessionId: string, reason: SessionRevokeReason, now = Date.now()): Promise<boolean> {
    const result = await this.sessions.update(
      { id: sessionId, revokedAt: IsNull() },
      { revokedAt: now, revokedReason: reason },
    );
    if (!result.affected) return false;
    this.state.markRevoked(sessionId);
    await this.bus.sessionRevoked(sessionId);
    return true;
  }

  /** Revokes one of the user's own live sessions; false when it is not theirs, unknown or already dead. */
  async revokeOwn(userId: string, sessionId: string, now = Date.now()): Promise<boolean> {
    const result = await this.sessions.update(
      { id: sessionId, userId, revokedAt: IsNull(), expiresAt: MoreThan(now) },
      { revokedAt: now, revokedReason: 'revoked' },
    );
    if (!result.affected) return false;
    this.state.markRevoked(sessionId);
    await this.bus.sessionRevoked(sessionId);
    return true;
  }

  /** Revokes every live session of a user, except `keepSessionId`; returns how many. */
  async revokeAllForUser(
    userId: string,
    reason: SessionRevokeReason,
    keepSessionId?: string,
    now = Date.now(),
  ): Promise<number> {
    const result = await this.sessions.update(
      { userId, revokedAt: IsNull(), ...(keepSessionId ? { id: Not(keepSessionId) } : {}) },
      { revokedAt: now, revokedReason: reason },
    );
    this.state.markUserRevoked(userId, keepSessionId);
    await this.bus.userRevoked(userId, keepSessionId);
    return result.affected ?? 0;
  }

  /** The user's sessions that can still be refreshed: not revoked, not past either expiry. */
  listActive(userId: string, now = Date.now()): Promise<Session[]> {
    return this.sessions
      .createQueryBuilder('s')
      .where('s.user_id = :userId', { userId })
      .andWhere('s.revoked_at IS NULL')
      .andWhere('s.expires_at > :now', { now })
      .andWhere('EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > :now)', { now })
      .orderBy('s.last_used_at', 'DESC')
      .getMany();
  }

  /**
   * Deletes sessions (and their tokens) that ended more than `retentionMs` ago. Audit events
   * keep their own copy of what matters, so they are not touched.
   */
  async purgeEnded(retentionMs: number, now = Date.now()): Promise<number> {
    const cutoff = now - retentionMs;
    const revoked = await this.sessions.delete({ revokedAt: LessThan(cutoff) });
    const expired = await this.sessions.delete({ expiresAt: LessThan(cutoff) });
    // Sessions abandoned past their idle timeout: no token of theirs is still valid.
    const idle = await this.sessions
      .createQueryBuilder()
      .delete()
      .where('last_used_at < :cutoff', { cutoff })
      .andWhere('NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.expires_at > :cutoff)', { cutoff })
      .execute();
    return (revoked.affected ?? 0) + (expired.affected ?? 0) + (idle.affected ?? 0);
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
        return { userId: state.userId, sessionId: state.sessionId, token: child, expiresAt: state.childExpiresAt! };
      }
    }
    if (await this.revoke(state.sessionId, 'refresh_token_reuse', now)) {
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

import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, MoreThan, Not, Repository } from 'typeorm';
import type { ClientInfo } from '../common/http/client-info.js';
import type { AuthConfig, AppConfig } from '../config/app-config.js';
import { Sql } from '../database/sql.js';
import { RefreshToken } from './refresh-token.entity.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { INSERT_SESSION, INSERT_TOKEN, LIVE_SESSIONS_BEYOND, USER_HAS_PASSWORD_HASH } from './sessions.sql.js';
import { SessionRevocationBus } from './session-revocation.bus.js';
import { SessionStateCache } from './session-state.cache.js';
import { Session, type SessionRevokeReason } from './session.entity.js';

export type { ClientInfo } from '../common/http/client-info.js';

/** What the client receives for a session: the raw refresh token (never stored) and its expiry. */
export interface IssuedRefreshToken {
  userId: string;
  sessionId: string;
  token: string;
  expiresAt: number;
  /** The session's absolute end (SESSION_MAX_AGE): nothing it issues may outlive it. */
  sessionExpiresAt: number;
}


/** Starts, lists, revokes and purges sessions. Rotation lives in RefreshTokenRotation. */
@Injectable()
export class SessionsService {
  private readonly auth: AuthConfig;

  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>,
    private readonly sql: Sql,
    private readonly state: SessionStateCache,
    private readonly bus: SessionRevocationBus,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  /**
   * Starts a session for a user who just proved their password. With `passwordHash` (the hash
   * the password was checked against), the session is created only if the user still has it and
   * undefined is returned otherwise: a login that checked the old password while a password
   * change committed would else outlive the change, which revokes every other session.
   */
  create(userId: string, client: ClientInfo, now?: number): Promise<IssuedRefreshToken>;
  create(userId: string, client: ClientInfo, now: number, passwordHash: string | undefined): Promise<IssuedRefreshToken | undefined>;
  async create(userId: string, client: ClientInfo, now = Date.now(), passwordHash?: string): Promise<IssuedRefreshToken | undefined> {
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
    const created = await this.sql.transaction(
      [
        [INSERT_SESSION, [session.id, userId, now, now, session.expiresAt, null, null, session.userAgent, session.ip]],
        [INSERT_TOKEN, [randomUUID(), session.id, null, codec.hash(token), null, now, expiresAt]],
      ],
      passwordHash === undefined ? undefined : [USER_HAS_PASSWORD_HASH, [userId, passwordHash]],
    );
    return created ? { userId, sessionId: session.id, token, expiresAt, sessionExpiresAt: session.expiresAt } : undefined;
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

  /**
   * The live sessions (not revoked, not past SESSION_MAX_AGE) behind refresh tokens, current or
   * already rotated, one entry per session, in the order first presented; malformed, unknown and
   * dead ones are skipped. One query for all: callers bound how many tokens they pass.
   */
  async liveSessionsOf(presented: unknown[], now = Date.now()): Promise<Array<{ sessionId: string; userId: string }>> {
    const hashes = [...new Set(presented.filter((token) => codec.isWellFormed(token)).map((token) => codec.hash(token)))];
    if (!hashes.length) return [];
    const rows = await this.tokens
      .createQueryBuilder('t')
      .innerJoin(Session, 's', 's.id = t.session_id')
      .select('t.token_hash', 'token_hash')
      .addSelect('s.id', 'session_id')
      .addSelect('s.user_id', 'user_id')
      .where('t.token_hash IN (:...hashes)', { hashes })
      .andWhere('s.revoked_at IS NULL')
      .andWhere('s.expires_at > :now', { now })
      .getRawMany<{ token_hash: string; session_id: string; user_id: string }>();
    const byHash = new Map(rows.map((row) => [row.token_hash, row]));
    const sessions = new Map<string, { sessionId: string; userId: string }>();
    for (const hash of hashes) {
      const row = byHash.get(hash);
      if (row && !sessions.has(row.session_id)) sessions.set(row.session_id, { sessionId: row.session_id, userId: row.user_id });
    }
    return [...sessions.values()];
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

  /**
   * Revokes the user's least recently used live sessions beyond MAX_SESSIONS_PER_USER, never
   * `keepSessionId` (the login that just started); returns the ids this call revoked. Each goes
   * through revoke(), so the session-state cache and the other instances hear of it at once.
   * Two logins at the same moment may pick the same victim; the limit is then restored by the
   * next login rather than by a lock here.
   */
  async evictBeyondLimit(userId: string, keepSessionId: string, now = Date.now()): Promise<string[]> {
    const beyond = await this.sql.all<{ id: string }>(LIVE_SESSIONS_BEYOND, [
      userId,
      now,
      keepSessionId,
      now,
      this.auth.maxSessionsPerUser - 1,
    ]);
    const evicted: string[] = [];
    for (const { id } of beyond) if (await this.revoke(id, 'session_limit', now)) evicted.push(id);
    return evicted;
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
}

import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { nativeSql } from '../database/native-sql.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { UnitOfWork, type Statement } from '../database/unit-of-work.js';
import { RevocationEventRepository } from '../revocations/revocation-event.repository.js';
import { UserRepository } from '../users/user.repository.js';
import type { RefreshToken } from './refresh-token.entity.js';
import { RefreshTokenRepository } from './refresh-token.repository.js';
import { Session, type SessionRevokeReason } from './session.entity.js';

/** What an authenticated request needs to know of its session (SessionStateCache). */
export interface SessionStanding {
  userId: string;
  username: string;
  revokedAt: number | null;
  expiresAt: number;
  /** The user's cut-off (ms): access tokens with an earlier `iat` are refused. 0 when none. */
  notBefore: number;
}

/**
 * The revocation feed's `until` (epoch s) for a session revoked now, from its absolute end (ms):
 * see sessionRevocationUntil. The service knows the token lifetime; the repository, the session.
 */
export type RevocationUntil = (sessionExpiresAt: number) => number;

type RevokedRow = { id: string; user_id: string; expires_at: string | number };

/** Live sessions beyond the per-user limit are revoked this many at a time, so a limit lowered by a lot is applied over a few logins. */
const EVICTION_BATCH = 1000;

/**
 * Every query on `sessions`, and the writes that must go with a session's tokens (its creation
 * with the first token, a rotation with the session's last use) as one unit. Revocations are
 * conditional updates: `affected` tells whether this call is the one that revoked.
 */
@Injectable()
export class SessionRepository {
  private readonly sql: {
    insert: string;
    touch: string;
    standing: string;
    liveBeyond: string;
    revoke: string;
    revokeOwn: string;
    revokeAll: string;
  };

  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    private readonly tokens: RefreshTokenRepository,
    private readonly users: UserRepository,
    private readonly revocations: RevocationEventRepository,
    private readonly unitOfWork: UnitOfWork,
  ) {
    const native = (text: string) => nativeSql(sessions.manager.connection, text);
    this.sql = {
      insert: native(`
        INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, ip, scope)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      touch: native('UPDATE sessions SET last_used_at = ? WHERE id = ?'),
      // Joined with its user: a deleted user (cascade) makes the session disappear too.
      // A disabled user's sessions count as ended from the moment of the disable, even if revoking
      // them (a separate step) never happened.
      standing: native(`
        SELECT s.user_id AS user_id, u.username AS username, COALESCE(s.revoked_at, u.disabled_at) AS revoked_at,
               s.expires_at AS expires_at, u.not_before AS not_before
          FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ?`),
      // Idle-expired sessions (no valid token left) are dead already and do not count.
      liveBeyond: native(`
        SELECT s.id AS id FROM sessions s
         WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.id <> ?
           AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > ?)
         ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC
         LIMIT ${EVICTION_BATCH} OFFSET ?`),
      // Conditional: RETURNING names exactly the sessions this statement revoked, for the feed.
      revoke: native(`
        UPDATE sessions SET revoked_at = ?, revoked_reason = ?
         WHERE id = ? AND revoked_at IS NULL
        RETURNING id, user_id, expires_at`),
      revokeOwn: native(`
        UPDATE sessions SET revoked_at = ?, revoked_reason = ?
         WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?
        RETURNING id, user_id, expires_at`),
      revokeAll: native(`
        UPDATE sessions SET revoked_at = ?, revoked_reason = ?
         WHERE user_id = ? AND revoked_at IS NULL AND id <> ?
        RETURNING id, user_id, expires_at`),
    };
  }

  /**
   * Stores a session with its first token, in one transaction (a crash never leaves a session
   * without a token). With `whilePasswordHash`, only while the user still has that password
   * hash; false, and nothing stored, otherwise.
   */
  create(session: Session, firstToken: RefreshToken, whilePasswordHash?: string): Promise<boolean> {
    const { id, userId, createdAt, lastUsedAt, expiresAt, revokedAt, revokedReason, userAgent, ip, scope } = session;
    return this.unitOfWork.commit(
      [
        {
          text: this.sql.insert,
          params: [id, userId, createdAt, lastUsedAt, expiresAt, revokedAt, revokedReason, userAgent, ip, scope],
        },
        this.tokens.insertion(firstToken),
      ],
      whilePasswordHash === undefined ? undefined : this.users.stillHasPasswordHash(userId, whilePasswordHash),
    );
  }

  /**
   * Stores `child` as its parent's successor and records the session's last use, in one
   * transaction. False when the parent has a child already (a concurrent rotation won: the
   * unique index on parent_id decides).
   */
  async rotate(child: RefreshToken): Promise<boolean> {
    try {
      return await this.unitOfWork.commit([
        this.tokens.insertion(child),
        this.touching(child.sessionId, child.createdAt),
      ]);
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Records the session's last use. */
  async touch(sessionId: string, now: number): Promise<void> {
    const { text, params } = this.touching(sessionId, now);
    await this.sessions.query(text, [...params]);
  }

  /** The session's owner, username and standing; undefined when it (or its user) does not exist. */
  async findStanding(sessionId: string): Promise<SessionStanding | undefined> {
    const rows = await this.sessions.query<
      Array<{
        user_id: string;
        username: string;
        revoked_at: string | number | null;
        expires_at: string | number;
        not_before: string | number | null;
      }>
    >(this.sql.standing, [sessionId]);
    const row = rows[0];
    if (!row) return undefined;
    return {
      userId: row.user_id,
      username: row.username,
      revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
      expiresAt: Number(row.expires_at),
      notBefore: Number(row.not_before ?? 0),
    };
  }

  /**
   * Marks a session revoked; false when it was already revoked or does not exist. The revocation
   * feed's entry (RevocationEventRepository) is stored in the same transaction: none is lost.
   */
  async revoke(sessionId: string, reason: SessionRevokeReason, now: number, until: RevocationUntil): Promise<boolean> {
    const revoked = await this.revokeWithEvents(
      { text: this.sql.revoke, params: [now, reason, sessionId] },
      now,
      until,
    );
    return revoked > 0;
  }

  /** Revokes one of the user's live sessions (with its feed entry); false when it is not theirs, unknown or already dead. */
  async revokeOwn(
    userId: string,
    sessionId: string,
    now: number,
    until: RevocationUntil,
    reason: SessionRevokeReason = 'revoked',
  ): Promise<boolean> {
    const revoked = await this.revokeWithEvents(
      { text: this.sql.revokeOwn, params: [now, reason, sessionId, userId, now] },
      now,
      until,
    );
    return revoked > 0;
  }

  /** Revokes every unrevoked session of a user, except `keepSessionId`, with their feed entries; returns how many. */
  revokeAllForUser(
    userId: string,
    reason: SessionRevokeReason,
    keepSessionId: string | undefined,
    now: number,
    until: RevocationUntil,
  ): Promise<number> {
    // '' is no session's id: without one to keep, none is spared.
    return this.revokeWithEvents(
      { text: this.sql.revokeAll, params: [now, reason, userId, keepSessionId ?? ''] },
      now,
      until,
    );
  }

  /**
   * Ids of the user's live sessions other than `keepSessionId`, most recently used first, from
   * the `offset`-th on (at most EVICTION_BATCH): those beyond a limit of `offset + 1`.
   */
  async findLiveIdsBeyond(userId: string, keepSessionId: string, offset: number, now: number): Promise<string[]> {
    const rows = await this.sessions.query<Array<{ id: string }>>(this.sql.liveBeyond, [
      userId,
      now,
      keepSessionId,
      now,
      offset,
    ]);
    return rows.map((row) => row.id);
  }

  /** The user's sessions that can still be refreshed (not revoked, not past either expiry), most recently used first. */
  findActive(userId: string, now: number): Promise<Session[]> {
    return this.sessions
      .createQueryBuilder('s')
      .where('s.user_id = :userId', { userId })
      .andWhere('s.revoked_at IS NULL')
      .andWhere('s.expires_at > :now', { now })
      .andWhere('EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > :now)', { now })
      .orderBy('s.last_used_at', 'DESC')
      .getMany();
  }

  /** The user a session belongs to (live or not); undefined when there is no such session. */
  async findUserIdOf(sessionId: string): Promise<string | undefined> {
    const session = await this.sessions.findOne({ select: { userId: true }, where: { id: sessionId } });
    return session?.userId;
  }

  /**
   * How many sessions each user has that can still be refreshed (as findActive counts them);
   * users without any are absent. One query for all.
   */
  async countActive(userIds: string[], now: number): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (!userIds.length) return counts;
    const rows = await this.sessions
      .createQueryBuilder('s')
      .select('s.user_id', 'user_id')
      .addSelect('COUNT(*)', 'n')
      .where('s.user_id IN (:...userIds)', { userIds })
      .andWhere('s.revoked_at IS NULL')
      .andWhere('s.expires_at > :now', { now })
      .andWhere('EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > :now)', { now })
      .groupBy('s.user_id')
      .getRawMany<{ user_id: string; n: string | number }>();
    for (const row of rows) counts.set(row.user_id, Number(row.n));
    return counts;
  }

  /** Deletes sessions (their tokens cascade) revoked, expired or abandoned before `cutoff`; returns how many. */
  async deleteEndedBefore(cutoff: number): Promise<number> {
    const revoked = await this.sessions.delete({ revokedAt: LessThan(cutoff) });
    const expired = await this.sessions.delete({ expiresAt: LessThan(cutoff) });
    // Abandoned past the idle timeout: no token of theirs is still valid.
    const idle = await this.sessions
      .createQueryBuilder()
      .delete()
      .where('last_used_at < :cutoff', { cutoff })
      .andWhere(
        'NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.expires_at > :cutoff)',
        { cutoff },
      )
      .execute();
    return (revoked.affected ?? 0) + (expired.affected ?? 0) + (idle.affected ?? 0);
  }

  /**
   * Runs a revoking UPDATE … RETURNING and records a feed entry for each session it revoked whose
   * tokens may still be live, in one transaction; returns how many it revoked.
   */
  private async revokeWithEvents(update: Statement, now: number, until: RevocationUntil): Promise<number> {
    const nowSeconds = Math.floor(now / 1000);
    const rows = await this.unitOfWork.returning<RevokedRow>(update, (revoked) =>
      this.revocations.insertions(
        revoked
          .map((row) => ({ sid: row.id, sub: row.user_id, until: until(Number(row.expires_at)) }))
          .filter((event) => event.until > nowSeconds),
        now,
      ),
    );
    return rows.length;
  }

  private touching(sessionId: string, now: number) {
    return { text: this.sql.touch, params: [now, sessionId] };
  }
}

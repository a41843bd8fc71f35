import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, Repository } from 'typeorm';
import type { KeysetCursor } from '../common/keyset-cursor.js';
import { nativeSql } from '../database/native-sql.js';
import { AuditEvent, type AuditEventType } from './audit-event.entity.js';

/** Addresses kept on a repeatable row itself (`ip_sample`), for a reader who does not query the sources. */
export const IP_SAMPLE_SIZE = 10;

/** Which events a listing shows: one user's, one type's, both, or all. */
export interface AuditFilter {
  userId?: string;
  type?: AuditEventType;
}

/**
 * Every query on `audit_events`. Writes are hand-written (one per login, refusal and revocation;
 * the repeatable ones need ON CONFLICT … RETURNING); reads and the purge use the query builder.
 */
@Injectable()
export class AuditEventRepository {
  private readonly sql: {
    insert: string;
    upsertForUsername: string;
    upsert: string;
    upsertForSession: string;
    addRepeats: string;
    countSource: string;
  };

  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {
    const native = (text: string) => nativeSql(events.manager.connection, text);
    this.sql = {
      insert: native(`
        INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      // The WHERE clause also tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
      upsertForUsername: native(`
        INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences, distinct_ips)
        SELECT ?, u.id, NULL, ?, ?, ?, ?, CAST(? AS BIGINT), ?, 1, 0 FROM users u WHERE u.username_normalized = ?
        ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
        RETURNING occurrences`),
      upsert: native(`
        INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences, distinct_ips)
        VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, ?, 1, 0)
        ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
        RETURNING occurrences`),
      upsertForSession: native(`
        INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
        ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
        RETURNING occurrences`),
      addRepeats: native('UPDATE audit_events SET occurrences = occurrences + ? WHERE dedupe_key = ?'),
      countSource: native(`
        UPDATE audit_events SET
          ip_sample = CASE WHEN distinct_ips < ${IP_SAMPLE_SIZE} THEN COALESCE(ip_sample || ',', '') || ? ELSE ip_sample END,
          distinct_ips = distinct_ips + 1
        WHERE dedupe_key = ?`),
    };
  }

  async insert(event: AuditEvent): Promise<void> {
    const { id, userId, sessionId, type, ip, userAgent, detail, createdAt } = event;
    await this.events.query(this.sql.insert, [id, userId, sessionId, type, ip, userAgent, detail, createdAt]);
  }

  /**
   * A repeatable event of the account whose normalized username is given: a new row (`event`,
   * for that account) on the first occurrence of `dedupeKey`, one more on its count after that
   * (the unique key decides, also between instances). Returns the occurrences now counted, or
   * undefined (nothing written) when no such account exists.
   */
  async upsertRepeatableForUsername(
    event: AuditEvent,
    dedupeKey: string,
    usernameNormalized: string,
  ): Promise<number | undefined> {
    const { id, type, ip, userAgent, detail, createdAt } = event;
    const rows = await this.events.query<
      Array<{
        occurrences: number | string;
      }>
    >(this.sql.upsertForUsername, [id, type, ip, userAgent, detail, createdAt, dedupeKey, usernameNormalized]);
    return rows.length ? Number(rows[0].occurrences) : undefined;
  }

  /** The same for an event of no account (e.g. refusals of unknown usernames). */
  async upsertRepeatable(event: AuditEvent, dedupeKey: string): Promise<number> {
    const { id, type, ip, userAgent, detail, createdAt } = event;
    const rows = await this.events.query<
      Array<{
        occurrences: number | string;
      }>
    >(this.sql.upsert, [id, type, ip, userAgent, detail, createdAt, dedupeKey]);
    return Number(rows[0]?.occurrences);
  }

  /** The same for an event of one session (e.g. a refresh_cookie_conflict): its user and session named. */
  async upsertRepeatableForSession(event: AuditEvent, dedupeKey: string): Promise<number> {
    const { id, userId, sessionId, type, ip, userAgent, detail, createdAt } = event;
    const rows = await this.events.query<Array<{ occurrences: number | string }>>(this.sql.upsertForSession, [
      id,
      userId,
      sessionId,
      type,
      ip,
      userAgent,
      detail,
      createdAt,
      dedupeKey,
    ]);
    return Number(rows[0]?.occurrences);
  }

  /** Adds repeats counted elsewhere (in memory) to the row of `dedupeKey`. */
  async addRepeats(dedupeKey: string, repeats: number): Promise<void> {
    await this.events.query(this.sql.addRepeats, [repeats, dedupeKey]);
  }

  /** Counts a client address just listed under the row of `dedupeKey`, and keeps it in the sample while that has room. */
  async countSource(dedupeKey: string, source: string): Promise<void> {
    await this.events.query(this.sql.countSource, [source, dedupeKey]);
  }

  /** Up to `limit` keys of repeatable rows created before `cutoff` that still have sources listed (the purge clears those first). */
  async findKeysWithSourcesBefore(cutoff: number, limit: number): Promise<string[]> {
    const rows = await this.events
      .createQueryBuilder('e')
      .select('e.dedupe_key', 'dedupe_key')
      .where('e.created_at < :cutoff', { cutoff })
      .andWhere('e.dedupe_key IS NOT NULL')
      .andWhere('EXISTS (SELECT 1 FROM audit_event_sources s WHERE s.dedupe_key = e.dedupe_key)')
      .limit(limit)
      .getRawMany<{ dedupe_key: string }>();
    return rows.map((row) => row.dedupe_key);
  }

  /** Deletes up to `batch` events created before `cutoff`; returns how many. */
  async deleteBatchCreatedBefore(cutoff: number, batch: number): Promise<number> {
    const result = await this.events
      .createQueryBuilder()
      .delete()
      .where(`id IN (SELECT id FROM audit_events WHERE created_at < :cutoff LIMIT ${Math.trunc(batch)})`, { cutoff })
      .execute();
    return result.affected ?? 0;
  }

  /**
   * Up to `limit` events matching `filter`, newest first, strictly older than `cursor` when given
   * (a keyset: pages never shift as events are added). A user's events come off the
   * (user_id, created_at, id) index, all users' off (created_at).
   */
  findPage(filter: AuditFilter, limit: number, cursor?: KeysetCursor): Promise<AuditEvent[]> {
    const query = this.events
      .createQueryBuilder('e')
      .orderBy('e.created_at', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .take(limit);
    if (filter.userId !== undefined) query.andWhere('e.user_id = :userId', { userId: filter.userId });
    if (filter.type !== undefined) query.andWhere('e.type = :type', { type: filter.type });
    if (cursor) {
      query.andWhere(
        new Brackets((q) =>
          q
            .where('e.created_at < :at', { at: cursor.at })
            .orWhere('e.created_at = :at AND e.id < :id', { id: cursor.id }),
        ),
      );
    }
    return query.getMany();
  }
}

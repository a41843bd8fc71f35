import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { nativeSql } from '../database/native-sql.js';
import type { Statement } from '../database/unit-of-work.js';
import { RevocationEvent } from './revocation-event.entity.js';

/** An entry to record: a session (`sid`) or a user's cut-off (`notBefore`, epoch s). */
export type NewRevocationEvent =
  | { sid: string; sub: string; notBefore?: undefined; until: number }
  | { sid?: undefined; sub: string; notBefore: number; until: number };

/**
 * PostgreSQL advisory lock taken by every transaction that records entries, right before it
 * inserts them. A sequence hands out ids in call order, not commit order: without the lock, id 11
 * could commit before id 10, a reader could pass 11, and 10 would never be read. Holding it
 * until commit makes ids visible in order. It is taken last, after the transaction's other
 * writes, so it is held only for the inserts and the commit, and a transaction waiting for it
 * never blocks its holder. (SQLite has one writer at a time: ids commit in order already.)
 */
const FEED_ORDER_LOCK = 0x6e7461726576; // "ntarev"

type Row = {
  id: string | number;
  sid: string | null;
  sub: string;
  not_before: string | number | null;
  live_until: string | number;
  created_at: string | number;
};

/** Every statement on `revocation_events`. */
@Injectable()
export class RevocationEventRepository {
  private readonly postgres: boolean;
  private readonly sql: { insert: string; lock: string; after: string; head: string };

  constructor(@InjectRepository(RevocationEvent) private readonly events: Repository<RevocationEvent>) {
    const native = (text: string) => nativeSql(events.manager.connection, text);
    this.postgres = events.manager.connection.options.type === 'postgres';
    this.sql = {
      insert: native(
        'INSERT INTO revocation_events (sid, sub, not_before, live_until, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      lock: native('SELECT pg_advisory_xact_lock(?)'),
      after: native(`
        SELECT id, sid, sub, not_before, live_until, created_at FROM revocation_events
         WHERE id > ? AND live_until > ?
         ORDER BY id
         LIMIT ?`),
      head: 'SELECT MAX(id) AS head FROM revocation_events',
    };
  }

  /**
   * The statements that record `events`, for the caller's unit of work, so an entry is stored if
   * and only if the revocation it reports is. Empty when there is nothing to record.
   */
  insertions(events: readonly NewRevocationEvent[], now: number): Statement[] {
    if (!events.length) return [];
    const inserts = events.map((event) => ({
      text: this.sql.insert,
      params: [event.sid ?? null, event.sub, event.notBefore ?? null, event.until, now],
    }));
    return this.postgres ? [{ text: this.sql.lock, params: [String(FEED_ORDER_LOCK)] }, ...inserts] : inserts;
  }

  /**
   * Entries after the cursor `after`, oldest first, at most `limit`; with `liveAt` (epoch s), only
   * those whose `until` is later.
   */
  async findAfter(after: number, limit: number, liveAt = 0): Promise<RevocationEvent[]> {
    const rows = await this.events.query<Row[]>(this.sql.after, [after, liveAt, limit]);
    return rows.map((row) => ({
      id: Number(row.id),
      sid: row.sid,
      sub: row.sub,
      notBefore: row.not_before === null ? null : Number(row.not_before),
      until: Number(row.live_until),
      createdAt: Number(row.created_at),
    }));
  }

  /** The highest id ever handed out that is still stored (the purge keeps it); 0 when none. */
  async head(): Promise<number> {
    const rows = await this.events.query<Array<{ head: string | number | null }>>(this.sql.head);
    return Number(rows[0]?.head ?? 0);
  }

  /** Deletes entries whose `until` (epoch s) is not after `nowSeconds`, except the newest; returns how many. */
  async deleteExpired(nowSeconds: number): Promise<number> {
    const result = await this.events
      .createQueryBuilder()
      .delete()
      .where('live_until <= :nowSeconds', { nowSeconds })
      // The newest entry stays even when expired: the highest id is how a cursor from the future
      // (another database, a restored backup) is recognised (see RevocationFeedService).
      .andWhere('id < (SELECT MAX(id) FROM revocation_events)')
      .execute();
    return result.affected ?? 0;
  }
}

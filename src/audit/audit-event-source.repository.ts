import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { nativeSql } from '../database/native-sql.js';
import { AuditEventSource } from './audit-event-source.entity.js';

/** Most client addresses listed per repeatable row; `distinct_ips` stops there too. */
export const MAX_SOURCES_PER_EVENT = 1000;

/** Every query on `audit_event_sources`. */
@Injectable()
export class AuditEventSourceRepository {
  private readonly addSql: string;

  constructor(@InjectRepository(AuditEventSource) private readonly sources: Repository<AuditEventSource>) {
    // The primary key decides whether the address is new, also between instances; the EXISTS
    // keeps a row's list bounded and lists nothing under a row that is gone.
    this.addSql = nativeSql(
      sources.manager.connection,
      `INSERT INTO audit_event_sources (dedupe_key, source)
       SELECT ?, ? WHERE EXISTS (SELECT 1 FROM audit_events WHERE dedupe_key = ? AND distinct_ips < ${MAX_SOURCES_PER_EVENT})
       ON CONFLICT (dedupe_key, source) DO NOTHING
       RETURNING source`,
    );
  }

  /**
   * Lists `source` under the row of `dedupeKey`: true when it was new there; false when it was
   * listed already, the row lists MAX_SOURCES_PER_EVENT already, or the row is gone.
   */
  async add(dedupeKey: string, source: string): Promise<boolean> {
    const rows = await this.sources.query<unknown[]>(this.addSql, [dedupeKey, source, dedupeKey]);
    return rows.length > 0;
  }

  /** Deletes the sources listed under one row (at most MAX_SOURCES_PER_EVENT). */
  async deleteOf(dedupeKey: string): Promise<void> {
    await this.sources.delete({ dedupeKey });
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type QueryResult } from 'typeorm';
import { DatabaseBusyError } from './database-busy.error.js';
import { SqliteAdapter } from './sqlite-adapter.js';

/** One statement of a unit of work, in the database's dialect (see nativeSql), with its values. */
export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/**
 * Writes to several rows or tables that must happen together (a session with its first refresh
 * token; a rotated token with its session's last use). Repositories hand it their statements;
 * services only call the repositories.
 *
 * Why not `dataSource.transaction()`: on SQLite, TypeORM shares one query runner between all
 * callers (typeorm/typeorm#8668), so while one request's async transaction is open, every other
 * request's statements run inside it, and roll back with it. On SQLite a unit therefore runs as
 * one synchronous better-sqlite3 transaction (SqliteAdapter, the one place that touches TypeORM's
 * driver internals): nothing can interleave, and it is retried whole while another process holds
 * the write lock. On PostgreSQL each transaction gets its own pooled connection, so TypeORM's
 * own transaction is the right tool.
 */
@Injectable()
export class UnitOfWork {
  private readonly postgres: boolean;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sqlite: SqliteAdapter,
  ) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  /**
   * Runs `writes` as one transaction: all or none. With `onlyIf` (a SELECT), checked first in
   * the same transaction, nothing is written and the result is false when it finds no row. On
   * PostgreSQL it runs `FOR SHARE`, so the rows it read stay as they were until commit.
   * Failures surface as TypeORM's QueryFailedError (e.g. a unique violation), as from any query.
   */
  async commit(writes: readonly Statement[], onlyIf?: Statement): Promise<boolean> {
    if (this.postgres) {
      return this.dataSource.transaction(async (manager) => {
        if (onlyIf && !(await manager.query<unknown[]>(`${onlyIf.text} FOR SHARE`, [...onlyIf.params])).length)
          return false;
        for (const write of writes) await manager.query(write.text, [...write.params]);
        return true;
      });
    }
    try {
      const guard = onlyIf && this.sqlite.statement(onlyIf.text);
      const prepared = writes.map((write) => this.sqlite.statement(write.text));
      return await this.sqlite.transaction(() => {
        if (guard && onlyIf && guard.get(...onlyIf.params) === undefined) return false;
        prepared.forEach((statement, i) => statement.run(...writes[i].params));
        return true;
      });
    } catch (error) {
      if (error instanceof DatabaseBusyError) throw error;
      throw new QueryFailedError(writes.map((write) => write.text).join('; '), [], error as Error);
    }
  }

  /**
   * Runs `first`, a statement that returns rows (an `UPDATE … RETURNING`), then the writes
   * `then` builds from those rows, as one transaction; returns the rows. `then` must be
   * synchronous and must not throw: on SQLite it runs inside the synchronous transaction (and
   * again if the whole unit is retried while another process holds the write lock).
   */
  async returning<Row>(first: Statement, then: (rows: Row[]) => readonly Statement[]): Promise<Row[]> {
    if (this.postgres) {
      return this.dataSource.transaction(async (manager) => {
        // A transaction's manager always has its runner; its structured result carries RETURNING's rows.
        const runner = manager.queryRunner;
        if (!runner) throw new Error('UnitOfWork: a transaction without its query runner');
        const result = (await runner.query(first.text, [...first.params], true)) as QueryResult<Row>;
        const rows = result.records ?? [];
        for (const write of then(rows)) await manager.query(write.text, [...write.params]);
        return rows;
      });
    }
    try {
      const head = this.sqlite.statement(first.text);
      return await this.sqlite.transaction(() => {
        const rows = head.all(...first.params) as Row[];
        for (const write of then(rows)) this.sqlite.statement(write.text).run(...write.params);
        return rows;
      });
    } catch (error) {
      if (error instanceof DatabaseBusyError) throw error;
      throw new QueryFailedError(first.text, [], error as Error);
    }
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { DatabaseBusyError } from './database-busy.error.js';
import { SqliteAdapter } from './sqlite-adapter.js';

/**
 * Hand-written SQL for the hot paths (refresh, session checks, audit), where the query builder's
 * per-call cost shows in profiles. Statements are written with `?` placeholders; on PostgreSQL
 * they become `$1, $2, …`. The drivers cache prepared statements by text.
 */
@Injectable()
export class Sql {
  private readonly postgres: boolean;
  private readonly translated = new Map<string, string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly sqlite: SqliteAdapter,
  ) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  /** Rows of a SELECT. */
  all<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.dataSource.query(this.dialect(text), params) as Promise<T[]>;
  }

  /** First row of a SELECT, or undefined. */
  async one<T>(text: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.all<T>(text, params))[0];
  }

  /** An INSERT/UPDATE/DELETE whose row count does not matter. */
  async run(text: string, params: unknown[] = []): Promise<void> {
    await this.dataSource.query(this.dialect(text), params);
  }

  /**
   * Runs writes as one transaction: all or none. On SQLite the statements run synchronously
   * inside one better-sqlite3 transaction, so no other request's statement can interleave on the
   * shared connection, retried whole while another process holds the write lock (SqliteAdapter);
   * on PostgreSQL they run in a TypeORM transaction on one pooled connection.
   *
   * `onlyIf` is a SELECT checked first, in the same transaction: with no row, nothing is written
   * and the result is false. On PostgreSQL it runs `FOR SHARE`, so the rows it read stay as they
   * were until commit: a concurrent write to them waits for this transaction, or this one sees it
   * (concurrent readers, e.g. two logins of one user, do not wait for each other).
   */
  async transaction(statements: Array<[text: string, params: unknown[]]>, onlyIf?: [text: string, params: unknown[]]): Promise<boolean> {
    if (this.postgres) {
      return this.dataSource.transaction(async (manager) => {
        if (onlyIf && !((await manager.query(`${this.dialect(onlyIf[0])} FOR SHARE`, onlyIf[1])) as unknown[]).length) return false;
        for (const [text, params] of statements) await manager.query(this.dialect(text), params);
        return true;
      });
    }
    try {
      const guard = onlyIf && ([this.sqlite.statement(onlyIf[0]), onlyIf[1]] as const);
      const prepared = statements.map(([text, params]) => [this.sqlite.statement(text), params] as const);
      return await this.sqlite.transaction(() => {
        if (guard && guard[0].get(...guard[1]) === undefined) return false;
        for (const [statement, params] of prepared) statement.run(...params);
        return true;
      });
    } catch (error) {
      if (error instanceof DatabaseBusyError) throw error;
      // The same error type the rest of the code sees from dataSource.query (e.g. unique violations).
      throw new QueryFailedError(statements.map(([text]) => text).join('; '), [], error as Error);
    }
  }

  private dialect(text: string): string {
    if (!this.postgres) return text;
    let translated = this.translated.get(text);
    if (!translated) {
      let n = 0;
      translated = text.replace(/\?/g, () => `$${++n}`);
      this.translated.set(text, translated);
    }
    return translated;
  }
}

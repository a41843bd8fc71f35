import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';

interface BetterSqlite3Statement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}
interface BetterSqlite3Database {
  prepare(text: string): BetterSqlite3Statement;
  transaction<T>(fn: () => T): () => T;
}

/**
 * Hand-written SQL for the hot paths (refresh, session checks, audit), where the query builder's
 * per-call cost shows in profiles. Statements are written with `?` placeholders; on PostgreSQL
 * they become `$1, $2, …`. The drivers cache prepared statements by text.
 */
@Injectable()
export class Sql {
  private readonly postgres: boolean;
  private readonly translated = new Map<string, string>();
  private readonly statements = new Map<string, BetterSqlite3Statement>();

  constructor(private readonly dataSource: DataSource) {
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
   * shared connection; on PostgreSQL they run in a TypeORM transaction on one pooled connection.
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
    const db = (this.dataSource.driver as unknown as { databaseConnection: BetterSqlite3Database }).databaseConnection;
    const guard = onlyIf && ([this.statement(db, onlyIf[0]), onlyIf[1]] as const);
    const prepared = statements.map(([text, params]) => [this.statement(db, text), params] as const);
    try {
      return db.transaction(() => {
        if (guard && guard[0].get(...guard[1]) === undefined) return false;
        for (const [statement, params] of prepared) statement.run(...params);
        return true;
      })();
    } catch (error) {
      // The same error type the rest of the code sees from dataSource.query (e.g. unique violations).
      throw new QueryFailedError(statements.map(([text]) => text).join('; '), [], error as Error);
    }
  }

  private statement(db: BetterSqlite3Database, text: string): BetterSqlite3Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
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

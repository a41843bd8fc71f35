import { performance } from 'node:perf_hooks';
import type { DataSource, QueryRunner } from 'typeorm';
import { DatabaseBusyError, isSqliteBusy } from './database-busy.error.js';

/** The parts of a better-sqlite3 statement and connection we use. */
export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface SqliteConnection {
  readonly inTransaction: boolean;
  prepare(text: string): SqliteStatement;
  transaction<T>(fn: () => T): { immediate(): T };
  pragma(text: string): unknown;
}

/** How often writes queued behind another connection's lock try again. */
const POLL_MS = 10;

interface Waiter {
  attempt: () => unknown;
  deadline: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * The one place that reaches into TypeORM's better-sqlite3 driver (its `databaseConnection` and
 * the one query runner it shares between all callers), for two things TypeORM does not offer:
 *
 * - **Waiting for SQLite's write lock without freezing the process.** better-sqlite3 is
 *   synchronous: with a busy timeout, a write that finds the lock held by another process
 *   (`npm run keys:rotate`, a `sqlite3` shell) blocks the event loop until the lock frees, and
 *   every request waits with it. Once the app is up, this adapter sets the timeout to 0, so such
 *   a write fails at once with SQLITE_BUSY, having done nothing, and queues it: queued work is
 *   tried again every POLL_MS, in arrival order, on timers, while other requests are served
 *   (reads never wait: WAL readers do not need the lock). Past DATABASE_BUSY_TIMEOUT it fails
 *   with DatabaseBusyError (503 + Retry-After). Only whole units are retried: a statement on its
 *   own (autocommit, atomic), a `transaction()` below, or a `retry()` of a whole TypeORM
 *   transaction; a statement that fails inside an open transaction is never retried by itself.
 * - **Synchronous transactions.** `transaction(fn)` runs `fn`'s statements in one
 *   `BEGIN IMMEDIATE … COMMIT` without yielding, so no other request's statement can slip in on
 *   the shared connection. IMMEDIATE takes the write lock up front, so a transaction never reads
 *   a snapshot that another connection's commit makes stale (SQLITE_BUSY_SNAPSHOT in WAL).
 *
 * Hazard it refuses: better-sqlite3 silently nests a transaction into one already open on the
 * connection (a TypeORM transaction, whose statements are async and so shared by every request
 * meanwhile). `transaction()` throws instead of nesting.
 *
 * On PostgreSQL the adapter is inactive: `retry()` runs the work once, `transaction()` throws.
 */
export class SqliteAdapter {
  readonly active: boolean;
  private readonly connection?: SqliteConnection;
  private readonly statements = new Map<string, SqliteStatement>();
  private readonly queue: Waiter[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    dataSource: DataSource,
    private readonly busyTimeoutMs: number,
  ) {
    this.active = dataSource.options.type === 'better-sqlite3';
    if (!this.active) return;
    this.connection = (dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
    // Start-up (migrations) ran with SQLite's own blocking wait; from here on we wait on timers.
    this.connection.pragma('busy_timeout = 0');
    this.retryBusyStatements(dataSource.driver.createQueryRunner('master'));
  }

  /**
   * Runs `fn` as one BEGIN IMMEDIATE transaction on the shared connection: all of it or none.
   * While another connection holds the write lock it is retried whole, without blocking.
   * `fn` must be synchronous; use `statement()` inside it.
   */
  transaction<T>(fn: () => T): Promise<T> {
    const attempt = () => this.immediate(fn);
    try {
      return Promise.resolve(attempt());
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrows what better-sqlite3 threw, unchanged
      return isSqliteBusy(error) ? this.wait(attempt) : Promise.reject(error);
    }
  }

  /** A prepared statement on the shared connection, cached by its text; for use inside `transaction()`. */
  statement(text: string): SqliteStatement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.sqlite().prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs async work (e.g. a TypeORM transaction, which rolls back when a statement fails) and,
   * while SQLite reports busy, runs it again as a whole. The work must have no effect when it
   * fails. On PostgreSQL it runs once.
   */
  async retry<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!this.active || !isSqliteBusy(error)) throw error;
      return this.wait(work);
    }
  }

  private immediate<T>(fn: () => T): T {
    const connection = this.sqlite();
    if (connection.inTransaction) {
      throw new Error('A transaction is already open on the shared SQLite connection; refusing to nest into it');
    }
    return connection.transaction(fn).immediate();
  }

  private sqlite(): SqliteConnection {
    if (!this.connection) throw new Error('SqliteAdapter: the database is not SQLite');
    return this.connection;
  }

  /**
   * Every statement TypeORM runs (repositories, query builders, `dataSource.query`) goes through
   * this one query runner. One that fails busy outside a transaction did nothing: queue it.
   */
  private retryBusyStatements(runner: QueryRunner): void {
    const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
    const connection = this.sqlite();
    runner.query = (async (...args: unknown[]) => {
      try {
        return await query(...args);
      } catch (error) {
        // Inside a transaction the caller's whole transaction fails (and may be retried whole).
        if (!isSqliteBusy(error) || runner.isTransactionActive || connection.inTransaction) throw error;
        return this.wait(() => query(...args));
      }
    }) as QueryRunner['query'];
  }

  private wait<T>(attempt: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ attempt, deadline: performance.now() + this.busyTimeoutMs, resolve: resolve, reject });
      this.timer ??= setTimeout(() => void this.drain(), POLL_MS);
    });
  }

  /** Tries the queued work in order until one is still refused the lock; gives up on what is past its deadline. */
  private async drain(): Promise<void> {
    const now = performance.now();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i].deadline <= now) this.queue.splice(i, 1)[0].reject(new DatabaseBusyError());
    }
    while (this.queue.length) {
      const waiter = this.queue[0];
      try {
        const value = await waiter.attempt();
        this.queue.shift();
        waiter.resolve(value);
      } catch (error) {
        if (isSqliteBusy(error)) break;
        this.queue.shift();
        waiter.reject(error);
      }
    }
    this.timer = this.queue.length ? setTimeout(() => void this.drain(), POLL_MS) : undefined;
  }
}

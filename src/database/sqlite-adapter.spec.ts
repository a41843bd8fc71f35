import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { DatabaseBusyError, isSqliteBusy } from './database-busy.error.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { SqliteAdapter } from './sqlite-adapter.js';

const INSERT = 'INSERT INTO audit_events (id, type, created_at) VALUES (?, ?, ?)';
const row = (type = 'logout') => [randomUUID(), type, Date.now()];

describe('SqliteAdapter', () => {
  let dir: string;
  let file: string;
  let dataSource: DataSource;
  /** A second connection on the same file: another process, as far as SQLite is concerned. */
  let other: Database.Database;

  const adapterWith = (busyTimeoutMs: number) => new SqliteAdapter(dataSource, busyTimeoutMs);
  const count = async () =>
    Number((await dataSource.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM audit_events'))[0].n);
  const hold = () => other.exec('BEGIN IMMEDIATE');
  const release = () => other.inTransaction && other.exec('ROLLBACK');
  const releaseIn = (ms: number) => setTimeout(release, ms);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nta-sqlite-adapter-'));
    file = join(dir, 'auth.sqlite');
    dataSource = await new DataSource(
      buildDataSourceOptions({
        type: 'sqlite',
        url: `sqlite:${file}`,
        sqlitePath: file,
        logging: false,
        busyTimeout: 5,
        sqliteCacheMb: 4,
      }),
    ).initialize();
    other = new Database(file, { timeout: 0 });
  });
  afterEach(async () => {
    release();
    other.close();
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a statement that finds the lock taken waits on timers (the event loop runs on) and succeeds once it is released', async () => {
    adapterWith(5000);
    hold();
    // The release is a timer: a write that blocked the event loop would never let it fire.
    releaseIn(100);
    await dataSource.query(INSERT, row());
    expect(await count()).toBe(1);
  });

  it('past the busy timeout: DatabaseBusyError, nothing written', async () => {
    adapterWith(200);
    hold();
    await expect(dataSource.query(INSERT, row())).rejects.toBeInstanceOf(DatabaseBusyError);
    release();
    expect(await count()).toBe(0);
  });

  it('queued writes run in arrival order once the lock is free', async () => {
    adapterWith(5000);
    hold();
    const types = ['login_success', 'refresh', 'logout'];
    const writes = types.map((type, i) =>
      dataSource.query(INSERT, [`00000000-0000-0000-0000-00000000000${i}`, type, 1000 + i]),
    );
    releaseIn(50);
    await Promise.all(writes);
    const stored = await dataSource.query<Array<{ type: string }>>('SELECT type FROM audit_events ORDER BY rowid');
    expect(stored.map((r) => r.type)).toEqual(types);
  });

  it('never retries a statement alone inside an open transaction: it fails, and the transaction with it', async () => {
    adapterWith(5000);
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    hold();
    const error = await runner.query(INSERT, row()).catch((e: unknown) => e);
    expect(isSqliteBusy(error)).toBe(true);
    await runner.rollbackTransaction();
    release();
    expect(await count()).toBe(0);
  });

  it('transaction(): BEGIN IMMEDIATE, all or nothing, retried whole; past the timeout nothing is written', async () => {
    const adapter = adapterWith(200);
    let calls = 0;
    const work = () => {
      calls += 1;
      adapter.statement(INSERT).run(...row('login_success'));
      adapter.statement(INSERT).run(...row('refresh'));
      return 'done';
    };
    hold();
    await expect(adapter.transaction(work)).rejects.toBeInstanceOf(DatabaseBusyError);
    expect(await count()).toBe(0);
    release();

    hold();
    releaseIn(50);
    await expect(adapter.transaction(work)).resolves.toBe('done');
    expect(await count()).toBe(2);
    // BEGIN IMMEDIATE is refused before any statement runs, so the work ran once, entirely.
    expect(calls).toBe(1);
  });

  it('transaction(): refuses to nest into a transaction already open on the shared connection', async () => {
    const adapter = adapterWith(5000);
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await expect(adapter.transaction(() => adapter.statement(INSERT).run(...row()))).rejects.toThrow(/already open/);
    await runner.rollbackTransaction();

    // The hazard refused: better-sqlite3 alone nests as a SAVEPOINT, so a write it "committed"
    // vanishes when the outer (someone else's) transaction rolls back.
    const raw = (dataSource.driver as unknown as { databaseConnection: Database.Database }).databaseConnection;
    await runner.startTransaction();
    raw.transaction(() => raw.prepare(INSERT).run(...row()))();
    await runner.rollbackTransaction();
    expect(await count()).toBe(0);
  });

  it('retry(): a TypeORM transaction whose snapshot went stale (SQLITE_BUSY_SNAPSHOT) is rolled back and run again whole', async () => {
    const adapter = adapterWith(5000);
    let attempts = 0;
    await adapter.retry(() =>
      dataSource.transaction(async (manager) => {
        attempts += 1;
        await manager.query('SELECT COUNT(*) FROM audit_events'); // the read snapshot starts here
        if (attempts === 1) other.prepare(INSERT).run(...row('logout_all')); // another process commits meanwhile
        await manager.query(INSERT, row('login_success')); // stale snapshot: retrying this statement alone could never succeed
        await manager.query(INSERT, row('refresh'));
      }),
    );
    expect(attempts).toBe(2);
    const stored = await dataSource.query<Array<{ type: string }>>('SELECT type FROM audit_events ORDER BY rowid');
    expect(stored.map((r) => r.type)).toEqual(['logout_all', 'login_success', 'refresh']);
  });

  it('retry(): a TypeORM transaction that meets the lock is rolled back and retried whole after the release', async () => {
    const adapter = adapterWith(5000);
    let attempts = 0;
    hold();
    releaseIn(50);
    await adapter.retry(() =>
      dataSource.transaction(async (manager) => {
        attempts += 1;
        await manager.query(INSERT, row('login_success'));
        await manager.query(INSERT, row('refresh'));
      }),
    );
    // Tried again at each poll while the lock was held; only the last, whole attempt committed.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(await count()).toBe(2);
  });
});

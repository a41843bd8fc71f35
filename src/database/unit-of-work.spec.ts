import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource, QueryFailedError } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';
import { SqliteAdapter } from './sqlite-adapter.js';
import { isUniqueViolation } from './unique-violation.js';
import { UnitOfWork, type Statement } from './unit-of-work.js';

const INSERT = 'INSERT INTO audit_events (id, type, created_at, dedupe_key) VALUES (?, ?, ?, ?)';
/** A row; two with one `key` break the unique index on dedupe_key. */
const insert = (type: string, key: string = randomUUID()): Statement => ({
  text: INSERT,
  params: [randomUUID(), type, Date.now(), key],
});

describe('UnitOfWork (SQLite)', () => {
  let dataSource: DataSource;
  let unitOfWork: UnitOfWork;

  const stored = async () =>
    (await dataSource.query<Array<{ type: string }>>('SELECT type FROM audit_events ORDER BY rowid')).map(
      (row) => row.type,
    );
  /** Another request's write, as the rest of the app makes them: one autocommit statement on the shared connection. */
  const otherRequestWrites = (type: string) => dataSource.query(INSERT, insert(type).params as unknown[]);

  beforeEach(async () => {
    dataSource = await new DataSource(
      buildDataSourceOptions({
        type: 'sqlite',
        url: 'sqlite::memory:',
        sqlitePath: ':memory:',
        logging: false,
        busyTimeout: 5,
        sqliteCacheMb: 4,
      }),
    ).initialize();
    unitOfWork = new UnitOfWork(dataSource, new SqliteAdapter(dataSource, 5000));
  });
  afterEach(async () => {
    await dataSource.destroy();
  });

  it('the hazard it exists for: a TypeORM transaction on SQLite swallows other requests’ writes (typeorm/typeorm#8668)', async () => {
    let rollBack!: () => void;
    const failing = dataSource.transaction(async (manager) => {
      await manager.query(INSERT, insert('mine').params as unknown[]);
      await new Promise<void>((resolve) => (rollBack = resolve));
      throw new Error('this unit fails');
    });
    await nextTurn();
    // Meanwhile another request writes: TypeORM runs it on the one shared query runner, inside the open transaction…
    await otherRequestWrites('theirs');
    rollBack();
    await expect(failing).rejects.toThrow('this unit fails');
    // …so it is rolled back with a transaction it had nothing to do with.
    expect(await stored()).toEqual([]);
  });

  it('commit(): a failing unit rolls back its own writes only; writes of requests made meanwhile are kept', async () => {
    const key = randomUUID();
    // The second write breaks a unique index: the unit must leave nothing behind.
    const failure = unitOfWork.commit([insert('mine', key), insert('mine again', key)]).then(
      () => undefined,
      (error: unknown) => error,
    );
    // Other requests write meanwhile, one after each step of the promise machinery, so that one
    // lands between any two steps of the unit were it not a single synchronous transaction.
    const theirs = Array.from({ length: 60 }, (_, i) => `theirs ${i}`);
    const writes = theirs.map(async (type, i) => {
      for (let step = 0; step < i; step++) await Promise.resolve();
      await otherRequestWrites(type);
    });
    const error = await failure;
    await Promise.all(writes);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await stored()).toEqual(theirs);
  });

  it('commit(): all writes or none, in order', async () => {
    await expect(unitOfWork.commit([insert('first'), insert('second')])).resolves.toBe(true);
    expect(await stored()).toEqual(['first', 'second']);
  });

  it('commit(onlyIf): writes nothing and answers false when the check finds no row', async () => {
    const check = (type: string): Statement => ({ text: 'SELECT 1 FROM audit_events WHERE type = ?', params: [type] });
    await expect(unitOfWork.commit([insert('skipped')], check('missing'))).resolves.toBe(false);
    expect(await stored()).toEqual([]);

    await otherRequestWrites('present');
    await expect(unitOfWork.commit([insert('written')], check('present'))).resolves.toBe(true);
    expect(await stored()).toEqual(['present', 'written']);
  });

  it('commit(): refuses to nest into a TypeORM transaction left open on the shared connection', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await expect(unitOfWork.commit([insert('nested')])).rejects.toThrow(/already open/);
    await runner.rollbackTransaction();
    await runner.release();
    expect(await stored()).toEqual([]);
  });
});

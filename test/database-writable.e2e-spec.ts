import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import request from 'supertest';
import { StartupError } from '../src/common/startup-error.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { PG_MODE } from './utils/test-database.js';
import { makeUnwritable, startInProcess } from './utils/start-app-in-process.js';

// SQLite files only: under `npm run test:e2e:pg` there is no file to make read-only.
const describeSqlite = PG_MODE ? describe.skip : describe;

const UNWRITABLE = '(EACCES, permission denied|EPERM, operation not permitted \\(immutable file or folder\\?\\))';
const FIX = '; fix that or set DATABASE_URL=sqlite:<a writable path>';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describeSqlite('an unwritable SQLite database (e2e)', () => {
  const root = mkdtempSync(join(tmpdir(), 'nta-readonly-'));
  const undo: (() => void)[] = [];
  let dirCount = 0;
  /** A fresh folder per test. */
  const folder = () => {
    dirCount += 1;
    const dir = join(root, String(dirCount));
    mkdirSync(dir);
    return dir;
  };
  const unwritable = (path: string) => undo.push(makeUnwritable(path));

  afterEach(() => {
    while (undo.length) undo.pop()!();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Starts as main.ts does and returns the one line main.ts would print. */
  async function startupFailure(file: string): Promise<string> {
    const started = await startInProcess({ DATABASE_URL: `sqlite:${file}` });
    await started.close();
    expect(started.error).toBeInstanceOf(StartupError);
    // Never a retry loop: SQLite fails the same way every time.
    expect(started.lines.filter((line) => /retry/i.test(JSON.stringify(line)))).toEqual([]);
    return (started.error as Error).message;
  }

  /** A database with the schema, closed cleanly (no -wal/-shm left beside it). */
  async function existingDatabase(dir: string): Promise<string> {
    const file = join(dir, 'auth.sqlite');
    const started = await startInProcess({ DATABASE_URL: `sqlite:${file}` });
    expect(started.error).toBeUndefined();
    await started.close();
    return file;
  }

  it('stops at once, naming the folder, when the database folder cannot be created', async () => {
    const parent = folder();
    unwritable(parent);
    const file = join(parent, 'data', 'auth.sqlite');
    expect(await startupFailure(file)).toMatch(
      new RegExp(
        `^Cannot use the SQLite database ${escape(file)}: its folder cannot be created \\(${UNWRITABLE}\\)${escape(FIX)}$`,
      ),
    );
  });

  it('stops at once when the folder of an existing database is read-only (SQLite must create -wal and -shm there)', async () => {
    const dir = folder();
    const file = await existingDatabase(dir);
    unwritable(dir);
    expect(await startupFailure(file)).toMatch(
      new RegExp(
        `^Cannot use the SQLite database ${escape(file)}: the database folder ${escape(dir)} is not writable \\(${UNWRITABLE}\\): SQLite creates auth.sqlite-wal and -shm there${escape(FIX)}$`,
      ),
    );
  });

  it('stops at once when the database file is read-only (instead of opening it read-only and failing every write)', async () => {
    const file = await existingDatabase(folder());
    unwritable(file);
    expect(await startupFailure(file)).toMatch(
      new RegExp(
        `^Cannot use the SQLite database ${escape(file)}: the database file ${escape(file)} is not writable \\(${UNWRITABLE}\\)${escape(FIX)}$`,
      ),
    );
  });

  it("stops at once, with SQLite's reason, when the file cannot be opened as a database", async () => {
    const dir = folder();
    const notADatabase = join(dir, 'notes.txt');
    writeFileSync(notADatabase, 'these are not the pages you are looking for\n'.repeat(200));
    expect(await startupFailure(notADatabase)).toBe(
      `Cannot use the SQLite database ${notADatabase}: SQLite cannot write it (SQLITE_NOTADB, file is not a database)${FIX}`,
    );
    expect(await startupFailure(dir)).toBe(
      `Cannot use the SQLite database ${dir}: that path is a folder, not a file${FIX}`,
    );
  });

  it('fails at once, without the 10 × 3 s retries meant for a database server, when a migration fails', async () => {
    const file = join(folder(), 'auth.sqlite');
    // A table in the way of the first migration: not a connection problem a retry could fix.
    const db = new Database(file);
    db.exec('CREATE TABLE users (id INTEGER)');
    db.close();
    const started = await startInProcess({ DATABASE_URL: `sqlite:${file}` });
    await started.close();
    expect(started.error).toBeInstanceOf(Error);
    expect((started.error as Error).message).toMatch(/users/);
    expect(started.lines.filter((line) => /retry/i.test(JSON.stringify(line)))).toEqual([]);
  });

  describe('GET /health', () => {
    let t: TestApp | undefined;
    afterEach(async () => {
      while (undo.length) undo.pop()!();
      await t?.close();
      t = undefined;
    });

    it.each(['file', 'folder'] as const)(
      'reports the database down while its %s is unwritable, up again after',
      async (what) => {
        const dir = folder();
        const file = join(dir, 'auth.sqlite');
        t = await createTestApp({ DATABASE_URL: `sqlite:${file}` });
        await request(t.server).get('/health').expect(200);

        unwritable(what === 'file' ? file : dir);
        const down = await request(t.server).get('/health').expect(503);
        expect(down.body.error).toEqual({ database: { status: 'down', message: 'unavailable' } });
        // /health is public: the path stays in the log.
        expect(JSON.stringify(down.body)).not.toContain(dir);

        undo.pop()!();
        const up = await request(t.server).get('/health').expect(200);
        expect(up.body.info.database.status).toBe('up');
      },
    );
  });
});

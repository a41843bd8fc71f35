import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { describeErrno, StartupError } from '../common/startup-error.js';

/**
 * Why SQLite needs more than a readable file: a file it cannot write is opened read-only without
 * complaint (so the app would start, answer /health, and fail every write with a 500), and in WAL
 * mode it creates `<file>-wal` and `<file>-shm` beside the file, so the folder must be writable too.
 *
 * Write permission is checked with access(2), not the mode bits: as root, chmod does not stop
 * writes but `chattr +i` (EPERM) and a read-only mount (EROFS) do, and access(2) reports all three.
 */

/** Why the database at `path` cannot be written, or undefined when it can (for /health: no I/O beyond access(2)). */
export function sqliteWriteProblem(path: string): string | undefined {
  const file = resolve(path);
  for (const [what, target] of [
    ['database folder', dirname(file)],
    ['database file', file],
    ['database WAL file', `${file}-wal`],
  ] as const) {
    if (what !== 'database folder' && !existsSync(target)) continue;
    try {
      accessSync(target, constants.W_OK);
    } catch (error) {
      const why = what === 'database folder' ? `: SQLite creates ${basename(file)}-wal and -shm there` : '';
      return `the ${what} ${target} is not writable (${describeErrno(error)})${why}`;
    }
  }
  return undefined;
}

/**
 * At start-up, before TypeORM opens the file: creates the folder, checks that folder and file can
 * be written and that SQLite can take the write lock. Throws a StartupError with one line naming
 * the path and the cause; nothing here is worth retrying.
 */
export function ensureSqliteWritable(path: string): void {
  const file = resolve(path);
  const folder = dirname(file);
  const fail = (cause: string) =>
    new StartupError(
      `Cannot use the SQLite database ${file}: ${cause}; fix that or set DATABASE_URL=sqlite:<a writable path>`,
    );
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw fail(`its folder cannot be created (${describeErrno(error)})`);
  }
  if (existsSync(file) && statSync(file).isDirectory()) throw fail('that path is a folder, not a file');
  const problem = sqliteWriteProblem(file);
  if (problem) throw fail(problem);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: 5000 });
    // Takes the write lock without changing anything: fails on a read-only open, a locked or
    // corrupt file, or a file that is not a SQLite database.
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    throw fail(`SQLite cannot write it (${code ? `${code}, ` : ''}${message})`);
  } finally {
    db?.close();
  }
}

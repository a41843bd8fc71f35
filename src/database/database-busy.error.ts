/**
 * A database operation waited DATABASE_BUSY_TIMEOUT for SQLite's write lock (held by another
 * process: `npm run keys:rotate`, a `sqlite3` shell) and gave up without any effect. The
 * exception filter answers 503 with Retry-After: the client may simply try again.
 */
export class DatabaseBusyError extends Error {
  override name = 'DatabaseBusyError';

  constructor(readonly retryAfterSeconds = 1) {
    super('The database is busy; try again shortly');
  }
}

/** SQLITE_BUSY and its extended codes (…_SNAPSHOT, …_RECOVERY, …_TIMEOUT), raw or wrapped by TypeORM. */
export function isSqliteBusy(error: unknown): boolean {
  const code =
    (error as { code?: unknown } | null)?.code ??
    (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

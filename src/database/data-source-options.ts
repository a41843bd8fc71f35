import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/app-config.js';
import { ENTITIES } from './entities.js';
import { SqlTextLogger } from './sql-text.logger.js';
import { MIGRATIONS } from './migrations/index.js';
import { ensureSqliteWritable } from './sqlite-writable.js';

/** The one place that turns DATABASE_URL into TypeORM options, for the app, the CLI and tests. */
export function buildDataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    logging: config.logging,
    ...(config.logging ? { logger: new SqlTextLogger() } : {}),
  } as const;

  if (config.type === 'postgres') {
    return { ...common, type: 'postgres', url: config.url };
  }

  const database = config.sqlitePath ?? ':memory:';
  // Fails at once, with the path and the cause, instead of a read-only open that 500s every write.
  if (database !== ':memory:') ensureSqliteWritable(database);
  return {
    ...common,
    type: 'better-sqlite3',
    database,
    // WAL lets readers run beside the writer and survives kill -9; the busy timeout makes
    // start-up (migrations) wait for a lock another process holds instead of failing. Once the
    // app is up, SqliteAdapter turns this blocking wait off and waits on timers instead.
    enableWAL: database !== ':memory:',
    timeout: config.busyTimeout * 1000,
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // Negative: KiB. better-sqlite3's 16 MB filled up with the bench's 20 MB database and stayed
      // (peak RSS 162–168 → 149–151 MB at 4 MB, refreshes/s within the noise; README Performance).
      db.pragma(`cache_size = -${config.sqliteCacheMb * 1024}`);
    },
  };
}

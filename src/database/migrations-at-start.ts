import { DataSource, MigrationExecutor, type DataSourceOptions } from 'typeorm';

const appliedAtStart = new WeakMap<DataSource, string[]>();

/**
 * TypeOrmModule's `dataSourceFactory`: the same as `migrationsRun: true` (which runs the pending
 * migrations at the end of `initialize()`), but keeps the names of those this start applied, for
 * the start-up line.
 */
export async function initializeWithMigrations(options?: DataSourceOptions): Promise<DataSource> {
  if (!options) throw new Error('initializeWithMigrations: no data source options');
  const dataSource = await new DataSource({ ...options, migrationsRun: false }).initialize();
  try {
    if (options.migrationsRun) {
      const applied = await dataSource.runMigrations({ transaction: options.migrationsTransactionMode ?? 'all' });
      appliedAtStart.set(
        dataSource,
        applied.map((migration) => migration.name),
      );
    }
  } catch (error) {
    // A database server may be retried; do not leave this attempt's pool open.
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  return dataSource;
}

export interface MigrationsReport {
  /** Applied by this start (all of them on a new database). */
  appliedNow: string[];
  /** Every migration recorded in the database, oldest first. */
  applied: string[];
}

export async function migrationsReport(dataSource: DataSource): Promise<MigrationsReport> {
  const executed = await new MigrationExecutor(dataSource).getExecutedMigrations();
  return {
    appliedNow: appliedAtStart.get(dataSource) ?? [],
    applied: executed.sort((a, b) => a.timestamp - b.timestamp).map((migration) => migration.name),
  };
}

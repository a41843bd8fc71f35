import pg from 'pg';

/**
 * `npm run test:e2e:pg` sets TEST_DATABASE_URL to a PostgreSQL server: every app a suite builds
 * then gets a database of its own (created on demand, dropped when the app closes), so the same
 * e2e suites prove the PostgreSQL path. Unset, suites use SQLite.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const PG_MODE = !!TEST_DATABASE_URL && /^postgres(ql)?:\/\//.test(TEST_DATABASE_URL);

const PREFIX = 'nta_t_';
let counter = 0;

/** A database URL on the test server that no other suite uses (not created yet). */
export function freshPgUrl(): string {
  counter += 1;
  const url = new URL(TEST_DATABASE_URL!);
  // The run id (set by the global setup) lets the teardown drop only this run's databases.
  const run = process.env.NTA_TEST_RUN ?? Date.now().toString(36);
  url.pathname = `/${PREFIX}${run}_${process.pid}_${Date.now().toString(36)}_${counter}`;
  return url.toString();
}

function databaseName(url: string): string {
  return new URL(url).pathname.slice(1);
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database behind `url` unless it exists (a restart test reuses it). */
export async function ensurePgDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  if (!name.startsWith(PREFIX)) return;
  await withAdmin(async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!exists.rowCount) await client.query(`CREATE DATABASE "${name}"`);
  });
}

export async function dropPgDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  if (!name.startsWith(PREFIX)) return;
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

// jest globalTeardown for `npm run test:e2e:pg`: drop every test database, including ones a
// crashed suite left behind. Plain JS: global hooks run outside jest's ESM transform.
import pg from 'pg';

export default async function globalTeardown() {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'nta\\_t\\_%'");
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

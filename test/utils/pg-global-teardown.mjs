// jest globalTeardown for `npm run test:e2e:pg`: drop this run's test databases, and those a
// crashed run left behind more than an hour ago (a run still going on has younger ones).
// Plain JS: global hooks run outside jest's ESM transform.
import pg from 'pg';

const STALE_MS = 60 * 60 * 1000;

export default async function globalTeardown() {
  const run = process.env.NTA_TEST_RUN;
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'nta\\_t\\_%'");
    for (const { datname } of rows) {
      // Names are nta_t_<run>_<pid>_<time>_<n>, times in base 36 milliseconds.
      const owner = datname.split('_')[2];
      const stale = Date.now() - parseInt(owner, 36) > STALE_MS;
      if (owner === run || stale || Number.isNaN(parseInt(owner, 36))) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    }
  } finally {
    await client.end();
  }
}

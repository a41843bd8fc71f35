// An API route guarded by the resource-server kit against the same route unguarded (issue 14 bar:
// the guarded one answers at ≥ 85 % of the unguarded one's rate, same process, same run):
//
//   npm run build && node bench/resource-server-route.mjs
//
//   BENCH_RS_ROUTE_SECONDS=4     seconds per measured run (default 4)
//   BENCH_RS_ROUTE_ROUNDS=5      rounds of [unguarded, unguarded + header, guarded], alternating so
//                                drift hits all three (default 5)
//   BENCH_RS_ROUTE_CONNECTIONS=20  autocannon connections (default 20)
//   BENCH_RS_ROUTE_WARMUP=2      untimed seconds per route first (default 2)
//
// The API (bench/lib/resource-server-route-app.mjs: Express 5, the built kit) runs in a child
// process; this process runs a fake auth server (JWKS, feed with a comment every 500 ms) and
// autocannon against 127.0.0.1. Every guarded request carries the same valid access token, as a
// client reusing its token does. Prints a table; exit code 0 when it ran (also with a MISS), 1 on error.
import { fileURLToPath } from 'node:url';
import { startFakeAuthServer } from './lib/fake-auth-server.mjs';
import { loadTest, mergeLoadTests, warmUp } from './lib/phases.mjs';
import { cleanUpOnExit, spawnChild, stopChild, waitForLine } from './lib/proc.mjs';
import { positiveNumber } from './lib/settings.mjs';
import { fmt, pct, renderTable } from './lib/stats.mjs';

const SECONDS = positiveNumber('BENCH_RS_ROUTE_SECONDS', 4);
const ROUNDS = Math.round(positiveNumber('BENCH_RS_ROUTE_ROUNDS', 5));
const CONNECTIONS = Math.round(positiveNumber('BENCH_RS_ROUTE_CONNECTIONS', 20));
const TARGET_RATIO = 0.85;
const WARMUP_SECONDS = positiveNumber('BENCH_RS_ROUTE_WARMUP', 2);

cleanUpOnExit('resource-server route bench');
const auth = await startFakeAuthServer();
const app = spawnChild(
  process.execPath,
  [fileURLToPath(new URL('./lib/resource-server-route-app.mjs', import.meta.url))],
  {
    env: { ...process.env, RS_ISSUER: auth.issuer, RS_CLIENT_ID: auth.client.id, RS_CLIENT_SECRET: auth.client.secret },
  },
);

try {
  const [, port] = await waitForLine(app, /listening (\d+)/, 20_000);
  const base = `http://127.0.0.1:${port}`;
  const token = await auth.sign({ sub: 'user-42', roles: ['user'] });
  const authorization = { authorization: `Bearer ${token}` };
  // The bar compares with the route as it would be without the kit (no header); the middle one,
  // the unguarded route sent the same header, separates the kit's own cost from the cost
  // of carrying a token at all (bytes to send and parse).
  const routes = {
    unguarded: { url: `${base}/open/orders`, headers: {} },
    withHeader: { url: `${base}/open/orders`, headers: authorization },
    guarded: { url: `${base}/orders`, headers: authorization },
  };
  const cpu = async () => (await (await fetch(`${base}/cpu`)).json()).us;
  for (const route of Object.values(routes)) {
    const probe = await fetch(route.url, { headers: route.headers });
    if (probe.status !== 200) throw new Error(`${route.url}: HTTP ${probe.status} ${await probe.text()}`);
    await warmUp(route.url, route.headers, WARMUP_SECONDS);
  }
  const runs = { unguarded: [], withHeader: [], guarded: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, route] of Object.entries(routes)) {
      const before = await cpu();
      const run = await loadTest({ ...route, seconds: SECONDS, connections: CONNECTIONS });
      run.cpuUs = (await cpu()) - before;
      runs[name].push(run);
    }
  }
  const open = mergeLoadTests(runs.unguarded);
  const withHeader = mergeLoadTests(runs.withHeader);
  const guarded = mergeLoadTests(runs.guarded);
  const ratio = guarded.rps / open.rps;
  // Server CPU per answered request; its inverse is what a saturated core could serve.
  const cpuPerRequest = (list) =>
    list.reduce((sum, r) => sum + r.cpuUs, 0) / list.reduce((sum, r) => sum + r.latencies.length, 0);
  const capacity = cpuPerRequest(runs.unguarded) / cpuPerRequest(runs.guarded);
  const failures = [open, withHeader, guarded].reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0);
  console.log(
    `\nresource-server kit on an Express route: ${ROUNDS} × ${SECONDS} s per route, alternating, ` +
      `${CONNECTIONS} connections, 127.0.0.1, Node ${process.version}\n`,
  );
  console.log(
    renderTable([
      {
        metric: 'guarded / unguarded (2xx/s)',
        value: pct(ratio),
        target: `≥ ${pct(TARGET_RATIO)}`,
        status: ratio >= TARGET_RATIO && failures === 0 ? 'PASS' : 'MISS',
      },
      {
        metric: 'capacity: unguarded / guarded server CPU per request',
        value: pct(capacity),
        target: `≥ ${pct(TARGET_RATIO)}`,
        status: capacity >= TARGET_RATIO ? 'PASS' : 'MISS',
      },
      {
        metric: 'server CPU per request: unguarded, with header, guarded',
        value:
          [runs.unguarded, runs.withHeader, runs.guarded].map((l) => fmt(cpuPerRequest(l), '', 1)).join(', ') + ' µs',
      },
      { metric: 'guarded / unguarded sent the same header', value: pct(guarded.rps / withHeader.rps) },
      { metric: 'unguarded GET /open/orders', value: fmt(open.rps, 'req/s', 0) },
      { metric: 'unguarded, with the Authorization header', value: fmt(withHeader.rps, 'req/s', 0) },
      { metric: 'guarded GET /orders (bearerAuth)', value: fmt(guarded.rps, 'req/s', 0) },
      {
        metric: 'per-round ratios',
        value: runs.guarded
          .map((g, i) =>
            pct(g.latencies.length / g.seconds / (runs.unguarded[i].latencies.length / runs.unguarded[i].seconds)),
          )
          .join(', '),
      },
      { metric: 'p50 / p99 unguarded', value: `${fmt(open.p50Ms, 'ms', 1)} / ${fmt(open.p99Ms, 'ms', 1)}` },
      { metric: 'p50 / p99 guarded', value: `${fmt(guarded.p50Ms, 'ms', 1)} / ${fmt(guarded.p99Ms, 'ms', 1)}` },
      {
        metric: 'non-2xx, errors, timeouts',
        value: String(failures),
        target: '0',
        status: failures === 0 ? 'PASS' : 'MISS',
      },
    ]),
  );
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await stopChild(app);
  auth.close();
}

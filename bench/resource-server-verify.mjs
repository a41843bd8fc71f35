// Micro-benchmark of the resource-server kit's verify() (issue 14 bar: a known token ≤ 5 µs).
// Runs against the BUILT kit (resource-server/dist), as an API would load it:
//
//   npm run build && node bench/resource-server-verify.mjs
//
//   BENCH_RS_CALLS=200000        verify() calls per round (default 200000)
//   BENCH_RS_ROUNDS=7            rounds; the median is the figure (default 7)
//   BENCH_RS_REVOCATIONS=100000  revoked sessions in the kit's list (plus a tenth as many user
//                                cut-offs), to show the checks stay map lookups (default 100000)
//
// A fake auth server in this process (bench/lib/fake-auth-server.mjs) serves the JWKS, the backfill
// and a live SSE stream with a comment every 500 ms, so the kit runs exactly as in production (feed
// fresh, nothing cached but what verify() caches). Prints a table; exit code 0 when it ran (also with a MISS), 1 on error.
import { startFakeAuthServer } from './lib/fake-auth-server.mjs';
import { positiveNumber } from './lib/settings.mjs';
import { fmt, median, renderTable } from './lib/stats.mjs';

const CALLS = Math.round(positiveNumber('BENCH_RS_CALLS', 200_000));
const ROUNDS = Math.round(positiveNumber('BENCH_RS_ROUNDS', 7));
const REVOCATIONS = Math.round(positiveNumber('BENCH_RS_REVOCATIONS', 100_000));
const TARGET_US = 5;

let kit;
try {
  kit = await import('../resource-server/dist/index.js');
} catch (error) {
  console.error(`Cannot load resource-server/dist (run npm run build first): ${error.message}`);
  process.exit(1);
}

const until = Math.floor(Date.now() / 1000) + 3600;
const backfill = [];
for (let i = 1; i <= REVOCATIONS; i++)
  backfill.push({ id: String(i), sid: `revoked-${i}`, sub: `user-${i % 5000}`, until });
for (let i = 1; i <= REVOCATIONS / 10; i++) {
  backfill.push({ id: String(REVOCATIONS + i), sub: `cut-${i}`, notBefore: until - 7200, until });
}

const auth = await startFakeAuthServer({ backfill });
const issuer = auth.issuer;

const verifier = kit.createTokenVerifier({
  issuer,
  audience: issuer,
  clientId: auth.client.id,
  clientSecret: auth.client.secret,
  log: false,
});

try {
  await verifier.ready();
  const sign = (claims) => auth.sign({ roles: ['user'], scope: 'orders:read', ...claims });
  // Neither revoked nor cut off: both maps are consulted on every call, as for most requests.
  const token = await sign({ sub: 'user-42' });
  const header = `Bearer ${token}`;
  await verifier.verify(token);

  // Each request brings its own copy of the token string, whose hash V8 has not computed yet; the
  // time to make the copy (measured alone) is subtracted, so the figure is verify() with that hashing.
  const verifyRounds = [];
  const sameStringRounds = [];
  const authenticateRounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    verifyRounds.push(
      await timePerCall(
        () => verifier.verify(Buffer.from(token).toString()),
        () => Buffer.from(token).toString(),
      ),
    );
    sameStringRounds.push(await timePerCall(() => verifier.verify(token)));
    authenticateRounds.push(
      await timePerCall(() => verifier.authenticate(header, { roles: ['user'], scopes: ['orders:read'] })),
    );
  }

  // For scale: a token seen for the first time costs a signature check.
  const fresh = await Promise.all(Array.from({ length: 200 }, (_, i) => sign({ sub: `fresh-${i}` })));
  const coldStart = process.hrtime.bigint();
  for (const t of fresh) await verifier.verify(t);
  const coldUs = Number(process.hrtime.bigint() - coldStart) / 1000 / fresh.length;

  const verifyUs = median(verifyRounds);
  console.log(
    `\nresource-server kit, verify() of a known token: ${CALLS.toLocaleString('en-US')} calls × ${ROUNDS} rounds, ` +
      `${REVOCATIONS.toLocaleString('en-US')} revoked sessions + ${(REVOCATIONS / 10).toLocaleString('en-US')} user cut-offs in the list, Node ${process.version}\n`,
  );
  console.log(
    renderTable([
      {
        metric: 'verify(token), known token, new string (median)',
        value: fmt(verifyUs, 'µs', 2),
        target: `≤ ${TARGET_US} µs`,
        status: verifyUs <= TARGET_US ? 'PASS' : 'MISS',
      },
      {
        metric: 'verify(token), rounds min … max',
        value: `${fmt(Math.min(...verifyRounds), '', 2)} … ${fmt(Math.max(...verifyRounds), 'µs', 2)}`,
      },
      { metric: 'verify(token), the same string object every call', value: fmt(median(sameStringRounds), 'µs', 2) },
      { metric: 'authenticate(header, roles+scopes) (median)', value: fmt(median(authenticateRounds), 'µs', 2) },
      { metric: 'verify(token), first sight (RS256 signature)', value: fmt(coldUs, 'µs', 1) },
    ]),
  );
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await verifier.close();
  auth.close();
}

/**
 * µs per awaited call, over CALLS sequential calls (each awaited, as a request handler does),
 * minus the time of `overhead` alone (what the loop does besides the call, e.g. copying a string).
 */
async function timePerCall(call, overhead) {
  // Awaited calls run as microtasks and starve I/O; let the feed's comments in between rounds,
  // or the kit rightly turns stale after maxStaleness (as it would in a host that blocks its loop).
  await new Promise((resolve) => setTimeout(resolve, 20));
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  const total = Number(process.hrtime.bigint() - start);
  if (!overhead) return total / 1000 / CALLS;
  const base = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await overhead();
  return (total - Number(process.hrtime.bigint() - base)) / 1000 / CALLS;
}

// Cold start as production meets it: the built app launched as `npm run start:prod` launches it
// (`node -r scripts/preload.cjs scripts/start-prod.cjs`, NODE_ENV=production), timed from spawn to the first
// 200 on GET /.well-known/jwks.json that lists a key, i.e. ready to verify and issue tokens.
// Two cases, alternated in each round so a load change on a shared machine hits both alike:
//   first start: a new SQLite file, so all migrations run and the first key pair is generated;
//   restart:     the same file again, as after a deploy or a crash.
// No bench preload (event-loop monitor, IPC) here: it would be part of what is timed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from './http.mjs';
import { productionLaunch } from './launch.mjs';
import { freePort, spawnChild, stopChild } from './proc.mjs';
import { median } from './stats.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 5;
const PASS_THROUGH = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'TMP', 'TEMP', 'SystemRoot'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * CPU time (user + system) `pid` has used, in ms (Linux /proc; NaN elsewhere). Steadier than wall
 * time when other work shares the machine. Assumes the usual 100 clock ticks per second.
 */
function cpuTimeMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * Spawns the app on `dir`'s database; resolves with { wallMs, cpuMs }: from spawn to the first
 * JWKS 200 with a key, and the app's CPU time by then.
 */
async function timeOneStart({ root, dir, alg }) {
  const port = await freePort();
  const env = Object.fromEntries(
    PASS_THROUGH.filter((key) => process.env[key] !== undefined).map((key) => [key, process.env[key]]),
  );
  Object.assign(env, {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: `sqlite:${join(dir, 'auth.sqlite')}`,
    JWT_ALG: alg,
    COOKIE_SECURE: 'false',
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  // cwd is the temp dir so a developer's .env cannot change what is measured.
  const { nodeArgs, entry } = productionLaunch(root);
  const child = spawnChild(process.execPath, [...nodeArgs, entry], { cwd: dir, env, logFile: join(dir, 'app.log') });
  try {
    for (;;) {
      if (child.exitInfo) {
        throw new Error(
          `app exited during start-up (${JSON.stringify(child.exitInfo)}): ${child.lastOutput(5).join(' | ')}`,
        );
      }
      if (performance.now() - t0 > START_TIMEOUT_MS) {
        throw new Error(`no 200 with a key on /.well-known/jwks.json within ${START_TIMEOUT_MS} ms`);
      }
      try {
        const res = await request(baseUrl, { path: '/.well-known/jwks.json', timeoutMs: 1000 });
        if (res.status === 200 && JSON.parse(res.body).keys?.length) {
          return { wallMs: performance.now() - t0, cpuMs: cpuTimeMs(child.pid) };
        }
      } catch {
        // not listening yet
      }
      await sleep(POLL_MS);
    }
  } finally {
    await stopChild(child);
  }
}

const summary = (starts) => {
  const wall = starts.map((s) => s.wallMs);
  return {
    samples: wall.map((ms) => Math.round(ms)),
    minMs: Math.min(...wall),
    medianMs: median(wall),
    maxMs: Math.max(...wall),
    cpuMedianMs: median(starts.map((s) => s.cpuMs)),
  };
};

/**
 * `runs` rounds of (first start on a new database, restart on it); resolves with
 * { first, restart }, each { samples, minMs, medianMs, maxMs, cpuMedianMs }. `root` is the checkout whose
 * dist/ is started (another one for an A/B comparison).
 */
export async function measureColdStarts({ runs = 5, alg = 'RS256', root = ROOT, log = () => {} } = {}) {
  const first = [];
  const restart = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'auth-cold-'));
    try {
      first.push(await timeOneStart({ root, dir, alg }));
      restart.push(await timeOneStart({ root, dir, alg }));
      log(
        `cold start ${i + 1}/${runs}: first ${Math.round(first.at(-1).wallMs)} ms, restart ${Math.round(restart.at(-1).wallMs)} ms`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { alg, runs, first: summary(first), restart: summary(restart) };
}

// Runs the built app (`node dist/main.js`) as a child process on a given SQLite file, so the
// crash test can kill -9 it and start it again on the same file. Process bookkeeping (kill on
// exit, log file) comes from the bench helpers.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from '../../bench/lib/http.mjs';
import { freePort, spawnChild, stopChild } from '../../bench/lib/proc.mjs';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const POLL_MS = 20;

/** Only these come from the caller's environment: a developer's shell must not change the test. */
const PASS_THROUGH = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'TMP', 'TEMP', 'SystemRoot'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the app on `dbFile` and resolves once GET /health answers 200. The log of every start
 * is appended to `dir/app.log`; cwd is `dir`, so no project .env is read.
 */
export async function startAppOnFile({ dir, dbFile, env = {}, nodeArgs = [], timeoutMs = 60_000 }) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing; run \`npm run build\` first`);
  const port = await freePort();
  const childEnv = Object.fromEntries(
    PASS_THROUGH.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]),
  );
  Object.assign(childEnv, {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: `sqlite:${dbFile}`,
    // Fixed, so the issuer does not change with the port from one start to the next.
    JWT_ISSUER: 'http://127.0.0.1',
    COOKIE_SECURE: 'false',
    ...env,
  });
  const logFile = join(dir, 'app.log');
  const baseUrl = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawnChild(process.execPath, [...nodeArgs, MAIN], { cwd: dir, env: childEnv, logFile });
  const deadline = t0 + timeoutMs;
  for (;;) {
    if (child.exitInfo) {
      throw new Error(
        `app exited during start-up (${JSON.stringify(child.exitInfo)}):\n${child.lastOutput(15).join('\n')}`,
      );
    }
    if (performance.now() > deadline) {
      await stopChild(child);
      throw new Error(`app did not answer 200 on /health within ${timeoutMs} ms:\n${child.lastOutput(15).join('\n')}`);
    }
    try {
      const res = await request(baseUrl, { path: '/health', timeoutMs: 1000 });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(POLL_MS);
  }
  return {
    child,
    pid: child.pid,
    baseUrl,
    logFile,
    startMs: performance.now() - t0,
    /** SIGKILL: no shutdown hooks, no final checkpoint. Resolves with the exit info. */
    async kill9() {
      child.kill('SIGKILL');
      return child.exited;
    },
    /** SIGTERM (graceful shutdown), SIGKILL after 5 s. */
    stop: () => stopChild(child, 5000),
    lastOutput: (n) => child.lastOutput(n),
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { runNodeScript } from '../utils/run-node-script.js';

/**
 * Real `node dist/main.js` processes for the multi-instance suite: a database of their own on
 * the PostgreSQL test server, a Redis key prefix of their own, logs captured to files.
 */

/** Server the suite creates its database on; TEST_DATABASE_URL (as for `test:e2e:pg`) overrides. */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;

/** How long SIGTERM gets before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 5_000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopResult extends ExitInfo {
  /** Milliseconds from SIGTERM to exit. */
  elapsedMs: number;
  /** True when SIGTERM was not enough and SIGKILL was sent. */
  killed: boolean;
}

export interface Instance {
  name: string;
  port: number;
  baseUrl: string;
  child: ChildProcess;
  stdoutPath: string;
  stderrPath: string;
  /** Settles when the process has exited. */
  exited: Promise<ExitInfo>;
  exitInfo?: ExitInfo;
}

/** A random id that names this run's database, Redis prefix and log directory. */
export function runId(): string {
  return randomBytes(4).toString('hex');
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database on the test server and returns its URL. */
export async function createDatabase(name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Deletes every Redis key under the run's prefix (throttle counters and blocks). */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** A directory for the run's logs (kept when something failed). */
export function logDirectory(id: string): string {
  return mkdtempSync(join(tmpdir(), `nta-multi-${id}-`));
}

/**
 * Spawns `node dist/main.js` (or another server `script`: the example APIs) with exactly `env`
 * (plus PATH), stdout and stderr to files in `dir`, and waits until GET /health answers 200. The
 * working directory is `dir`, so a developer's `.env` in the repository cannot change what is tested.
 */
export async function startInstance(
  name: string,
  port: number,
  env: Record<string, string>,
  dir: string,
  script = MAIN_JS,
): Promise<Instance> {
  if (!existsSync(script)) throw new Error(`${script} is missing; run \`npm run build\` (npm run test:multi does)`);
  const stdoutPath = join(dir, `${name}.stdout.log`);
  const stderrPath = join(dir, `${name}.stderr.log`);
  const out = openSync(stdoutPath, 'a');
  const err = openSync(stderrPath, 'a');
  const child = spawn(process.execPath, [script], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, PORT: String(port) },
    stdio: ['ignore', out, err],
  });
  closeSync(out);
  closeSync(err);
  const instance: Instance = {
    name,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    child,
    stdoutPath,
    stderrPath,
    exited: new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        instance.exitInfo = { code, signal };
        resolve(instance.exitInfo);
      });
      child.once('error', () => {
        instance.exitInfo ??= { code: null, signal: null };
        resolve(instance.exitInfo);
      });
    }),
  };
  try {
    await waitForHealth(instance);
  } catch (error) {
    await stopInstance(instance);
    throw error;
  }
  return instance;
}

async function waitForHealth(instance: Instance): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (instance.exitInfo) {
      throw new Error(
        `instance ${instance.name} exited during start-up (${JSON.stringify(instance.exitInfo)})\n${instanceLogs(instance)}`,
      );
    }
    try {
      const response = await fetch(`${instance.baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}: ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `instance ${instance.name} not healthy after ${STARTUP_TIMEOUT_MS} ms (last: ${last})\n${instanceLogs(instance)}`,
  );
}

/** SIGTERM, then SIGKILL after SHUTDOWN_GRACE_MS; resolves with how the process ended. Idempotent. */
export async function stopInstance(instance: Instance): Promise<StopResult> {
  const started = Date.now();
  if (instance.exitInfo) return { ...instance.exitInfo, elapsedMs: 0, killed: false };
  instance.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    instance.exited.then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), SHUTDOWN_GRACE_MS))),
  ]);
  clearTimeout(timer);
  if (!graceful) instance.child.kill('SIGKILL');
  const info = await instance.exited;
  return { ...info, elapsedMs: Date.now() - started, killed: !graceful };
}

const MAX_LOG_CHARS = 20_000;

function tail(path: string): string {
  if (!existsSync(path)) return '(missing)';
  const text = readFileSync(path, 'utf8');
  if (!text) return '(empty)';
  return text.length > MAX_LOG_CHARS ? `…${text.slice(-MAX_LOG_CHARS)}` : text;
}

/** Both log files of an instance, for failure output. */
export function instanceLogs(instance: Instance): string {
  return [
    `----- ${instance.name} stdout (${instance.stdoutPath}) -----`,
    tail(instance.stdoutPath),
    `----- ${instance.name} stderr (${instance.stderrPath}) -----`,
    tail(instance.stderrPath),
  ].join('\n');
}

export function removeLogDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs `node dist/cli/<cli>.js …` (what `npm run <cli> -- …` runs) the way an operator does
 * beside running servers: its own process with the instances' environment (no PORT), from `dir`.
 */
export function runCli(cli: 'clients' | 'users', env: Record<string, string>, dir: string, ...args: string[]) {
  return runNodeScript(fileURLToPath(new URL(`../../dist/cli/${cli}.js`, import.meta.url)), args, { cwd: dir, env });
}

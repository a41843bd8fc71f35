// The measured workloads. Each one is bounded in time (phase length plus request timeouts).
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { jsonRequest, keepAliveAgent, setCookieValue } from './http.mjs';
import { refreshViaCookie, refreshViaTokenEndpoint } from './auth-client.mjs';
import { summarize } from './stats.mjs';

export const PASSWORD = 'correct horse battery staple';
const MAX_ERROR_SAMPLES = 5;

/**
 * One autocannon run. Besides autocannon's summary it keeps every 2xx response time, so runs
 * can be merged exactly (see mergeLoadTests).
 */
export function loadTest({ url, seconds, connections = 50, headers = {} }) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    const instance = autocannon(
      { url, connections, pipelining: 1, duration: seconds, headers, timeout: 10 },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          seconds: result.duration,
          connections,
          latencies,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes: Object.fromEntries(
            Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
          ),
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
    instance.on('error', reject);
  });
}

/** Several runs against the same target as one result: 2xx/s over the summed time, exact percentiles. */
export function mergeLoadTests(runs) {
  const latencies = runs.flatMap((r) => r.latencies);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  const summary = summarize(latencies);
  const statusCodes = {};
  for (const r of runs)
    for (const [code, n] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  return {
    runs: runs.length,
    seconds,
    connections: runs[0]?.connections,
    ok: summary.count,
    rps: summary.count / seconds,
    perRunRps: runs.map((r) => r.latencies.length / r.seconds),
    p50Ms: summary.p50,
    p99Ms: summary.p99,
    maxMs: summary.max,
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    timeouts: runs.reduce((sum, r) => sum + r.timeouts, 0),
    statusCodes,
  };
}

/** Short untimed run so JIT and connection set-up do not count against the measured run. */
export async function warmUp(url, headers, seconds) {
  if (seconds > 0) await loadTest({ url, seconds, connections: 10, headers });
}

export async function register(baseUrl, username) {
  const res = await jsonRequest(baseUrl, 'POST', '/auth/register', { username, password: PASSWORD });
  if (res.status !== 201) throw new Error(`register ${username}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
}

/** Logs in; resolves with { accessToken, refreshToken } (refresh token from the Set-Cookie). */
export async function login(baseUrl, username, agent) {
  const res = await jsonRequest(baseUrl, 'POST', '/auth/login', { username, password: PASSWORD }, { agent });
  if (res.status !== 200) throw new Error(`login ${username}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  const accessToken = JSON.parse(res.body).access_token;
  const refreshToken = setCookieValue(res.headers, 'refresh_token');
  if (!accessToken || !refreshToken) throw new Error(`login ${username}: no access_token or refresh_token cookie`);
  return { accessToken, refreshToken };
}

/** Runs `count` async tasks with at most `limit` at a time. */
async function pool(count, limit, task) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

/** `count` sessions of one user (one login each), logged in `limit` at a time. */
export function openSessions(baseUrl, username, count, limit) {
  return pool(count, limit, () => login(baseUrl, username));
}

/**
 * `sessions.length` sequential refresh chains in parallel for `seconds`: each call presents the
 * refresh token the previous call returned. A non-200 (or a 200 without a new token) is an error;
 * that chain then logs in again (untimed) so the phase keeps its concurrency, and gives up after
 * three errors.
 */
export async function refreshChains({ baseUrl, username, sessions, seconds, via }) {
  const step = via === 'cookie' ? refreshViaCookie : refreshViaTokenEndpoint;
  const agent = keepAliveAgent(sessions.length);
  const latencies = [];
  const errorSamples = [];
  let errors = 0;
  let chainsAbandoned = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;

  const chain = async (session) => {
    let token = session.refreshToken;
    let chainErrors = 0;
    while (performance.now() < deadline) {
      const t = performance.now();
      let outcome;
      try {
        outcome = await step(baseUrl, token, { agent });
      } catch (error) {
        outcome = { status: 0, body: error.message };
      }
      const elapsed = performance.now() - t;
      if (outcome.status === 200 && outcome.next) {
        latencies.push(elapsed);
        token = outcome.next;
        continue;
      }
      errors++;
      chainErrors++;
      if (errorSamples.length < MAX_ERROR_SAMPLES) {
        errorSamples.push(
          `HTTP ${outcome.status}${outcome.status === 200 ? ' without a new refresh token' : ''}: ${String(outcome.body).slice(0, 160)}`,
        );
      }
      if (chainErrors >= 3) {
        chainsAbandoned++;
        return;
      }
      try {
        token = (await login(baseUrl, username, agent)).refreshToken;
      } catch {
        chainsAbandoned++;
        return;
      }
    }
  };
  await Promise.all(sessions.map(chain));
  const wall = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    via,
    chains: sessions.length,
    ...throughput(latencies, wall),
    errors,
    chainsAbandoned,
    errorSamples,
  };
}

/** Logins (argon2 verify on the server) with `concurrency` parallel clients for `seconds`. */
export async function loginLoad({ baseUrl, username, seconds, concurrency }) {
  const agent = keepAliveAgent(concurrency);
  const latencies = [];
  const errorSamples = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        await login(baseUrl, username, agent);
        latencies.push(performance.now() - t);
      } catch (error) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(error.message.slice(0, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    concurrency,
    ...throughput(latencies, wall),
    errors,
    errorSamples,
  };
}

/**
 * `count` sequential argon2id hashes (the app's default parameters) in this process, after
 * `warmup` untimed ones: { wallMs: [...], cpuMs: [...] }. CPU time is the whole process's
 * (the hash runs on a libuv thread); on an idle machine it is close to the wall time.
 */
export async function argon2HashTimes({ count = 15, warmup = 2 } = {}) {
  const argon2 = (await import('argon2')).default;
  const options = {
    type: argon2.argon2id,
    memoryCost: ARGON2_PARAMS.memoryKiB,
    timeCost: ARGON2_PARAMS.iterations,
    parallelism: ARGON2_PARAMS.parallelism,
  };
  for (let i = 0; i < warmup; i++) await argon2.hash(PASSWORD, options);
  const wallMs = [];
  const cpuMs = [];
  for (let i = 0; i < count; i++) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await argon2.hash(PASSWORD, options);
    wallMs.push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    cpuMs.push((used.user + used.system) / 1000);
  }
  return { wallMs, cpuMs };
}

/** The app's defaults (src/config/env.schema.ts): the ceiling must hash as the app does. */
export const ARGON2_PARAMS = { type: 'argon2id', memoryKiB: 7168, iterations: 5, parallelism: 1 };

/** Successful requests per second of wall time, and their latency percentiles. */
function throughput(latencies, seconds) {
  const summary = summarize(latencies);
  return {
    seconds,
    ok: summary.count,
    perSecond: summary.count / seconds,
    p50Ms: summary.p50,
    p99Ms: summary.p99,
    maxMs: summary.max,
  };
}

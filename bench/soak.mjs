// Soak test: the built app (production settings, temp SQLite file) under a steady mixed load for a
// bounded time, watching for 5xx, latency drift and memory growth.
// `npm run soak` (builds first) or `node bench/soak.mjs`.
//
//   SOAK_SECONDS=600      length of the run (default 600 = 10 minutes)
//   SOAK_RATE=200         requests per second, open loop (a request is started every 1/RATE s
//                         whether or not earlier ones have answered, up to SOAK_MAX_IN_FLIGHT)
//   SOAK_MAX_IN_FLIGHT=128 requests outstanding at most; a start that would exceed it is skipped
//                         and counted as "dropped" (the app could not keep up)
//   BENCH_VERBOSE=1       keep the app's log (temp dir, path printed)
//
// Workload (weights in MIX): GET /auth/me, refresh chains (cookie and /auth/token), logins,
// logouts, and bad credentials that must get 401: garbage and forged access tokens, random and
// malformed refresh tokens, tokens of logged-out sessions, and reuse of a token rotated longer
// ago than the grace window (which also revokes that session). A session is used by one request
// at a time, so a legitimate client never gets a 401 and every status is either expected or not.
//
// Every 30 s: requests, expected 401s, unexpected statuses, p50/p99/max latency, event-loop delay,
// app RSS as it runs (median of 1 s samples over the window's last 5 s) and app RSS right after a
// full GC (forced through bench/lib/gc-preload.mjs at the window's end; see there why).
// Exit code 1 when any 5xx, any request got no answer (timeout, reset), the app died, or RSS
// grew more than 20 %: RSS after GC at the end of the last window against RSS after GC at the end
// of warm-up (the first 60 s or 20 % of the run, whichever is shorter). Unexpected 4xx are
// reported, not failed on. Results: bench/soak-results.json (not in .gitignore).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { removeTempDirsSync, startApp } from './lib/app.mjs';
import { logout, me, refreshViaCookie, refreshViaTokenEndpoint } from './lib/auth-client.mjs';
import { keepAliveAgent } from './lib/http.mjs';
import { login, register } from './lib/phases.mjs';
import { cleanUpOnExit } from './lib/proc.mjs';
import { positiveNumber } from './lib/settings.mjs';
import { fmt, median, percentile, renderTable, round } from './lib/stats.mjs';

const RESULTS_FILE = fileURLToPath(new URL('./soak-results.json', import.meta.url));
const GC_PRELOAD = pathToFileURL(fileURLToPath(new URL('./lib/gc-preload.mjs', import.meta.url))).href;

// ---------------------------------------------------------------- settings

const SECONDS = positiveNumber('SOAK_SECONDS', 600);
const RATE = positiveNumber('SOAK_RATE', 200);
const MAX_IN_FLIGHT = Math.round(positiveNumber('SOAK_MAX_IN_FLIGHT', 128));
const WINDOW_S = 30;
const WARMUP_S = Math.min(60, 0.2 * SECONDS);
const RSS_MEDIAN_S = 5;
const RSS_GROWTH_LIMIT = 0.2;
const TICK_MS = 5;
const REQUEST_TIMEOUT_MS = 10_000;
/** Production default (REFRESH_REUSE_GRACE=10s); reuse is only attempted with tokens older than this plus a margin. */
const GRACE_MS = 10_000;
const USERS = 10;
/** Sessions the client keeps: more than MAX_IN_FLIGHT, so an idle one is always there to use. */
const TARGET_SESSIONS = Math.max(150, MAX_IN_FLIGHT + 50);
const DEAD_POOL = 200;

/**
 * Operation weights (per 100 requests). `login_or_logout` logs in while the client has fewer than
 * TARGET_SESSIONS sessions and logs one out otherwise, so the pool neither drains nor grows.
 */
const MIX = {
  me: 50,
  refresh_cookie: 14,
  refresh_token_endpoint: 6,
  login_or_logout: 5,
  reuse_rotated_refresh: 2,
  bad_access_garbage: 4,
  bad_access_forged: 4,
  bad_refresh_random: 4,
  bad_refresh_malformed: 3,
  logged_out_refresh: 4,
  logged_out_access: 4,
};
/** What each operation must get; anything else is "unexpected". */
const EXPECT = {
  me: 200,
  refresh_cookie: 200,
  refresh_token_endpoint: 200,
  login: 200,
  logout: 204,
  reuse_rotated_refresh: 401,
  bad_access_garbage: 401,
  bad_access_forged: 401,
  bad_refresh_random: 401,
  bad_refresh_malformed: 401,
  logged_out_refresh: 401,
  logged_out_access: 401,
};
const OPS = Object.keys(MIX);
const MIX_TOTAL = OPS.reduce((sum, op) => sum + MIX[op], 0);

// ---------------------------------------------------------------- cleanup on any exit

cleanUpOnExit('soak', removeTempDirsSync);

const log = (message) => process.stderr.write(`» ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes) => bytes / (1024 * 1024);
const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
const pick = (array) => array[Math.floor(Math.random() * array.length)];

/** App RSS in bytes from /proc (NaN where there is none). */
async function readRss(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(status.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- client state

/** Live sessions, each used by at most one request at a time. */
const sessions = [];
/** Refresh and access tokens of sessions that were logged out or revoked for reuse. */
const deadRefresh = [];
const deadAccess = [];

function addDead(pool, token) {
  if (!token) return;
  pool.push(token);
  if (pool.length > DEAD_POOL) pool.splice(0, pool.length - DEAD_POOL);
}

function newSession(user, pair) {
  const session = {
    user,
    refreshToken: pair.refreshToken,
    accessToken: pair.accessToken,
    busy: false,
    firstRotated: undefined,
  };
  sessions.push(session);
  return session;
}

function dropSession(session) {
  const i = sessions.indexOf(session);
  if (i >= 0) sessions.splice(i, 1);
  addDead(deadRefresh, session.refreshToken);
  addDead(deadAccess, session.accessToken);
}

function idleSession(filter = () => true) {
  // A few random probes, then a scan: cheap with hundreds of sessions.
  for (let i = 0; i < 8 && sessions.length; i++) {
    const s = pick(sessions);
    if (!s.busy && filter(s)) return s;
  }
  return sessions.find((s) => !s.busy && filter(s));
}

/** An access token with one signature character changed: well-formed, wrong signature. */
function forge(accessToken) {
  const at = accessToken.length - 10;
  const c = accessToken[at] === 'A' ? 'B' : 'A';
  return accessToken.slice(0, at) + c + accessToken.slice(at + 1);
}

function chooseOp() {
  let r = Math.random() * MIX_TOTAL;
  for (const op of OPS) {
    r -= MIX[op];
    if (r < 0) return op;
  }
  return OPS[0];
}

/**
 * Runs one operation. Resolves with { op, status } (status 0 = no answer). Falls back to a login
 * when the operation needs an idle session and none is free.
 */
async function runOp(baseUrl, agent, op) {
  const opts = { agent, timeoutMs: REQUEST_TIMEOUT_MS };
  if (op === 'login_or_logout') op = sessions.length < TARGET_SESSIONS ? 'login' : 'logout';
  if (op === 'logged_out_refresh' && !deadRefresh.length) op = 'bad_refresh_random';
  if (op === 'logged_out_access' && !deadAccess.length) op = 'bad_access_garbage';

  let session;
  if (['me', 'refresh_cookie', 'refresh_token_endpoint', 'logout', 'bad_access_forged'].includes(op)) {
    session = idleSession();
    if (!session) op = 'login';
  } else if (op === 'reuse_rotated_refresh') {
    const cutoff = Date.now() - GRACE_MS - 1000;
    session = idleSession((s) => s.firstRotated && s.firstRotated.at < cutoff);
    if (!session) op = 'bad_refresh_random';
  }
  if (session) session.busy = true;
  try {
    switch (op) {
      case 'login': {
        const user = pick(users);
        try {
          newSession(user, await login(baseUrl, user, agent));
          return { op, status: 200 };
        } catch (error) {
          return { op, status: httpStatusOf(error), error };
        }
      }
      case 'me': {
        const res = await me(baseUrl, session.accessToken, opts);
        if (res.status !== 200) dropSession(session);
        return { op, status: res.status };
      }
      case 'refresh_cookie':
      case 'refresh_token_endpoint': {
        const step = op === 'refresh_cookie' ? refreshViaCookie : refreshViaTokenEndpoint;
        const res = await step(baseUrl, session.refreshToken, opts);
        if (res.status === 200 && res.next && res.accessToken) {
          session.firstRotated ??= { token: session.refreshToken, at: Date.now() };
          session.refreshToken = res.next;
          session.accessToken = res.accessToken;
          return { op, status: 200 };
        }
        dropSession(session);
        return { op, status: res.status === 200 ? -1 : res.status };
      }
      case 'logout': {
        const res = await logout(baseUrl, session.refreshToken, opts);
        dropSession(session);
        return { op, status: res.status };
      }
      case 'reuse_rotated_refresh': {
        // The server must see reuse, refuse it and revoke the session: it leaves the pool.
        const res = await refreshViaCookie(baseUrl, session.firstRotated.token, opts);
        dropSession(session);
        return { op, status: res.status };
      }
      case 'bad_access_garbage':
        return { op, status: (await me(baseUrl, `garbage.${randomBytes(12).toString('base64url')}`, opts)).status };
      case 'bad_access_forged':
        return { op, status: (await me(baseUrl, forge(session.accessToken), opts)).status };
      case 'bad_refresh_random':
        return { op, status: (await refreshViaCookie(baseUrl, randomBytes(32).toString('base64url'), opts)).status };
      case 'bad_refresh_malformed':
        return {
          op,
          status: (await refreshViaCookie(baseUrl, `not-a-token-${randomBytes(4).toString('hex')}`, opts)).status,
        };
      case 'logged_out_refresh':
        return { op, status: (await refreshViaCookie(baseUrl, pick(deadRefresh), opts)).status };
      case 'logged_out_access':
        return { op, status: (await me(baseUrl, pick(deadAccess), opts)).status };
      default:
        throw new Error(`unknown op ${op}`);
    }
  } catch (error) {
    // No answer (timeout, connection reset): the session's state is unknown, so retire it.
    if (session) dropSession(session);
    return { op, status: 0, error };
  } finally {
    if (session) session.busy = false;
  }
}

/** login() in phases.mjs throws "login <user>: HTTP <status> …" for a non-200. */
function httpStatusOf(error) {
  const match = /HTTP (\d{3})/.exec(error.message);
  return match ? Number(match[1]) : 0;
}

// ---------------------------------------------------------------- measurement

function newWindow(index) {
  return {
    index,
    startS: index * WINDOW_S,
    latencies: [],
    latenciesNoLogin: [],
    statuses: {},
    expected: 0,
    expected4xx: 0,
    unexpected: {},
    fiveXx: 0,
    noAnswer: 0,
    dropped: 0,
  };
}

const windows = [];
const totals = {
  requests: 0,
  expected: 0,
  expected4xx: 0,
  unexpected: {},
  fiveXx: 0,
  noAnswer: 0,
  dropped: 0,
  byOp: {},
};
const rssSamples = []; // { t (s since start), rss (bytes) }
const errorSamples = [];

function windowAt(t) {
  const index = Math.floor(t / WINDOW_S);
  while (windows.length <= index) windows.push(newWindow(windows.length));
  return windows[index];
}

function recordResult(startedAt, t0, result, ms) {
  const w = windowAt((startedAt - t0) / 1000);
  const { op, status } = result;
  const key = status === 0 ? 'no answer' : status === -1 ? '200 without token' : String(status);
  w.latencies.push(ms);
  if (op !== 'login') w.latenciesNoLogin.push(ms);
  w.statuses[key] = (w.statuses[key] ?? 0) + 1;
  totals.requests++;
  const byOp = (totals.byOp[op] ??= { count: 0, latencies: [], statuses: {} });
  byOp.count++;
  byOp.latencies.push(ms);
  byOp.statuses[key] = (byOp.statuses[key] ?? 0) + 1;
  if (status === EXPECT[op]) {
    w.expected++;
    totals.expected++;
    if (status >= 400) {
      w.expected4xx++;
      totals.expected4xx++;
    }
    return;
  }
  const label = `${op} → ${key}`;
  w.unexpected[label] = (w.unexpected[label] ?? 0) + 1;
  totals.unexpected[label] = (totals.unexpected[label] ?? 0) + 1;
  if (status >= 500) {
    w.fiveXx++;
    totals.fiveXx++;
  }
  if (status === 0) {
    w.noAnswer++;
    totals.noAnswer++;
  }
  if (errorSamples.length < 10)
    errorSamples.push(`${label}${result.error ? `: ${result.error.message.slice(0, 160)}` : ''}`);
}

/** Median RSS over the samples with t in [from, to). */
function rssBetween(from, to) {
  const values = rssSamples.filter((s) => s.t >= from && s.t < to).map((s) => s.rss);
  return values.length ? median(values) : NaN;
}

function summarizeWindow(w, endS, eld, mem) {
  const sorted = Float64Array.from(w.latencies).sort();
  const sortedNoLogin = Float64Array.from(w.latenciesNoLogin).sort();
  const seconds = endS - w.startS;
  return {
    window: `${clock(w.startS)}–${clock(endS)}`,
    startS: w.startS,
    endS: round(endS, 1),
    requests: w.latencies.length,
    perSecond: round(w.latencies.length / seconds, 1),
    expected: w.expected,
    expected4xx: w.expected4xx,
    unexpected: w.unexpected,
    unexpectedCount: Object.values(w.unexpected).reduce((a, b) => a + b, 0),
    fiveXx: w.fiveXx,
    noAnswer: w.noAnswer,
    dropped: w.dropped,
    statuses: w.statuses,
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    p99NoLoginMs: round(percentile(sortedNoLogin, 99), 2),
    maxMs: round(sorted.length ? sorted[sorted.length - 1] : NaN, 2),
    rssMB: round(mb(rssBetween(endS - RSS_MEDIAN_S, endS + 0.001)), 1),
    rssAfterGcMB: mem ? round(mb(mem.after.rss), 1) : null,
    heapUsedAfterGcMB: mem ? round(mb(mem.after.heapUsed), 1) : null,
    gcMs: mem ? round(mem.gcMs, 1) : null,
    eventLoopMaxMs: eld ? round(eld.maxMs, 1) : null,
    eventLoopP99Ms: eld ? round(eld.p99Ms, 1) : null,
  };
}

/** A plain left/right-aligned text grid. */
function renderGrid(columns, rows) {
  const width = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => String(r[c.key] ?? '').length)));
  const cell = (c, i, v) => (c.right ? String(v ?? '').padStart(width[i]) : String(v ?? '').padEnd(width[i]));
  const line = (values) => `| ${columns.map((c, i) => cell(c, i, values[i])).join(' | ')} |`;
  return [
    line(columns.map((c) => c.title)),
    `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(columns.map((c) => r[c.key]))),
  ].join('\n');
}

// ---------------------------------------------------------------- main

const users = Array.from({ length: USERS }, (_, i) => `soak-user-${i}`);
const results = {
  date: new Date().toISOString(),
  machine: {
    cpuModel: os.cpus()[0]?.model,
    cpuCount: os.cpus().length,
    totalMemMB: Math.round(mb(os.totalmem())),
    node: process.version,
    loadAvgAtStart: os.loadavg().map((n) => round(n, 2)),
  },
  settings: {
    seconds: SECONDS,
    ratePerSecond: RATE,
    maxInFlight: MAX_IN_FLIGHT,
    windowSeconds: WINDOW_S,
    warmupSeconds: WARMUP_S,
    rssGrowthLimit: RSS_GROWTH_LIMIT,
    mix: MIX,
    expect: EXPECT,
    app: 'node -r scripts/preload.cjs dist/main.js, NODE_ENV=production, JWT_ALG=RS256, fresh SQLite file, defaults otherwise',
  },
  windows: [],
  rss: {},
  totals: undefined,
  byOp: {},
  problems: [],
  verdict: undefined,
};
const problems = results.problems;

log(
  `soak: ${SECONDS} s at ${RATE} req/s (≤ ${MAX_IN_FLIGHT} in flight), windows of ${WINDOW_S} s, warm-up ${WARMUP_S} s; starting the app`,
);
const app = await startApp({
  alg: 'RS256',
  label: 'soak',
  extraEnv: { SOAK_GC: '1', NODE_OPTIONS: `--expose-gc --import=${GC_PRELOAD}` },
});
let gcSeq = 0;
/** Full GC in the app, then its memory: { gcMs, before, after } (process.memoryUsage()), or undefined. */
const gcAndMeasure = (timeoutMs = 5000) =>
  new Promise((resolve) => {
    const child = app.child;
    if (child.exitInfo || !child.connected) return resolve(undefined);
    const id = ++gcSeq;
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const onMessage = (m) => m?.type === 'soak:gc' && m.id === id && done(m);
    function done(value) {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(value);
    }
    child.on('message', onMessage);
    child.send({ type: 'soak:gc', id }, (error) => error && done(undefined));
  });
log(`app up in ${fmt(app.coldStartMs, 'ms')} (pid ${app.pid}, ${app.baseUrl})`);
const agent = keepAliveAgent(MAX_IN_FLIGHT);
let appDied = false;

try {
  for (const user of users) await register(app.baseUrl, user);
  // Logins cost an argon2 hash each: open the initial sessions a few at a time.
  let opened = 0;
  const opener = async () => {
    while (opened < TARGET_SESSIONS) {
      const user = users[opened++ % USERS];
      newSession(user, await login(app.baseUrl, user, agent));
    }
  };
  await Promise.all(Array.from({ length: 4 }, opener));
  log(`${USERS} users, ${sessions.length} sessions; load starts`);
  await app.eventLoopDelay(); // reset the histogram: windows measure from here

  const t0 = performance.now();
  const endAt = t0 + SECONDS * 1000;
  let issued = 0;
  let inFlight = 0;
  let nextWindowEnd = WINDOW_S;
  const pending = new Set();
  const windowSummaries = results.windows;

  const sampleRss = async () => {
    const rss = await readRss(app.pid);
    if (Number.isFinite(rss)) rssSamples.push({ t: (performance.now() - t0) / 1000, rss });
  };
  await sampleRss();
  const rssTimer = setInterval(() => void sampleRss(), 1000);

  // Event-loop delay is read (and reset) at each window's end. The summary printed here misses
  // requests still in flight; the final table is computed again once all have answered.
  const closed = [];
  let baselineMem;
  const closeWindow = async (endS) => {
    await sampleRss();
    const eld = await app.eventLoopDelay();
    const mem = await gcAndMeasure();
    const w = windowAt(Math.max(0, endS - 0.001));
    closed.push({ w, endS, eld, mem });
    const s = summarizeWindow(w, endS, eld, mem);
    log(
      `[${s.window}] ${s.requests} req (${s.perSecond}/s), ${s.expected4xx} expected 401, ${s.unexpectedCount} unexpected, ${s.fiveXx} 5xx, ` +
        `p99 ${fmt(s.p99Ms, 'ms')} (no login ${fmt(s.p99NoLoginMs, 'ms')}), RSS ${fmt(s.rssMB, 'MB')} (after GC ${fmt(s.rssAfterGcMB, 'MB')}), ` +
        `event loop max ${fmt(s.eventLoopMaxMs, 'ms')}${s.dropped ? `, ${s.dropped} dropped` : ''}`,
    );
  };

  while (performance.now() < endAt) {
    const now = performance.now();
    const elapsedS = (now - t0) / 1000;
    if (elapsedS >= nextWindowEnd) {
      await closeWindow(nextWindowEnd);
      nextWindowEnd += WINDOW_S;
    }
    if (baselineMem === undefined && elapsedS >= WARMUP_S) {
      baselineMem = (await gcAndMeasure()) ?? null;
      log(
        `warm-up over at ${round(elapsedS, 1)} s: RSS after GC ${baselineMem ? fmt(mb(baselineMem.after.rss), 'MB') : 'n/a'} is the baseline`,
      );
    }
    if (app.child.exitInfo) {
      appDied = true;
      break;
    }
    const due = Math.floor(((now - t0) / 1000) * RATE) - issued;
    for (let i = 0; i < due; i++) {
      issued++;
      if (inFlight >= MAX_IN_FLIGHT) {
        windowAt(elapsedS).dropped++;
        totals.dropped++;
        continue;
      }
      inFlight++;
      const startedAt = performance.now();
      const p = runOp(app.baseUrl, agent, chooseOp()).then((result) => {
        recordResult(startedAt, t0, result, performance.now() - startedAt);
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await sleep(TICK_MS);
  }
  await Promise.all(pending); // bounded by REQUEST_TIMEOUT_MS
  clearInterval(rssTimer);
  const totalS = Math.min(SECONDS, (performance.now() - t0) / 1000);
  if (app.child.exitInfo) appDied = true;
  if (!appDied && windows.length > closed.length) await closeWindow(Math.min(SECONDS, (closed.length + 1) * WINDOW_S));
  for (const { w, endS, eld, mem } of closed) windowSummaries.push(summarizeWindow(w, endS, eld, mem));

  // ---- verdicts
  // RSS after a full GC at the end of warm-up vs at the end of the last window. Where the GC
  // preload did not answer, the running RSS (medians of 5 s) stands in, with a note.
  const lastMem = closed[closed.length - 1]?.mem;
  const rawBaseline = rssBetween(WARMUP_S, WARMUP_S + RSS_MEDIAN_S);
  const rawFinal = rssBetween(SECONDS - RSS_MEDIAN_S, SECONDS + 1);
  const afterGc = Boolean(baselineMem && lastMem);
  if (!afterGc)
    problems.push('note: the app did not answer the GC request; the RSS check uses running RSS, which swings with GC');
  const baseline = afterGc ? baselineMem.after.rss : rawBaseline;
  const final = afterGc ? lastMem.after.rss : rawFinal;
  const growth = final / baseline - 1;
  results.rss = {
    measure: afterGc ? 'RSS right after a forced full GC' : 'running RSS, median of 1 s samples over 5 s',
    baselineMB: round(mb(baseline), 1),
    baselineAtS: round(WARMUP_S, 1),
    finalMB: round(mb(final), 1),
    finalAtS: closed[closed.length - 1]?.endS,
    growth: round(growth, 4),
    limit: RSS_GROWTH_LIMIT,
    runningBaselineMB: round(mb(rawBaseline), 1),
    runningFinalMB: round(mb(rawFinal), 1),
    heapUsedAfterGcMB: afterGc
      ? [round(mb(baselineMem.after.heapUsed), 1), round(mb(lastMem.after.heapUsed), 1)]
      : undefined,
    peakMB: round(mb(app.rss.peak), 1),
    samples: rssSamples.map((s) => [round(s.t, 1), round(mb(s.rss), 1)]),
  };
  results.totals = {
    ...totals,
    seconds: round(totalS, 1),
    perSecond: round(totals.requests / totalS, 1),
    byOp: undefined,
  };
  for (const [op, v] of Object.entries(totals.byOp)) {
    const sorted = Float64Array.from(v.latencies).sort();
    results.byOp[op] = {
      count: v.count,
      expect: EXPECT[op],
      statuses: v.statuses,
      p50Ms: round(percentile(sorted, 50), 2),
      p99Ms: round(percentile(sorted, 99), 2),
      maxMs: round(sorted[sorted.length - 1], 2),
    };
  }
  if (appDied)
    problems.push(
      `the app exited during the run: ${JSON.stringify(app.child.exitInfo)}; last output: ${app.child.lastOutput(5).join(' | ')}`,
    );
  if (totals.fiveXx) problems.push(`${totals.fiveXx} responses with 5xx`);
  if (totals.noAnswer) problems.push(`${totals.noAnswer} requests got no answer (timeout or connection error)`);
  if (!Number.isFinite(growth)) problems.push('RSS could not be measured (no /proc?)');
  else if (growth > RSS_GROWTH_LIMIT) {
    problems.push(
      `RSS (${results.rss.measure}) grew ${(growth * 100).toFixed(1)} % from ${fmt(mb(baseline), 'MB')} (end of warm-up) to ${fmt(mb(final), 'MB')} (end), limit ${RSS_GROWTH_LIMIT * 100} %`,
    );
  }
  if (SECONDS < WINDOW_S * 2)
    problems.push(`note: a run of ${SECONDS} s is shorter than two windows; the RSS check means little`);
} finally {
  agent.destroy();
  results.appExit = await app.stop();
  if (process.env.BENCH_VERBOSE) log(`app log kept: ${app.logFile}`);
}

// ---------------------------------------------------------------- report

const failures = problems.filter((p) => !p.startsWith('note:'));
results.verdict = failures.length ? 'FAIL' : 'PASS';
results.machine.loadAvgAtEnd = os.loadavg().map((n) => round(n, 2));
results.errorSamples = errorSamples;

const statusText = (counts) =>
  Object.entries(counts)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || '-';

console.log('');
console.log(
  `auth-service soak — ${results.date} — ${SECONDS} s at ${RATE} req/s — ${results.machine.cpuCount} × ${results.machine.cpuModel} — node ${process.version}` +
    ` — load avg ${results.machine.loadAvgAtStart.join(' ')} → ${results.machine.loadAvgAtEnd.join(' ')}`,
);
console.log(
  renderGrid(
    [
      { key: 'window', title: 'window' },
      { key: 'requests', title: 'requests', right: true },
      { key: 'perSecond', title: 'req/s', right: true },
      { key: 'expected4xx', title: 'expected 401', right: true },
      { key: 'unexpectedCount', title: 'unexpected', right: true },
      { key: 'fiveXx', title: '5xx', right: true },
      { key: 'p50Ms', title: 'p50 ms', right: true },
      { key: 'p99Ms', title: 'p99 ms', right: true },
      { key: 'p99NoLoginMs', title: 'p99 ms (no login)', right: true },
      { key: 'maxMs', title: 'max ms', right: true },
      { key: 'rssMB', title: 'RSS MB', right: true },
      { key: 'rssAfterGcMB', title: 'RSS after GC MB', right: true },
      { key: 'heapUsedAfterGcMB', title: 'heap after GC MB', right: true },
      { key: 'eventLoopMaxMs', title: 'event loop max ms', right: true },
      { key: 'dropped', title: 'dropped', right: true },
    ],
    results.windows,
  ),
);
console.log('');
console.log(
  renderGrid(
    [
      { key: 'op', title: 'operation' },
      { key: 'count', title: 'count', right: true },
      { key: 'expect', title: 'expected', right: true },
      { key: 'statuses', title: 'statuses' },
      { key: 'p50Ms', title: 'p50 ms', right: true },
      { key: 'p99Ms', title: 'p99 ms', right: true },
      { key: 'maxMs', title: 'max ms', right: true },
    ],
    Object.entries(results.byOp).map(([op, v]) => ({ op, ...v, statuses: statusText(v.statuses) })),
  ),
);
console.log('');
const t = results.totals;
const rows = [
  {
    metric: 'requests (total · per second)',
    value: t ? `${t.requests} · ${fmt(t.perSecond)}` : 'n/a',
    target: `${RATE}/s`,
    status: '-',
  },
  { metric: 'dropped (in-flight limit reached)', value: t ? String(t.dropped) : 'n/a', target: '-', status: '-' },
  { metric: 'expected 401s (bad tokens, reuse)', value: t ? String(t.expected4xx) : 'n/a', target: '-', status: '-' },
  { metric: '5xx', value: t ? String(t.fiveXx) : 'n/a', target: '0', status: t?.fiveXx === 0 ? 'PASS' : 'FAIL' },
  {
    metric: 'no answer (timeouts, resets)',
    value: t ? String(t.noAnswer) : 'n/a',
    target: '0',
    status: t?.noAnswer === 0 ? 'PASS' : 'FAIL',
  },
  {
    metric: 'unexpected statuses (not 5xx)',
    value: t
      ? String(
          Object.entries(t.unexpected)
            .filter(([k]) => !/→ (5\d\d|no answer)$/.test(k))
            .reduce((n, [, v]) => n + v, 0),
        )
      : 'n/a',
    target: 'report',
    status: '-',
  },
  {
    metric: `RSS end of warm-up → last window (${results.rss.measure === 'RSS right after a forced full GC' ? 'after full GC' : 'running'})`,
    value: `${fmt(results.rss.baselineMB, 'MB')} → ${fmt(results.rss.finalMB, 'MB')} (${Number.isFinite(results.rss.growth) ? `${results.rss.growth >= 0 ? '+' : ''}${(results.rss.growth * 100).toFixed(1)} %` : 'n/a'})`,
    target: `≤ +${RSS_GROWTH_LIMIT * 100} %`,
    status: Number.isFinite(results.rss.growth) ? (results.rss.growth <= RSS_GROWTH_LIMIT ? 'PASS' : 'FAIL') : 'FAIL',
  },
  {
    metric: `RSS running (median of ${RSS_MEDIAN_S} s), info`,
    value: `${fmt(results.rss.runningBaselineMB, 'MB')} → ${fmt(results.rss.runningFinalMB, 'MB')}`,
    target: '-',
    status: '-',
  },
  { metric: 'RSS peak (sampled every 200 ms)', value: fmt(results.rss.peakMB, 'MB'), target: '-', status: '-' },
];
console.log(renderTable(rows));
if (t && Object.keys(t.unexpected).length) {
  console.log('\nunexpected, by operation → status:');
  for (const [k, n] of Object.entries(t.unexpected)) console.log(`  ${k}: ${n}`);
  for (const e of errorSamples.slice(0, 5)) console.log(`  e.g. ${e}`);
}
if (problems.length) {
  console.log(`\n${failures.length ? 'PROBLEMS (exit code 1):' : 'NOTES:'}`);
  for (const p of problems) console.log(`  - ${p}`);
}
writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nsoak: ${results.verdict}; results written to ${RESULTS_FILE}`);
process.exitCode = failures.length ? 1 : 0;

// Benchmark harness for the auth service. `npm run bench` (builds first) or `node bench/run.mjs`.
//
//   BENCH_SECONDS=10         length of each measured phase (default 10)
//   BENCH_ONLY=me,refresh,login,fresh,cold   phases to run (default all; `me` includes the ceiling and the
//                            RS256/ES256/HS256 variants, `refresh` both the cookie and /auth/token flows,
//                            `fresh` /auth/me on a freshly started app vs one warmed by other traffic,
//                            `cold` the cold starts, last, with no other app running)
//   BENCH_CHAINS=32          parallel refresh chains
//   BENCH_ME_ROUNDS=2        the GET /auth/me time is split into this many rounds, each running
//                            ceiling, RS256, ES256, HS256 in turn (order reversed every other round),
//                            so a load change on a shared machine hits every target alike
//   BENCH_VERBOSE=1          keep each app's log (temp dir, path printed) instead of deleting it
//   BENCH_COLD_STARTS=5      rounds of (first start on a new database, restart on it)
//
// Prints a table (metric, value, target, PASS/MISS) and writes bench/results.json. Exit code 0
// when everything ran (also with MISSes), 1 when something broke (app did not start, errors).
//
// Beside each value it prints the same metric from bench/baseline.json (the last accepted run),
// so a regression shows at a glance. To accept a run as the new baseline:
//   cp bench/results.json bench/baseline.json   (and commit it)
// BENCH_BASELINE=<file> compares against another results file; BENCH_BASELINE=none turns it off.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { removeTempDirsSync, startApp } from './lib/app.mjs';
import { measureColdStarts } from './lib/cold-start.mjs';
import { request } from './lib/http.mjs';
import {
  ARGON2_PARAMS,
  argon2HashTimes,
  loadTest,
  login,
  loginLoad,
  mergeLoadTests,
  openSessions,
  refreshChains,
  register,
  warmUp,
} from './lib/phases.mjs';
import { freshMeRows, measureFreshMe } from './lib/fresh-me.mjs';
import { positiveNumber } from './lib/settings.mjs';
import { cleanUpOnExit, spawnChild, stopChild, waitForLine } from './lib/proc.mjs';
import { fmt, median, pct, renderTable, round } from './lib/stats.mjs';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));
const BASELINE_FILE = process.env.BENCH_BASELINE || fileURLToPath(new URL('./baseline.json', import.meta.url));
const CEILING_SERVER = fileURLToPath(new URL('./lib/ceiling-server.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));

// ---------------------------------------------------------------- settings

const PHASES = ['me', 'refresh', 'login', 'fresh', 'cold'];
const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
const unknown = only.filter((p) => !PHASES.includes(p));
if (unknown.length) {
  console.error(
    `BENCH_ONLY: unknown phase(s) ${unknown.join(', ')}; use a comma-separated subset of ${PHASES.join(',')}`,
  );
  process.exit(2);
}
const run = new Set(only.length ? only : PHASES);

const SECONDS = positiveNumber('BENCH_SECONDS', 10);
const CHAINS = Math.round(positiveNumber('BENCH_CHAINS', 32));
const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const ME_CONNECTIONS = 50;
const ME_ROUNDS = Math.round(positiveNumber('BENCH_ME_ROUNDS', 2));
const LOGIN_CONCURRENCY = 2 * CORES;
const WARMUP_SECONDS = Math.min(2, SECONDS / 5);
const COLD_STARTS = Math.round(positiveNumber('BENCH_COLD_STARTS', 5));
const TARGETS = {
  coldFirstMs: 900,
  coldRestartMs: 600,
  meRatio: 0.5,
  asymVsHs: 0.9,
  refreshPerSecond: 1500,
  loginRatio: 0.9,
  loginEventLoopMs: 50,
  rssBytes: 150 * 1024 * 1024,
  freshVsMixed: 0.9,
};
const USER = 'bench-user';

// ---------------------------------------------------------------- cleanup on any exit

cleanUpOnExit('bench', removeTempDirsSync);

// ---------------------------------------------------------------- helpers

const log = (message) => process.stderr.write(`» ${message}\n`);
const mb = (bytes) => bytes / (1024 * 1024);
const problems = [];

function gitDescribe() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return `${commit}${dirty ? ' (src modified)' : ''}`;
  } catch {
    return undefined;
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function eventLoopSummary(eld) {
  if (!eld) return undefined;
  return {
    maxMs: round(eld.maxMs, 1),
    p99Ms: round(eld.p99Ms, 1),
    p50Ms: round(eld.p50Ms, 1),
    rawMaxMs: round(eld.rawMaxMs, 1),
    samples: eld.count,
    windowMs: eld.windowMs,
  };
}

/** CPU use over one or more phase readings (see app.endPhase); `count` = successful requests. */
function cpuSummary(readings, count) {
  const sum = (key) => readings.reduce((total, r) => total + r[key], 0);
  const wall = sum('wallMs');
  const app = sum('appCpuMs');
  const bench = sum('benchCpuMs');
  const machine = sum('machineBusyMs');
  return {
    appCpuMsPerRequest: round(app / count, 3),
    appCores: round(app / wall, 2),
    benchCores: round(bench / wall, 2),
    otherCores: Number.isFinite(machine) ? round(Math.max(0, machine - app - bench) / wall, 2) : undefined,
  };
}

async function startCeiling() {
  const child = spawnChild(process.execPath, [CEILING_SERVER], { env: { ...process.env, PORT: '0' }, ipc: true });
  try {
    const [, port] = await waitForLine(child, /listening (\d+)/, 10_000);
    return { child, url: `http://127.0.0.1:${port}/` };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** Starts one app variant and registers the bench user; on failure records it and returns undefined. */
async function launch(alg) {
  const variant = { alg };
  results.variants.push(variant);
  log(`app ${alg}: starting (cold start = spawn → first 200 on /.well-known/jwks.json)`);
  try {
    const app = await startApp({ alg });
    variant.pid = app.pid;
    variant.coldStartMs = round(app.coldStartMs, 1);
    log(`app ${alg}: up in ${fmt(app.coldStartMs, 'ms')} (pid ${app.pid}, port ${app.port})`);
    app.variant = variant;
    try {
      await register(app.baseUrl, USER);
    } catch (error) {
      try {
        app.assertAlive('registration');
      } finally {
        await shutDown(app);
      }
      throw error;
    }
    return app;
  } catch (error) {
    variant.error = error.message;
    problems.push(`app ${alg}: ${error.message}`);
    log(`app ${alg}: FAILED: ${error.message}`);
    return undefined;
  }
}

async function shutDown(app) {
  if (!app || app.stopped) return;
  app.stopped = true;
  const exit = await app.stop();
  const v = app.variant;
  v.rssPeakMB = round(mb(app.rss.peak), 1);
  v.rssHighWaterMarkMB = app.rss.hwm ? round(mb(app.rss.hwm), 1) : undefined;
  v.rssSamples = app.rss.samples;
  v.exit = exit;
}

/**
 * GET /auth/me on every app variant and the ceiling on the bare server, interleaved: ME_ROUNDS
 * rounds of SECONDS / ME_ROUNDS each per target, order reversed every other round.
 */
async function measureMe(ceilingUrl, apps) {
  const targets = [];
  if (ceilingUrl) targets.push({ name: 'ceiling', url: ceilingUrl, headers: {}, runs: [] });
  for (const app of apps) {
    const { accessToken } = await login(app.baseUrl, USER);
    const probe = await request(app.baseUrl, { path: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } });
    if (probe.status !== 200)
      throw new Error(`GET /auth/me ${app.alg} with a fresh token: HTTP ${probe.status} ${probe.body.slice(0, 200)}`);
    targets.push({
      name: app.alg,
      app,
      url: `${app.baseUrl}/auth/me`,
      headers: { authorization: `Bearer ${accessToken}` },
      runs: [],
      eld: [],
      rss: [],
      phases: [],
    });
  }
  const slice = SECONDS / ME_ROUNDS;
  log(
    `GET /auth/me vs ceiling: ${targets.map((t) => t.name).join(', ')}; ${ME_ROUNDS} round(s) × ${fmt(slice, 's', 2)} each, ` +
      `autocannon ${ME_CONNECTIONS} connections, pipelining 1 (warm-up ${fmt(WARMUP_SECONDS, 's', 2)} each)`,
  );
  for (const t of targets) await warmUp(t.url, t.headers, WARMUP_SECONDS);
  for (let r = 0; r < ME_ROUNDS; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      if (t.app) await t.app.markPhase();
      t.runs.push(await loadTest({ url: t.url, seconds: slice, connections: ME_CONNECTIONS, headers: t.headers }));
      if (t.app) {
        t.app.assertAlive(`GET /auth/me (${t.name})`);
        const phase = await t.app.endPhase();
        t.eld.push(phase.eventLoop);
        t.rss.push(phase.rssPeakBytes);
        t.phases.push(phase);
      }
    }
  }
  const shape = (t) => {
    const m = mergeLoadTests(t.runs);
    const bad = m.non2xx + m.errors + m.timeouts;
    if (bad)
      problems.push(
        `${t.name === 'ceiling' ? 'ceiling' : `/auth/me ${t.name}`}: ${m.non2xx} non-2xx (${JSON.stringify(m.statusCodes)}), ${m.errors} errors, ${m.timeouts} timeouts`,
      );
    return {
      ...m,
      rps: round(m.rps, 0),
      perRunRps: m.perRunRps.map((r) => round(r, 0)),
      seconds: round(m.seconds, 2),
      p50Ms: round(m.p50Ms, 2),
      p99Ms: round(m.p99Ms, 2),
      maxMs: round(m.maxMs, 2),
    };
  };
  const ceilingTarget = targets.find((t) => t.name === 'ceiling');
  if (ceilingTarget) results.ceiling = shape(ceilingTarget);
  for (const t of targets.filter((x) => x.app)) {
    const me = shape(t);
    const readings = t.eld.filter(Boolean);
    if (readings.length < t.eld.length) problems.push(`event-loop delay of app ${t.name} could not be read`);
    const worst = readings.reduce((a, b) => (!a || b.maxMs > a.maxMs ? b : a), undefined);
    t.app.variant.me = {
      ...me,
      ratioToCeiling: results.ceiling ? round(me.rps / results.ceiling.rps, 4) : undefined,
      eventLoop: eventLoopSummary(worst),
      cpu: cpuSummary(t.phases, me.ok),
      rssPeakMB: round(mb(Math.max(...t.rss)), 1),
    };
  }
}

async function measureRefresh(app, via) {
  const label = via === 'cookie' ? 'POST /auth/refresh (cookie)' : 'POST /auth/token (grant_type=refresh_token)';
  log(`app ${app.alg}: ${label}, ${CHAINS} chains, ${SECONDS} s (logging in ${CHAINS} sessions first)`);
  const sessions = await openSessions(app.baseUrl, USER, CHAINS, CORES * 2);
  await app.markPhase();
  const result = await refreshChains({ baseUrl: app.baseUrl, username: USER, sessions, seconds: SECONDS, via });
  app.assertAlive(label);
  const phase = await app.endPhase();
  if (result.errors) {
    problems.push(
      `${label}: ${result.errors} errors (${result.chainsAbandoned} chains abandoned); e.g. ${result.errorSamples[0]}`,
    );
  }
  return {
    ...result,
    perSecond: round(result.perSecond, 0),
    p50Ms: round(result.p50Ms, 2),
    p99Ms: round(result.p99Ms, 2),
    maxMs: round(result.maxMs, 2),
    seconds: round(result.seconds, 2),
    ...phaseReadings(phase, result.ok),
  };
}

/** What the app itself showed during one phase: event-loop delay, CPU per request, peak RSS. */
function phaseReadings(phase, ok) {
  return {
    eventLoop: eventLoopSummary(phase.eventLoop),
    cpu: cpuSummary([phase], ok),
    rssPeakMB: round(mb(phase.rssPeakBytes), 1),
  };
}

async function measureLogin(app) {
  // Half the hashes before the login phase and half after, so a load change on a shared machine
  // during the phase shows in both the ceiling and the measurement.
  const { memoryKiB, iterations, parallelism } = ARGON2_PARAMS;
  log(
    `argon2: 15 sequential argon2id hashes (m=${memoryKiB}, t=${iterations}, p=${parallelism}) in the bench process (15 more after the login phase)`,
  );
  const before = await argon2HashTimes({ count: 15 });
  log(`app ${app.alg}: POST /auth/login, ${LOGIN_CONCURRENCY} concurrent clients, ${SECONDS} s`);
  await app.markPhase();
  const result = await loginLoad({
    baseUrl: app.baseUrl,
    username: USER,
    seconds: SECONDS,
    concurrency: LOGIN_CONCURRENCY,
  });
  app.assertAlive('POST /auth/login');
  const phase = await app.endPhase();
  const after = await argon2HashTimes({ count: 15, warmup: 0 });
  const times = [...before.wallMs, ...after.wallMs];
  const hashMs = median(times);
  const hashCpuMs = median([...before.cpuMs, ...after.cpuMs]);
  const ceilingPerSecond = CORES / (hashMs / 1000);
  log(`argon2: median ${fmt(hashMs, 'ms', 2)} per hash → ceiling ${fmt(ceilingPerSecond, '/s')} on ${CORES} cores`);
  if (result.errors) problems.push(`POST /auth/login: ${result.errors} errors; e.g. ${result.errorSamples[0]}`);
  if (!phase.eventLoop) problems.push('event-loop delay of the app during login could not be read');
  return {
    argon2: {
      params: ARGON2_PARAMS,
      count: times.length,
      medianMs: round(hashMs, 2),
      medianBeforeMs: round(median(before.wallMs), 2),
      medianAfterMs: round(median(after.wallMs), 2),
      medianCpuMs: round(hashCpuMs, 2),
      minMs: round(Math.min(...times), 2),
      maxMs: round(Math.max(...times), 2),
    },
    ceilingPerSecond: round(ceilingPerSecond, 1),
    ...result,
    perSecond: round(result.perSecond, 1),
    ratioToCeiling: round(result.perSecond / ceilingPerSecond, 4),
    p50Ms: round(result.p50Ms, 1),
    p99Ms: round(result.p99Ms, 1),
    maxMs: round(result.maxMs, 1),
    seconds: round(result.seconds, 2),
    ...phaseReadings(phase, result.ok),
  };
}

// ---------------------------------------------------------------- table

/** The accepted previous run (see the header): its table by metric, or undefined when there is none. */
function readBaseline() {
  if (BASELINE_FILE === 'none') return undefined;
  try {
    const baseline = JSON.parse(readFileSync(BASELINE_FILE, 'utf8'));
    return {
      date: baseline.date,
      git: baseline.app?.git,
      secondsPerPhase: baseline.settings?.secondsPerPhase,
      values: new Map((baseline.table ?? []).map((r) => [r.metric, r.value])),
    };
  } catch (error) {
    if (error.code !== 'ENOENT') log(`baseline ${BASELINE_FILE}: not read (${error.message})`);
    return undefined;
  }
}

const cpuRow = (label, cpu) =>
  cpu && {
    metric: `CPU (${label}): app ms/req · cores app/bench/other`,
    value: `${fmt(cpu.appCpuMsPerRequest, 'ms', 3)} · ${fmt(cpu.appCores, '', 2)}/${fmt(cpu.benchCores, '', 2)}/${fmt(cpu.otherCores, '', 2)}`,
    target: '-',
    status: '-',
  };

const status = (ok) => (ok === undefined ? '-' : ok ? 'PASS' : 'MISS');
const errStatus = (n) => (n === 0 ? 'PASS' : 'FAIL');

function buildRows(results) {
  const rows = [];
  const { ceiling, variants, refresh, token, login: lg } = results;

  if (ceiling) {
    rows.push({
      section: `ceiling: bare node:http, ${ME_CONNECTIONS} connections, ${ME_ROUNDS} round(s) interleaved with /auth/me`,
    });
    rows.push({ metric: 'ceiling req/s', value: fmt(ceiling.rps), target: '-', status: '-' });
    rows.push({
      metric: 'ceiling latency p50 / p99',
      value: `${fmt(ceiling.p50Ms)} / ${fmt(ceiling.p99Ms)} ms`,
      target: '-',
      status: '-',
    });
  }
  for (const v of variants) {
    rows.push({ section: `app JWT_ALG=${v.alg}` });
    rows.push({
      metric: `cold start ${v.alg} (spawn → jwks 200)`,
      value: fmt(v.coldStartMs, 'ms'),
      target: '-',
      status: '-',
    });
    if (v.error) {
      rows.push({ metric: `${v.alg} run`, value: 'failed', target: 'runs', status: 'FAIL' });
      continue;
    }
    if (v.me) {
      const me = v.me;
      rows.push({ metric: `/auth/me ${v.alg} req/s`, value: fmt(me.rps), target: '-', status: '-' });
      rows.push({
        metric: `/auth/me ${v.alg} latency p50 / p99`,
        value: `${fmt(me.p50Ms)} / ${fmt(me.p99Ms)} ms`,
        target: '-',
        status: '-',
      });
      rows.push({
        metric: `/auth/me ${v.alg} / ceiling`,
        value: pct(me.ratioToCeiling),
        target: `≥ ${TARGETS.meRatio * 100} %`,
        status: status(me.ratioToCeiling === undefined ? undefined : me.ratioToCeiling >= TARGETS.meRatio),
      });
      const bad = me.non2xx + me.errors + me.timeouts;
      rows.push({
        metric: `/auth/me ${v.alg} non-2xx + errors`,
        value: String(bad),
        target: '0',
        status: errStatus(bad),
      });
      if (me.eventLoop) {
        rows.push({
          metric: `event-loop delay max (me ${v.alg})`,
          value: fmt(me.eventLoop.maxMs, 'ms'),
          target: '-',
          status: '-',
        });
      }
      if (me.cpu) rows.push(cpuRow(`me ${v.alg}`, me.cpu));
    }
  }
  const hs = variants.find((v) => v.alg === 'HS256')?.me;
  for (const alg of ['RS256', 'ES256']) {
    const asym = variants.find((v) => v.alg === alg)?.me;
    if (asym && hs) {
      const ratio = asym.rps / hs.rps;
      results.comparisons[`${alg}_vs_HS256`] = round(ratio, 4);
      rows.push({
        metric: `/auth/me ${alg} vs HS256`,
        value: pct(ratio),
        target: `≥ ${TARGETS.asymVsHs * 100} %`,
        status: status(ratio >= TARGETS.asymVsHs),
      });
      // Same comparison by app CPU per request: steadier than req/s when other work shares the machine.
      const byCpu = hs.cpu?.appCpuMsPerRequest / asym.cpu?.appCpuMsPerRequest;
      if (Number.isFinite(byCpu)) {
        results.comparisons[`${alg}_vs_HS256_byCpuPerRequest`] = round(byCpu, 4);
        rows.push({
          metric: `/auth/me ${alg} vs HS256 (by app CPU/req, info)`,
          value: pct(byCpu),
          target: '-',
          status: '-',
        });
      }
    }
  }
  for (const [name, r] of [
    ['refresh (cookie)', refresh],
    ['refresh (/auth/token)', token],
  ]) {
    if (!r) continue;
    rows.push({ section: `${name}: ${r.chains} sequential chains in parallel` });
    rows.push({
      metric: `${name} /s`,
      value: fmt(r.perSecond),
      target: `≥ ${fmt(TARGETS.refreshPerSecond)}`,
      status: status(r.perSecond >= TARGETS.refreshPerSecond),
    });
    rows.push({
      metric: `${name} latency p50 / p99`,
      value: `${fmt(r.p50Ms, '', 2)} / ${fmt(r.p99Ms, '', 2)} ms`,
      target: '-',
      status: '-',
    });
    rows.push({ metric: `${name} errors`, value: String(r.errors), target: '0', status: errStatus(r.errors) });
    if (r.eventLoop)
      rows.push({
        metric: `event-loop delay max (${name})`,
        value: fmt(r.eventLoop.maxMs, 'ms'),
        target: '-',
        status: '-',
      });
    if (r.cpu) rows.push(cpuRow(name, r.cpu));
  }
  if (lg) {
    rows.push({ section: `login: ${lg.concurrency} concurrent clients` });
    rows.push({
      metric: `argon2id hash (m=${ARGON2_PARAMS.memoryKiB},t=${ARGON2_PARAMS.iterations},p=${ARGON2_PARAMS.parallelism}) median: wall (CPU)`,
      value: `${fmt(lg.argon2.medianMs, 'ms', 2)} (${fmt(lg.argon2.medianCpuMs, 'ms', 2)})`,
      target: '-',
      status: '-',
    });
    rows.push({
      metric: `argon2 ceiling (${CORES} cores ÷ hash time)`,
      value: fmt(lg.ceilingPerSecond, '/s'),
      target: '-',
      status: '-',
    });
    rows.push({ metric: 'logins/s', value: fmt(lg.perSecond, '/s'), target: '-', status: '-' });
    rows.push({
      metric: 'logins / argon2 ceiling',
      value: pct(lg.ratioToCeiling),
      target: `≥ ${TARGETS.loginRatio * 100} %`,
      status: status(lg.ratioToCeiling >= TARGETS.loginRatio),
    });
    rows.push({
      metric: 'login latency p50 / p99',
      value: `${fmt(lg.p50Ms)} / ${fmt(lg.p99Ms)} ms`,
      target: '-',
      status: '-',
    });
    rows.push({ metric: 'login errors', value: String(lg.errors), target: '0', status: errStatus(lg.errors) });
    rows.push({
      metric: 'event-loop delay max (login)',
      value: lg.eventLoop ? fmt(lg.eventLoop.maxMs, 'ms') : 'n/a',
      target: `≤ ${TARGETS.loginEventLoopMs} ms`,
      status: lg.eventLoop ? status(lg.eventLoop.maxMs <= TARGETS.loginEventLoopMs) : 'FAIL',
    });
    if (lg.cpu) {
      rows.push(cpuRow('login', lg.cpu));
      const share = lg.argon2.medianCpuMs / lg.cpu.appCpuMsPerRequest;
      lg.hashShareOfLoginCpu = round(share, 4);
      rows.push({ metric: 'login: hash CPU ÷ app CPU per login (info)', value: pct(share), target: '-', status: '-' });
    }
  }
  if (results.fresh) rows.push(...freshMeRows(results.fresh, TARGETS));
  if (variants.length || results.fresh) {
    rows.push({ section: 'memory' });
    const peak = Math.max(
      ...variants.map((v) => v.rssPeakMB ?? 0),
      results.fresh?.fresh?.rssPeakWholeRunMB ?? 0,
      results.fresh?.mixed?.rssPeakWholeRunMB ?? 0,
    );
    results.rssPeakMB = peak;
    rows.push({
      metric: 'app peak RSS (sampled every 200 ms)',
      value: fmt(peak, 'MB'),
      target: `≤ ${mb(TARGETS.rssBytes)} MB`,
      status: status(peak <= mb(TARGETS.rssBytes)),
    });
  }
  rows.push(...coldStartRows(results.coldStart));
  return rows;
}

/** Cold start (bench/lib/cold-start.mjs): the medians carry the targets; min and max show the noise. */
function coldStartRows(cold) {
  if (!cold) return [];
  const rows = [
    { section: `cold start: spawn → first JWKS 200 with a key, ${cold.runs} rounds, start:prod, ${cold.alg}` },
  ];
  for (const [name, figures, target] of [
    ['first start (new database)', cold.first, TARGETS.coldFirstMs],
    ['restart (existing database)', cold.restart, TARGETS.coldRestartMs],
  ]) {
    rows.push({
      metric: `${name} median (min–max)`,
      value: `${fmt(figures.medianMs, 'ms', 0)} (${fmt(figures.minMs, '', 0)}–${fmt(figures.maxMs, '', 0)})`,
      target: `≤ ${target} ms`,
      status: status(figures.medianMs <= target),
    });
    rows.push({
      metric: `${name}: app CPU by then (median)`,
      value: fmt(figures.cpuMedianMs, 'ms', 0),
      target: '-',
      status: '-',
    });
  }
  return rows;
}

// ---------------------------------------------------------------- main

const results = {
  machine: {
    cpuModel: os.cpus()[0]?.model,
    cpuCount: os.cpus().length,
    availableParallelism: CORES,
    totalMemMB: Math.round(mb(os.totalmem())),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAvgAtStart: os.loadavg().map((n) => round(n, 2)),
  },
  date: new Date().toISOString(),
  app: { git: gitDescribe(), argon2: packageVersion('argon2'), autocannon: packageVersion('autocannon') },
  settings: {
    phases: [...run],
    secondsPerPhase: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    meConnections: ME_CONNECTIONS,
    refreshChains: CHAINS,
    loginConcurrency: LOGIN_CONCURRENCY,
    nodeEnv: 'production',
    database: 'sqlite (fresh temp file per app start)',
    eventLoopResolutionMs: 10,
  },
  targets: {
    meRatioToCeiling: TARGETS.meRatio,
    asymmetricVsHs256: TARGETS.asymVsHs,
    refreshPerSecond: TARGETS.refreshPerSecond,
    loginRatioToArgon2Ceiling: TARGETS.loginRatio,
    loginEventLoopDelayMaxMs: TARGETS.loginEventLoopMs,
    rssPeakMB: mb(TARGETS.rssBytes),
    freshMeVsMixedWarmed: TARGETS.freshVsMixed,
  },
  ceiling: undefined,
  variants: [],
  refresh: undefined,
  token: undefined,
  login: undefined,
  fresh: undefined,
  coldStart: undefined,
  comparisons: {},
  problems,
};

log(
  `auth-service bench: ${results.machine.cpuCount} × ${results.machine.cpuModel}, node ${process.version}, ` +
    `${SECONDS} s per phase, phases ${[...run].join(',')}`,
);

const algs = run.has('me') ? ['RS256', 'ES256', 'HS256'] : run.has('refresh') || run.has('login') ? ['RS256'] : [];
let ceiling;
const apps = [];
try {
  if (run.has('me') || run.has('fresh')) {
    try {
      ceiling = await startCeiling();
    } catch (error) {
      problems.push(`ceiling server: ${error.message}`);
    }
  }
  // First, while no other app runs: what a process meets when /auth/me is all it serves.
  if (run.has('fresh')) {
    results.fresh = await measureFreshMe({
      ceilingUrl: ceiling?.url,
      seconds: SECONDS,
      rounds: ME_ROUNDS,
      connections: ME_CONNECTIONS,
      username: USER,
      log,
      problems,
    });
  }
  for (const alg of algs) {
    const app = await launch(alg);
    if (app) apps.push(app);
  }
  if (run.has('me') && apps.length) {
    try {
      await measureMe(ceiling?.url, apps);
    } catch (error) {
      problems.push(`GET /auth/me: ${error.message}`);
      log(`GET /auth/me: FAILED: ${error.message}`);
    }
  }
  // The other phases run on RS256 alone: stop the rest first.
  if (ceiling) await stopChild(ceiling.child);
  for (const app of apps.filter((a) => a.alg !== 'RS256')) await shutDown(app);

  const main = apps.find((a) => a.alg === 'RS256' && !a.stopped);
  if (main) {
    const phase = async (name, fn) => {
      try {
        return await fn();
      } catch (caught) {
        let error = caught;
        try {
          main.assertAlive(name); // a dead app explains the failure better
        } catch (dead) {
          error = dead;
        }
        problems.push(`${name}: ${error.message}`);
        log(`${name}: FAILED: ${error.message}`);
        return undefined;
      }
    };
    if (run.has('refresh')) {
      results.refresh = await phase('refresh (cookie)', () => measureRefresh(main, 'cookie'));
      results.token = await phase('refresh (/auth/token)', () => measureRefresh(main, 'token'));
    }
    if (run.has('login')) results.login = await phase('login', () => measureLogin(main));
  }
} finally {
  if (ceiling) await stopChild(ceiling.child);
  for (const app of apps) await shutDown(app);
}

if (run.has('cold')) {
  try {
    log(`cold start: ${COLD_STARTS} rounds of a first start on a new database and a restart on it`);
    results.coldStart = await measureColdStarts({ runs: COLD_STARTS, log });
  } catch (error) {
    problems.push(`cold start: ${error.message}`);
    log(`cold start: FAILED: ${error.message}`);
  }
}

results.machine.loadAvgAtEnd = os.loadavg().map((n) => round(n, 2));
const rows = buildRows(results);
results.table = rows
  .filter((r) => !r.section)
  .map(({ metric, value, target, status }) => ({ metric, value, target, status }));
const baseline = readBaseline();
if (baseline) {
  for (const r of rows) if (!r.section) r.baseline = baseline.values.get(r.metric) ?? '—';
  results.baseline = { file: BASELINE_FILE, date: baseline.date, git: baseline.git };
}

console.log('');
console.log(
  `auth-service benchmark — ${results.date} — ${results.machine.cpuCount} × ${results.machine.cpuModel} — node ${process.version}` +
    ` — ${SECONDS} s/phase — load avg ${results.machine.loadAvgAtStart.join(' ')} → ${results.machine.loadAvgAtEnd.join(' ')}`,
);
console.log(renderTable(rows));
if (baseline) {
  console.log(
    `baseline = ${BASELINE_FILE} (run ${baseline.date}, ${baseline.git ?? 'commit unknown'}, ${baseline.secondsPerPhase} s/phase); ` +
      'accept this run with `cp bench/results.json bench/baseline.json`',
  );
}
console.log('event-loop delay = max of monitorEventLoopDelay({resolution: 10}) in the app, minus the 10 ms resolution');
console.log(
  'CPU = app CPU time per successful request; cores busy during the phase: app / bench process (load generator) / everything else on the machine',
);
if (problems.length) {
  console.log('\nPROBLEMS (exit code 1):');
  for (const p of problems) console.log(`  - ${p}`);
}
writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults written to ${RESULTS_FILE}`);
process.exitCode = problems.length ? 1 : 0;

// The `fresh` phase: GET /auth/me on an app that has seen nothing else since it started.
//
// Why: how fast /auth/me runs depends on what warmed the process. A process warmed by mixed
// traffic had grown its heap (and V8 its limits) before the /auth/me storm; one that meets only
// /auth/me from the start used to spend a quarter of its CPU in the garbage collector (issue 15).
// The `me` phase warms every app first, so it never showed that.
//
// Two apps, started together, both RS256 with BENCH_GC=1 (the preload then sums GC pauses):
//   fresh: register + one login (to get a token), then /auth/me and nothing else, measured from
//          its very first /auth/me request (no untimed warm-up);
//   mixed: the same, then MIXED_SECONDS on the public metadata route and a short /auth/me
//          warm-up, as a process that has served other traffic first.
// Interleaved with the bare node:http ceiling in rounds (order reversed every other round), so a
// load change on the shared machine hits all three alike.
import { startApp } from './app.mjs';
import { loadTest, login, mergeLoadTests, register, warmUp } from './phases.mjs';
import { fmt, pct, round } from './stats.mjs';

const MIXED_SECONDS = 5;
const METADATA_PATH = '/.well-known/oauth-authorization-server';

const mb = (bytes) => bytes / (1024 * 1024);

/** Sums the GC readings of several phases (see eventloop-preload.mjs). */
function gcSummary(phases) {
  const readings = phases.map((p) => p.eventLoop?.gc).filter(Boolean);
  if (readings.length < phases.length) return undefined;
  const byKind = {};
  for (const r of readings) {
    for (const [kind, t] of Object.entries(r.byKind)) {
      const sum = (byKind[kind] ??= { ms: 0, count: 0 });
      sum.ms += t.ms;
      sum.count += t.count;
    }
  }
  const pauseMs = readings.reduce((s, r) => s + r.pauseMs, 0);
  const cpuMs = phases.reduce((s, p) => s + p.appCpuMs, 0);
  return {
    pauseMs: round(pauseMs, 1),
    count: readings.reduce((s, r) => s + r.count, 0),
    byKind: Object.fromEntries(Object.entries(byKind).map(([k, t]) => [k, { ms: round(t.ms, 1), count: t.count }])),
    shareOfAppCpu: round(pauseMs / cpuMs, 4),
    heapUsedMBAtEnd: round(mb(readings.at(-1).heapUsedBytes), 1),
  };
}

/**
 * Runs the phase. `ceilingUrl` may be undefined (ceiling failed to start): ratios are then
 * missing. Returns the result object for results.json (`fresh`); `problems` collects failures.
 */
export async function measureFreshMe({ ceilingUrl, seconds, rounds, connections, username, log, problems }) {
  const apps = {};
  const result = { rounds, connections, mixedWarmupSeconds: MIXED_SECONDS, metadataPath: METADATA_PATH };
  try {
    log(`fresh /auth/me: starting two RS256 apps (BENCH_GC=1): "fresh" (only /auth/me) and "mixed"`);
    for (const name of ['fresh', 'mixed']) {
      const app = await startApp({ alg: 'RS256', label: name, extraEnv: { BENCH_GC: '1' } });
      apps[name] = app;
      await register(app.baseUrl, username);
      const { accessToken } = await login(app.baseUrl, username);
      app.headers = { authorization: `Bearer ${accessToken}` };
    }
    log(`fresh /auth/me: "mixed" app: ${MIXED_SECONDS} s on ${METADATA_PATH}, then 2 s of /auth/me (untimed)`);
    await loadTest({ url: `${apps.mixed.baseUrl}${METADATA_PATH}`, seconds: MIXED_SECONDS, connections });
    await warmUp(`${apps.mixed.baseUrl}/auth/me`, apps.mixed.headers, 2);
    apps.mixed.assertAlive('the mixed warm-up');

    const targets = [
      ...(ceilingUrl ? [{ name: 'ceiling', url: ceilingUrl, headers: {} }] : []),
      ...['fresh', 'mixed'].map((name) => ({
        name,
        app: apps[name],
        url: `${apps[name].baseUrl}/auth/me`,
        headers: apps[name].headers,
      })),
    ].map((t) => ({ ...t, runs: [], phases: [] }));
    const slice = seconds / rounds;
    log(
      `fresh /auth/me: ${targets.map((t) => t.name).join(', ')}; ${rounds} round(s) × ${fmt(slice, 's', 2)}, ` +
        `${connections} connections; "fresh" is timed from its first /auth/me`,
    );
    for (let r = 0; r < rounds; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        if (t.app) await t.app.markPhase();
        t.runs.push(await loadTest({ url: t.url, seconds: slice, connections, headers: t.headers }));
        if (t.app) {
          t.app.assertAlive(`GET /auth/me (${t.name})`);
          t.phases.push(await t.app.endPhase());
        }
      }
    }
    for (const t of targets) {
      const m = mergeLoadTests(t.runs);
      const bad = m.non2xx + m.errors + m.timeouts;
      if (bad) problems.push(`fresh phase, ${t.name}: ${m.non2xx} non-2xx, ${m.errors} errors, ${m.timeouts} timeouts`);
      const entry = {
        rps: round(m.rps, 0),
        perRoundRps: m.perRunRps.map((x) => round(x, 0)),
        p50Ms: round(m.p50Ms, 2),
        p99Ms: round(m.p99Ms, 2),
        ok: m.ok,
        bad,
      };
      if (t.app) {
        const cpuMs = t.phases.reduce((s, p) => s + p.appCpuMs, 0);
        entry.appCpuMsPerRequest = round(cpuMs / m.ok, 4);
        entry.gc = gcSummary(t.phases);
        entry.rssPeakMB = round(mb(Math.max(...t.phases.map((p) => p.rssPeakBytes))), 1);
      }
      result[t.name] = entry;
    }
    if (result.ceiling) {
      result.fresh.ratioToCeiling = round(result.fresh.rps / result.ceiling.rps, 4);
      result.mixed.ratioToCeiling = round(result.mixed.rps / result.ceiling.rps, 4);
    }
    result.freshVsMixed = round(result.fresh.rps / result.mixed.rps, 4);
    result.freshVsMixedByCpu = round(result.mixed.appCpuMsPerRequest / result.fresh.appCpuMsPerRequest, 4);
  } catch (error) {
    problems.push(`fresh /auth/me: ${error.message}`);
    log(`fresh /auth/me: FAILED: ${error.message}`);
    result.error = error.message;
  } finally {
    for (const [name, app] of Object.entries(apps)) {
      await app.stop();
      (result[name] ??= {}).rssPeakWholeRunMB = round(mb(app.rss.peak), 1);
    }
  }
  return result;
}

/** Table rows for the phase (same shape as run.mjs's rows). */
export function freshMeRows(fresh, { meRatio, freshVsMixed }) {
  const rows = [{ section: `fresh /auth/me: RS256 app started fresh, /auth/me only, vs one warmed by other traffic` }];
  if (fresh.error && !fresh.fresh?.rps) {
    rows.push({ metric: 'fresh /auth/me run', value: 'failed', target: 'runs', status: 'FAIL' });
    return rows;
  }
  const status = (ok) => (ok === undefined ? '-' : ok ? 'PASS' : 'MISS');
  const f = fresh.fresh;
  const m = fresh.mixed;
  if (fresh.ceiling)
    rows.push({ metric: 'fresh: ceiling req/s', value: fmt(fresh.ceiling.rps), target: '-', status: '-' });
  rows.push({
    metric: 'fresh: /auth/me req/s (per round)',
    value: `${fmt(f.rps)} (${f.perRoundRps.map((x) => fmt(x)).join(', ')})`,
    target: '-',
    status: '-',
  });
  rows.push({
    metric: 'fresh: /auth/me / ceiling',
    value: pct(f.ratioToCeiling),
    target: `≥ ${meRatio * 100} %`,
    status: status(f.ratioToCeiling === undefined ? undefined : f.ratioToCeiling >= meRatio),
  });
  rows.push({
    metric: 'fresh: app CPU per /auth/me',
    value: fmt(f.appCpuMsPerRequest, 'ms', 4),
    target: '-',
    status: '-',
  });
  rows.push({
    metric: 'fresh: GC pauses ÷ app CPU',
    value: f.gc ? `${pct(f.gc.shareOfAppCpu)} (${f.gc.count} GCs, ${fmt(f.gc.pauseMs, 'ms')})` : 'n/a',
    target: '-',
    status: '-',
  });
  rows.push({
    metric: 'fresh: /auth/me non-2xx + errors',
    value: String(f.bad),
    target: '0',
    status: f.bad ? 'FAIL' : 'PASS',
  });
  rows.push({
    metric: 'mixed-warmed: /auth/me req/s · / ceiling',
    value: `${fmt(m.rps)} · ${pct(m.ratioToCeiling)}`,
    target: '-',
    status: '-',
  });
  rows.push({
    metric: 'mixed-warmed: app CPU per /auth/me',
    value: fmt(m.appCpuMsPerRequest, 'ms', 4),
    target: '-',
    status: '-',
  });
  rows.push({
    metric: 'mixed-warmed: GC pauses ÷ app CPU',
    value: m.gc ? `${pct(m.gc.shareOfAppCpu)} (${m.gc.count} GCs, ${fmt(m.gc.pauseMs, 'ms')})` : 'n/a',
    target: '-',
    status: '-',
  });
  rows.push({
    metric: 'fresh vs mixed-warmed (req/s; by app CPU/req)',
    value: `${pct(fresh.freshVsMixed)}; ${pct(fresh.freshVsMixedByCpu)}`,
    target: `≥ ${freshVsMixed * 100} %`,
    status: status(fresh.freshVsMixed >= freshVsMixed),
  });
  return rows;
}

// Starts the built app as a child process for one benchmark variant, launched with the command of
// `npm run start:prod` (its V8 flags and preload, scripts/start-prod.cjs running the bundle; see
// launch.mjs) plus the bench's event-loop preload: fresh SQLite file, production settings, RSS sampling.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request } from './http.mjs';
import { productionLaunch } from './launch.mjs';
import { freePort, spawnChild, stopChild } from './proc.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRELOAD = pathToFileURL(fileURLToPath(new URL('./eventloop-preload.mjs', import.meta.url))).href;
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 10;

/**
 * Only these variables are passed through from the caller's environment; every app setting is
 * set explicitly below or left at its default, so a developer's shell cannot change what is measured.
 */
const PASS_THROUGH = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'TMP', 'TEMP', 'SystemRoot'];

const tempDirs = new Set();

/** For process 'exit': removes temp dirs of apps that were not stopped normally. */
export function removeTempDirsSync() {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let clockTicks;
/** CPU time (user + system) of `pid` in ms, from /proc/<pid>/stat; NaN where there is no /proc. */
function cpuTimeMs(pid) {
  try {
    clockTicks ??=
      Number(
        execFileSync('getconf', ['CLK_TCK'], { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim(),
      ) || 100;
    // Fields after the command name (which is in parentheses and may contain spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks; // utime, stime
  } catch {
    return NaN;
  }
}

/** Busy CPU time of the whole machine in ms (all cores; from /proc/stat), NaN where there is none. */
function machineBusyMs() {
  try {
    clockTicks ??=
      Number(
        execFileSync('getconf', ['CLK_TCK'], { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim(),
      ) || 100;
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user, nice, system, , , irq, softirq, steal] = ticks;
    return ((user + nice + system + irq + softirq + steal) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** RSS of `pid` in bytes plus its high-water mark (VmHWM), from /proc, else from `ps`. */
async function readRss(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm'))?.[1] ?? NaN) * 1024;
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return new Promise((resolve) => {
      execFile('ps', ['-o', 'rss=', '-p', String(pid)], (error, stdout) => {
        const kib = Number(stdout?.trim());
        resolve({ rss: error || !Number.isFinite(kib) ? NaN : kib * 1024, hwm: NaN });
      });
    });
  }
}

/**
 * `nodeArgs`: extra node/V8 flags, after start:prod's own (experiments; the bench itself passes
 * none). `main`: another entry point than start:prod's (e.g. dist/main.js, for an A/B).
 */
export async function startApp({ alg, label = alg, extraEnv = {}, nodeArgs = [], main }) {
  const launch = productionLaunch(ROOT);
  const entry = main ?? launch.entry;
  const built = join(ROOT, 'dist', 'main.js');
  if (!existsSync(built)) throw new Error(`${built} is missing; run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-'));
  tempDirs.add(dir);
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
    BENCH_EVENT_LOOP: '1',
    // The login phase measures hashing throughput from one address for one account, which the
    // per-address and per-account password-check limits would otherwise cut off after 300 / 30.
    LOGIN_MAX_PER_IP: '1000000',
    LOGIN_MAX_PER_USER: '1000000',
    ...extraEnv,
  });
  const baseUrl = `http://127.0.0.1:${port}`;

  // cwd is the temp dir so a developer's .env in the project cannot change the measured settings.
  const t0 = performance.now();
  // The IPC channel only carries the event-loop readings of the preload (see eventloop-preload.mjs).
  const logFile = join(dir, 'app.log');
  const child = spawnChild(process.execPath, [...launch.nodeArgs, ...nodeArgs, '--import', PRELOAD, entry], {
    cwd: dir,
    env,
    logFile,
    ipc: true,
  });

  const app = {
    label,
    alg,
    pid: child.pid,
    port,
    baseUrl,
    dir,
    logFile,
    child,
    coldStartMs: NaN,
    rss: { peak: 0, hwm: 0, samples: 0, phasePeak: 0 },
    eldSeq: 0,
  };

  // Peak RSS: sample every 200 ms for as long as the app runs.
  const sample = async () => {
    const { rss, hwm } = await readRss(child.pid);
    if (Number.isFinite(rss)) {
      app.rss.samples++;
      app.rss.peak = Math.max(app.rss.peak, rss);
      app.rss.phasePeak = Math.max(app.rss.phasePeak, rss);
    }
    if (Number.isFinite(hwm)) app.rss.hwm = Math.max(app.rss.hwm, hwm);
  };
  const sampler = setInterval(() => void sample(), 200);
  sampler.unref();

  const fail = async (message) => {
    clearInterval(sampler);
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
    throw new Error(message);
  };

  // Cold start: spawn → first 200 from GET /.well-known/jwks.json, polling every ~10 ms.
  const deadline = t0 + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitInfo) {
      await fail(
        `app (${label}) exited during start-up (${JSON.stringify(child.exitInfo)}):\n${child.lastOutput(15).join('\n')}`,
      );
    }
    if (performance.now() > deadline) {
      await fail(
        `app (${label}) did not answer 200 on /.well-known/jwks.json within ${START_TIMEOUT_MS} ms:\n${child.lastOutput(15).join('\n')}`,
      );
    }
    try {
      const res = await request(baseUrl, { path: '/.well-known/jwks.json', timeoutMs: 1000 });
      if (res.status === 200) {
        app.coldStartMs = performance.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(POLL_MS);
  }
  await sample();

  /** Starts a new measurement window (event-loop histogram reset, per-phase RSS peak reset). */
  app.markPhase = async () => {
    await app.eventLoopDelay();
    app.rss.phasePeak = 0;
    await sample();
    app.phaseStart = {
      cpuMs: cpuTimeMs(child.pid),
      machineMs: machineBusyMs(),
      wallMs: performance.now(),
      benchCpu: process.cpuUsage(),
    };
  };

  /**
   * Asks the preload (over IPC) for the event-loop delay since the previous call, and resets it.
   * maxMs/p99Ms/p50Ms have the 10 ms sampling interval subtracted (raw values are kept as well).
   * Resolves undefined when no answer comes within `timeoutMs`.
   */
  app.eventLoopDelay = (timeoutMs = 3000) =>
    new Promise((resolve) => {
      if (child.exitInfo || !child.connected) return resolve(undefined);
      const id = ++app.eldSeq;
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const onMessage = (report) => {
        if (report?.type !== 'bench:eld' || report.id !== id) return;
        const d = (raw) => Math.max(0, raw - report.resolutionMs);
        done({ ...report, maxMs: d(report.rawMaxMs), p99Ms: d(report.rawP99Ms), p50Ms: d(report.rawP50Ms) });
      };
      function done(value) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(value);
      }
      child.on('message', onMessage);
      child.send({ type: 'bench:eld', id }, (error) => error && done(undefined));
    });

  /**
   * For the phase just finished: RSS peak, event-loop delay, and CPU time used by the app and by
   * the bench process (the load generator shares the machine; on a busy machine CPU per request
   * is steadier than requests per second).
   */
  app.endPhase = async () => {
    const wallMs = performance.now() - app.phaseStart.wallMs;
    const cpuMs = cpuTimeMs(child.pid) - app.phaseStart.cpuMs;
    const bench = process.cpuUsage(app.phaseStart.benchCpu);
    const machineMs = machineBusyMs() - app.phaseStart.machineMs;
    await sample();
    const eld = await app.eventLoopDelay();
    return {
      rssPeakBytes: app.rss.phasePeak,
      eventLoop: eld,
      wallMs,
      appCpuMs: cpuMs,
      benchCpuMs: (bench.user + bench.system) / 1000,
      machineBusyMs: machineMs,
    };
  };

  /** Throws with the app's last output when it is no longer running. */
  app.assertAlive = (during) => {
    if (child.exitInfo) {
      throw new Error(
        `app (${label}) exited during ${during} (${JSON.stringify(child.exitInfo)}); last output:\n    ${child.lastOutput(15).join('\n    ')}`,
      );
    }
  };

  app.stop = async () => {
    clearInterval(sampler);
    await sample().catch(() => undefined);
    const exit = await stopChild(child);
    if (process.env.BENCH_VERBOSE) {
      process.stderr.write(`  app ${label} log kept: ${logFile}\n`);
      tempDirs.delete(dir);
      return exit;
    }
    try {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    } catch {
      // best effort; retried on exit
    }
    return exit;
  };

  return app;
}

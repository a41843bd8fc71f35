// The built app as a child process for the hardening suite (`npm run test:hardening`): launched
// as `npm run start:prod` does (`node -r scripts/preload.cjs dist/main.js`) on a fresh SQLite
// file in a temp dir, so load, CPU and file-descriptor figures are those production would see.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppOnFile } from '../crash/app-process.mjs';

const PRELOAD = fileURLToPath(new URL('../../scripts/preload.cjs', import.meta.url));

let clockTicks;

/** CPU time (user + system) of a process in ms, from /proc/<pid>/stat. */
export function cpuTimeMs(pid) {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/**
 * CPU time of a process's main thread (the event loop) in ms, from /proc/<pid>/task/<pid>/schedstat:
 * nanoseconds, so a handful of requests can be measured. Thread-pool work (argon2) is not in it.
 */
export function mainThreadCpuMs(pid) {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

/** Open file descriptors of a process (sockets included), from /proc/<pid>/fd. */
export function openFds(pid) {
  return execFileSync('ls', [`/proc/${pid}/fd`])
    .toString()
    .trim()
    .split('\n').length;
}

/**
 * Starts the app on a fresh SQLite file with cheap argon2 unless `env` says otherwise.
 * Returns what startAppOnFile returns plus `dir`, `dbFile` and `cleanup()` (stop + remove files).
 */
export async function startHardeningApp(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nta-hardening-'));
  const dbFile = join(dir, 'auth.sqlite');
  const app = await startAppOnFile({
    dir,
    dbFile,
    nodeArgs: ['-r', PRELOAD],
    env: { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', LOG_LEVEL: 'warn', ...env },
  });
  return {
    ...app,
    dir,
    dbFile,
    cpuMs: () => cpuTimeMs(app.pid),
    mainThreadCpuMs: () => mainThreadCpuMs(app.pid),
    fds: () => openFds(app.pid),
    async cleanup() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Child-process bookkeeping: every child the bench starts is registered here and killed when
// the bench exits, however it exits (normal end, exception, SIGINT/SIGTERM).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const children = new Set();

/**
 * spawn() that registers the child. Its output goes to `logFile` when given (a file drains at
 * once, like production logging; a pipe to this busy process could block the child's writes),
 * else to pipes. `child.lastOutput(n)` returns its last lines, for error messages.
 */
export function spawnChild(command, args, { logFile, ipc = false, ...options } = {}) {
  let child;
  const extra = ipc ? ['ipc'] : [];
  if (logFile) {
    const fd = openSync(logFile, 'a');
    try {
      child = spawn(command, args, { ...options, stdio: ['ignore', fd, fd, ...extra] });
    } finally {
      closeSync(fd);
    }
    child.lastOutput = (n = 15) => {
      try {
        return readFileSync(logFile, 'utf8')
          .split('\n')
          .filter((l) => l.trim())
          .slice(-n);
      } catch {
        return [];
      }
    };
  } else {
    child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe', ...extra] });
    const tail = [];
    const keep = (chunk) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (process.env.BENCH_VERBOSE) process.stderr.write(`  [child ${child.pid}] ${line}\n`);
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.lastOutput = (n = 15) => tail.slice(-n);
  }
  children.add(child);
  child.on('error', () => undefined); // spawn/send errors surface as exit or missing answers
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      child.exitInfo = { code, signal };
      resolve(child.exitInfo);
    });
  });
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the child has exited. */
export async function stopChild(child, graceMs = 3000) {
  if (!child || child.exitInfo) return child?.exitInfo;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const info = await child.exited;
  clearTimeout(timer);
  return info;
}

/** Synchronous last resort, for process 'exit'. */
export function killAllChildrenSync() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

/**
 * For the bench and soak scripts: on any exit (signal, crash or normal) kill the child processes
 * and run `cleanup`; a crash is reported and exits 1.
 */
export function cleanUpOnExit(name, cleanup = () => {}) {
  process.on('exit', () => {
    killAllChildrenSync();
    cleanup();
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ]) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping child processes`);
      process.exit(code);
    });
  }
  process.on('uncaughtException', (error) => {
    console.error(`${name} crashed:`, error);
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    console.error(`${name} crashed (unhandled rejection):`, error);
    process.exit(1);
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the first stdout line matching `pattern`, or rejects on exit/timeout. */
export function waitForLine(child, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}`)),
      timeoutMs,
    );
    const onData = (chunk) => {
      const match = chunk.toString().match(pattern);
      if (match) done(null, match);
    };
    const onExit = () => done(new Error(`child exited before printing ${pattern}: ${child.lastOutput().join(' | ')}`));
    function done(error, value) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value);
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

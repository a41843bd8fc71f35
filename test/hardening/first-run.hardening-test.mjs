// What a person sees when starting the built app (`npm run test:hardening`): the real process,
// its exit code, its stdout and stderr. The in-process tests (test/startup.e2e-spec.ts,
// test/database-writable.e2e-spec.ts) check the same behaviours through startApp; this checks
// that main.ts turns them into one line and exit code 1, and that nothing is retried for ~30 s.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHardeningApp } from './app.mjs';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const PRELOAD = fileURLToPath(new URL('../../scripts/preload.cjs', import.meta.url));
const PASS_THROUGH = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];
/** A failed start must end well before the ~28 s the SQLite retry loop used to take. */
const FAIL_FAST_MS = 15_000;

/** Runs the app once with exactly `env` (plus PATH etc.) in `cwd`; resolves when it exits. */
function runOnce(env, cwd) {
  const childEnv = Object.fromEntries(
    PASS_THROUGH.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]),
  );
  const child = spawn(process.execPath, ['-r', PRELOAD, MAIN], {
    cwd,
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), FAIL_FAST_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        ms: performance.now() - t0,
        stderrLines: stderr.trim().split('\n').filter(Boolean),
      });
    });
  });
}

const jsonLines = (text) =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));

describe('first run, as a person starts the built app', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nta-first-run-'));
  const undo = [];
  after(() => {
    while (undo.length) undo.pop()();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second start on the same port: one line naming the address and PORT/HOST, exit 1, nothing claims success', async () => {
    const first = await startHardeningApp({ LOG_LEVEL: 'info' });
    try {
      const port = new URL(first.baseUrl).port;
      const second = await runOnce(
        {
          NODE_ENV: 'production',
          PORT: port,
          HOST: '127.0.0.1',
          DATABASE_URL: `sqlite:${join(dir, 'second.sqlite')}`,
          JWT_ISSUER: 'https://auth.example.com',
        },
        dir,
      );
      assert.equal(second.code, 1, second.stderr);
      assert.deepEqual(second.stderrLines, [
        `Cannot listen on 127.0.0.1:${port}: the address is already in use (another instance, or another program); stop it, or set PORT (and HOST) to a free address`,
      ]);
      assert.doesNotMatch(second.stdout, /successfully started|Ready|listening|EADDRINUSE/i);
    } finally {
      await first.cleanup();
    }
  });

  it('an unwritable data folder: one line naming the path, exit 1, no retries', async () => {
    const parent = join(dir, 'locked');
    mkdirSync(parent);
    if (process.getuid?.() === 0) {
      // Root ignores mode bits; the immutable attribute refuses writes to everyone.
      execFileSync('chattr', ['+i', parent]);
      undo.push(() => execFileSync('chattr', ['-i', parent]));
    } else {
      execFileSync('chmod', ['555', parent]);
      undo.push(() => execFileSync('chmod', ['755', parent]));
    }
    const file = join(parent, 'data', 'auth.sqlite');
    const run = await runOnce(
      { NODE_ENV: 'production', PORT: '0', DATABASE_URL: `sqlite:${file}`, JWT_ISSUER: 'https://auth.example.com' },
      dir,
    );
    assert.equal(run.code, 1, `${run.signal ? `killed after ${FAIL_FAST_MS} ms` : ''}\n${run.stdout}\n${run.stderr}`);
    assert.equal(run.stderrLines.length, 1, run.stderr);
    assert.match(
      run.stderrLines[0],
      new RegExp(`^Cannot use the SQLite database ${file}: its folder cannot be created \\((EACCES|EPERM)`),
    );
    assert.doesNotMatch(run.stdout, /Retrying|Unable to connect/);
    console.log(`  unwritable folder: exit ${run.code} after ${Math.round(run.ms)} ms`);
  });

  it('bad variables: all reported at once, one line each, exit 1', async () => {
    const run = await runOnce({ PORT: 'abc', LOG_LEVEL: 'loud', ACCESS_TOKEN_TTL: '1w' }, dir);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderrLines, [
      'Invalid configuration: PORT must be an integer from 0 to 65535, got "abc"',
      'Invalid configuration: ACCESS_TOKEN_TTL must be a positive duration in seconds or with a unit (30s, 15m, 1h, 1d), got "1w"',
      'Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  it('NODE_ENV=production with nothing else set: warnings, then one Ready line, as JSON', async () => {
    // Nothing else: the argon2id cost too (the suite's cheap default would add its own warning).
    const app = await startHardeningApp({
      LOG_LEVEL: 'info',
      JWT_ISSUER: '',
      COOKIE_SECURE: '',
      ARGON2_MEMORY_KIB: '',
      ARGON2_ITERATIONS: '',
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const lines = jsonLines(app.lastOutput(40).join('\n'));
      const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg);
      assert.equal(warnings.length, 2, JSON.stringify(warnings));
      assert.match(warnings[0], /^JWT_ISSUER is http:\/\/localhost:\d+ in production/);
      assert.match(warnings[1], /^KEYS_ENCRYPTION_KEY is not set in production/);
      const ready = lines.filter((line) => line.msg?.startsWith('Ready'));
      assert.equal(ready.length, 1);
      assert.match(
        ready[0].msg,
        new RegExp(
          `Demo page: ${app.baseUrl}/ · API docs: ${app.baseUrl}/docs · Database: SQLite ${app.dbFile} · Migrations: \\d+ applied now`,
        ),
      );
      assert.equal(lines.filter((line) => line.level === 30).length <= 4, true, 'Nest chatter stays at debug');
    } finally {
      await app.cleanup();
    }
  });
});

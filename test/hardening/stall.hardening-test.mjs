// Issue 10, item 1: stalled requests. A client that sends headers with `Content-Length: 1000` and
// then 2 bytes held its connection, and a file descriptor, forever: enough of them and nobody
// could connect. With the app's open-file limit lowered to 300, we hold at least 250 such
// connections (enough to use up the descriptors), and check that the server closes every one
// (408, or a close) and answers /health again within REQUEST_TIMEOUT + 2 s.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from '../../bench/lib/http.mjs';
import { startHardeningApp } from './app.mjs';

const REQUEST_TIMEOUT_S = 3;
const NOFILE = 300;
const MIN_STALLED = 250;
const DEADLINE_MS = (REQUEST_TIMEOUT_S + 2) * 1000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a connection that sends its headers and 2 of the 1,000 body bytes it announces, then nothing. */
function stalledRequest(port, started) {
  return new Promise((resolve) => {
    const stalled = { socket: undefined, response: '', closedAtMs: undefined };
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"',
      );
      resolve(stalled);
    });
    stalled.socket = socket;
    socket.on('data', (chunk) => (stalled.response += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      stalled.closedAtMs = performance.now() - started;
      resolve(stalled);
    });
  });
}

let app;
const stalled = [];

before(async () => {
  app = await startHardeningApp({ REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_S}s` });
  execFileSync('prlimit', ['--pid', String(app.pid), `--nofile=${NOFILE}:${NOFILE}`]);
});

after(async () => {
  for (const { socket } of stalled) socket.destroy();
  await app?.cleanup();
});

test(`stalled requests are closed and /health answers again within REQUEST_TIMEOUT + 2 s (nofile=${NOFILE})`, async (t) => {
  const { port } = new URL(app.baseUrl);
  // Enough connections to use up every descriptor the app has left, and never fewer than 250.
  const count = Math.max(MIN_STALLED, NOFILE - app.fds() + 10);
  const started = performance.now();
  stalled.push(...(await Promise.all(Array.from({ length: count }, () => stalledRequest(port, started)))));
  const fdsWhileStalled = app.fds();

  // /health, polled: refused while the descriptors are used up, then answered again.
  const polls = [];
  let healthyAtMs;
  while (performance.now() - started < DEADLINE_MS + 1000) {
    const at = performance.now() - started;
    try {
      const response = await request(app.baseUrl, { path: '/health', timeoutMs: 500 });
      polls.push(`${Math.round(at)}:${response.status}`);
      if (response.status === 200 && at > REQUEST_TIMEOUT_S * 1000 && healthyAtMs === undefined) healthyAtMs = at;
    } catch (error) {
      polls.push(`${Math.round(at)}:${error.code ?? 'timeout'}`);
    }
    if (healthyAtMs !== undefined && stalled.every((s) => s.closedAtMs !== undefined)) break;
    await sleep(200);
  }
  const closed = stalled.filter((s) => s.closedAtMs !== undefined);
  const answered408 = closed.filter((s) => s.response.startsWith('HTTP/1.1 408 '));
  const lastClose = Math.max(...closed.map((s) => s.closedAtMs));

  t.diagnostic(`stalled connections: ${count}; app fds while stalled: ${fdsWhileStalled} (limit ${NOFILE})`);
  t.diagnostic(
    `closed by the server: ${closed.length}/${count} (${answered408.length} with 408), the last at ${Math.round(lastClose)} ms`,
  );
  t.diagnostic(
    `/health answered 200 again at ${healthyAtMs === undefined ? 'never' : `${Math.round(healthyAtMs)} ms`}`,
  );
  t.diagnostic(`/health polls (ms:status): ${polls.join(' ')}`);

  assert.equal(app.child.exitInfo, undefined, 'the app must survive running out of file descriptors');
  assert.equal(closed.length, count, 'every stalled connection is closed by the server');
  for (const s of closed) {
    assert.ok(
      s.response === '' || s.response.startsWith('HTTP/1.1 408 '),
      `a stalled request got ${JSON.stringify(s.response.slice(0, 40))}`,
    );
  }
  assert.ok(lastClose <= DEADLINE_MS, `the last stalled connection closed after ${Math.round(lastClose)} ms`);
  assert.ok(
    healthyAtMs !== undefined && healthyAtMs <= DEADLINE_MS,
    `/health did not answer 200 within ${DEADLINE_MS} ms`,
  );
});

import { connect, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, expectErrorBody, uniqueUsername } from '../utils/http.js';

/**
 * Throttled refusals are held for THROTTLED_REPLY_DELAY before they are sent (a tarpit), so a
 * client that floods and sends its next request as soon as an answer arrives gets a few hundred
 * answers a second instead of thousands. The flood itself, and what it does to another user's
 * refreshes, is measured by the hardening suite (test/hardening/flood.hardening-test.mjs).
 */
describe('held refusals (THROTTLED_REPLY_DELAY)', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const register = (username = uniqueUsername('held')) =>
    request(t!.server).post('/auth/register').send({ username, password: DEFAULT_PASSWORD });

  it('sends a 429 no sooner than the delay, with its Retry-After and body unchanged', async () => {
    t = await createTestApp({ REGISTER_MAX_PER_IP: '1', THROTTLED_REPLY_DELAY: '1s' });
    expect((await register()).status).toBe(201);

    const started = performance.now();
    const refused = await register();
    const elapsedMs = performance.now() - started;

    expectErrorBody(refused, 429, 'Too Many Requests');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
    // A lower bound only: a timer never fires early, however busy the machine.
    expect(elapsedMs).toBeGreaterThanOrEqual(950);
  });

  it('lets a client that hangs up while held go, and keeps serving', async () => {
    t = await createTestApp({ REGISTER_MAX_PER_IP: '1', THROTTLED_REPLY_DELAY: '10s' });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.server.address() as AddressInfo;
    expect((await register()).status).toBe(201);

    // Ten refusals held at once, each from a client that gives up after 100 ms.
    const body = JSON.stringify({ username: uniqueUsername('gone'), password: DEFAULT_PASSWORD });
    const raw =
      `POST /auth/register HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const answered = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<string>((resolve) => {
            let received = '';
            const socket = connect(port, '127.0.0.1', () => socket.write(raw));
            socket.on('data', (chunk) => (received += chunk.toString()));
            socket.on('error', () => undefined);
            socket.on('close', () => resolve(received));
            setTimeout(() => socket.destroy(), 100);
          }),
      ),
    );
    // Held: none of them was answered before its client left.
    expect(answered).toEqual(Array(10).fill(''));

    // The app still answers, refusals included (held again), and health at once.
    expect((await request(t.server).get('/health')).status).toBe(200);
  });

  it('sends refusals at once with THROTTLED_REPLY_DELAY=0', async () => {
    t = await createTestApp({ REGISTER_MAX_PER_IP: '1', THROTTLED_REPLY_DELAY: '0' });
    expect((await register()).status).toBe(201);
    expect((await register()).status).toBe(429);
  });
});

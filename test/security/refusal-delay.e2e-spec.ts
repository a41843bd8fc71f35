import { connect, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import type { RefusalDelay } from '../../src/common/http/refusal-delay.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, expectErrorBody, uniqueUsername, waitFor } from '../utils/http.js';

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

  /** A raw registration over the limit; resolves with what came back once the connection closed. */
  const rawRegister = (port: number, giveUpMs?: number) =>
    new Promise<string>((resolve) => {
      const body = JSON.stringify({ username: uniqueUsername('raw'), password: DEFAULT_PASSWORD });
      let received = '';
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          `POST /auth/register HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        ),
      );
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(received));
      if (giveUpMs !== undefined) setTimeout(() => socket.destroy(), giveUpMs);
    });

  const held = () => (t!.app.getHttpAdapter().getInstance() as unknown as { refusalDelay: RefusalDelay }).refusalDelay;

  it('lets refusals whose client hangs up go at once, and keeps serving', async () => {
    t = await createTestApp({ REGISTER_MAX_PER_IP: '1', THROTTLED_REPLY_DELAY: '10s' });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.server.address() as AddressInfo;
    expect((await register()).status).toBe(201);

    // Ten refusals held at once, each from a client that gives up before the hold ends.
    const answered = Promise.all(Array.from({ length: 10 }, () => rawRegister(port, 500)));
    await waitFor(() => held().heldCount === 10, 5000);
    // None was answered before its client left, and none stays held after it did.
    expect(await answered).toEqual(Array(10).fill(''));
    await waitFor(() => held().heldCount === 0, 5000);

    expect((await request(t.server).get('/health')).status).toBe(200);
  });

  it('sends held refusals with Connection: close when the app shuts down, without waiting out the hold', async () => {
    t = await createTestApp({ REGISTER_MAX_PER_IP: '1', THROTTLED_REPLY_DELAY: '10s' });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.server.address() as AddressInfo;
    expect((await register()).status).toBe(201);

    const answer = rawRegister(port);
    await waitFor(() => held().heldCount === 1, 5000);
    const releaseAll = jest.spyOn(held(), 'releaseAll');
    const app = t;
    t = undefined;
    await app.close();
    const response = await answer;

    expect(response).toMatch(/^HTTP\/1\.1 429 /);
    // Kept alive, the connection would have held the close up for the 72 s keep-alive timeout.
    expect(response).toMatch(/\r\nconnection: close\r\n/i);
    // Sent by the shutdown, not at the end of the 10 s hold.
    expect(releaseAll).toHaveBeenCalledTimes(1);
  });

  it('sends refusals at once with THROTTLED_REPLY_DELAY=0', async () => {
    t = await createTestApp({ REGISTER_MAX_PER_IP: '1', THROTTLED_REPLY_DELAY: '0' });
    expect((await register()).status).toBe(201);
    expect((await register()).status).toBe(429);
  });
});

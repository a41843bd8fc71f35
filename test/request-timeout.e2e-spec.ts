import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serverTimeouts } from '../src/common/http/server-timeouts.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';

/**
 * Opens a raw connection, writes `data` and resolves with what the server sent back once it
 * closes the connection (or after `giveUpMs`, with `closed: false`).
 */
function stall(
  port: number,
  data: string,
  giveUpMs: number,
): Promise<{ closed: boolean; response: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => {
      if (data) socket.write(data);
    });
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, response, ms: Date.now() - started });
    }, giveUpMs);
    socket.on('data', (chunk) => (response += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, response, ms: Date.now() - started });
    });
  });
}

describe('stalled requests (e2e)', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({ REQUEST_TIMEOUT: '1s' });
    await t.app.listen(0, '127.0.0.1');
    port = (t.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t.close();
  });

  // Generous bounds: this runs on busy machines. The hardening suite measures the real bound.
  const GIVE_UP_MS = 15_000;

  it('answers a body that stops arriving with 408 and closes the connection', async () => {
    const result = await stall(
      port,
      'POST /auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"',
      GIVE_UP_MS,
    );
    expect(result.closed).toBe(true);
    expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose headers stop arriving', async () => {
    const result = await stall(port, 'GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ', GIVE_UP_MS);
    expect(result.closed).toBe(true);
    expect(result.response === '' || /^HTTP\/1\.1 408 /.test(result.response)).toBe(true);
  });

  it('closes a connection that sends nothing', async () => {
    const result = await stall(port, '', GIVE_UP_MS);
    expect(result.closed).toBe(true);
  });

  it('still serves complete requests', async () => {
    const result = await stall(port, 'GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n', GIVE_UP_MS);
    expect(result.response).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('serverTimeouts', () => {
  // Node enforces the request timeout only at each sweep of its connections: the timeout it is
  // given plus one sweep interval is the real bound, and must be REQUEST_TIMEOUT itself.
  it.each([1, 3, 10, 3600])('bounds a stalled request by REQUEST_TIMEOUT=%ss', (seconds) => {
    const { requestTimeout, http } = serverTimeouts(seconds);
    expect(http.requestTimeout).toBe(requestTimeout);
    expect(http.headersTimeout).toBe(requestTimeout);
    expect(requestTimeout).toBeGreaterThan(0);
    expect(http.connectionsCheckingInterval).toBeGreaterThan(0);
    expect(http.connectionsCheckingInterval).toBeLessThanOrEqual(1000);
    expect(requestTimeout + http.connectionsCheckingInterval!).toBe(seconds * 1000);
  });

  it('closes idle keep-alive connections after a bounded time', () => {
    const { keepAliveTimeout, connectionTimeout } = serverTimeouts(10);
    expect(keepAliveTimeout).toBeGreaterThan(0);
    expect(keepAliveTimeout).toBeLessThanOrEqual(120_000);
    expect(connectionTimeout).toBeGreaterThanOrEqual(10_000);
  });

  it('is what the app server runs with', async () => {
    const t = await createTestApp({ REQUEST_TIMEOUT: '5s' });
    try {
      const server = t.server as typeof t.server & { connectionsCheckingInterval: number };
      const expected = serverTimeouts(5);
      expect({
        requestTimeout: server.requestTimeout,
        headersTimeout: server.headersTimeout,
        keepAliveTimeout: server.keepAliveTimeout,
        timeout: server.timeout,
        connectionsCheckingInterval: server.connectionsCheckingInterval,
      }).toEqual({
        requestTimeout: expected.requestTimeout,
        headersTimeout: expected.requestTimeout,
        keepAliveTimeout: expected.keepAliveTimeout,
        timeout: expected.connectionTimeout,
        connectionsCheckingInterval: expected.http.connectionsCheckingInterval,
      });
    } finally {
      await t.close();
    }
  });
});

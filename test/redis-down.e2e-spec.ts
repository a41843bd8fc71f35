import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import request from 'supertest';
import { RedisConnections } from '../src/redis/redis.module.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';

/** A port on 127.0.0.1 that nothing listens on: bound by us, then let go. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Redis configured but unreachable (e2e)', () => {
  let t: TestApp | undefined;
  let redisUrl: string;
  const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);

  beforeAll(async () => {
    redisUrl = `redis://:hunter2@127.0.0.1:${await unusedPort()}`;
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  afterAll(() => {
    errors.mockRestore();
  });

  it('reports Redis down on /health as "unavailable", and logs the cause once, not per request', async () => {
    t = await createTestApp({ REDIS_URL: redisUrl });
    errors.mockClear();
    const port = redisUrl.split(':').at(-1)!;
    for (let i = 0; i < 3; i++) {
      const response = await request(t.server).get('/health').expect(503);
      expect(response.body.error).toEqual({ redis: { status: 'down', message: 'unavailable' } });
      expect(response.body.info.database.status).toBe('up');
      expect(response.text).not.toContain(port);
      expect(response.text).not.toMatch(/ECONNREFUSED|writeable|127\.0\.0\.1|hunter2/);
    }
    const healthLines = errors.mock.calls.filter(([message]) => String(message).startsWith('Redis is down'));
    expect(healthLines).toHaveLength(1);
  });

  it('closes the app without waiting on, or leaving behind, reconnection attempts', async () => {
    t = await createTestApp({ REDIS_URL: redisUrl });
    const redis = t.app.get(RedisConnections);
    const reconnects = jest.fn();
    redis.client!.on('reconnecting', reconnects);
    // Let it fail to connect at least once, so its reconnect timer is running.
    await new Promise<void>((resolve) => redis.client!.once('error', () => resolve()));
    expect(redis.client!.status).not.toBe('ready');

    await t.close();
    t = undefined;
    // Ended: no reconnect timer left to keep the process alive.
    expect(redis.client!.status).toBe('end');
    expect(redis.subscriber!.status).toBe('end');
  });
});

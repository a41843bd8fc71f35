import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { PasswordHashQueue } from '../../src/users/password-hash.queue.js';
import { PasswordHasherService } from '../../src/users/password-hasher.service.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, expectErrorBody, refreshCookie, register, uniqueUsername } from '../utils/http.js';
import { bearer, loginAs } from './security-helpers.js';

/**
 * Issue 10 item 3: password hashing cannot be triggered without limit. Registration is throttled
 * per IP and refuses taken names before hashing; every hash goes through a bounded queue that
 * answers 503 + Retry-After when full.
 */
describe('password hashing capacity (e2e)', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    jest.restoreAllMocks();
    await t?.close();
    t = undefined;
  });

  const registerFrom = (ip: string, username = uniqueUsername('reg'), password = DEFAULT_PASSWORD) =>
    request(t!.server).post('/auth/register').set('X-Forwarded-For', ip).send({ username, password });

  const userCount = async () => Number((await t!.app.get(DataSource).query('SELECT COUNT(*) AS n FROM users'))[0].n);

  describe('POST /auth/register per client IP (REGISTER_MAX_PER_IP)', () => {
    it('allows REGISTER_MAX_PER_IP attempts per window, then 429 + Retry-After without creating the account', async () => {
      t = await createTestApp({ REGISTER_MAX_PER_IP: '3', REGISTER_WINDOW: '1h', TRUST_PROXY: 'true' });
      const taken = uniqueUsername('taken');
      expect((await registerFrom('203.0.113.5', taken)).status).toBe(201);
      // A taken name counts as an attempt too (it answers a guess).
      expect((await registerFrom('203.0.113.5', taken)).status).toBe(409);
      expect((await registerFrom('203.0.113.5')).status).toBe(201);
      const before = await userCount();

      for (let i = 0; i < 5; i++) {
        const refused = await registerFrom('203.0.113.5');
        expectErrorBody(refused, 429, 'Too Many Requests');
        expect(refused.body.message).toMatch(/registrations/);
        expect(refused.headers['retry-after']).toMatch(/^\d+$/);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600);
      }
      expect(await userCount()).toBe(before);
      // Another address has its own allowance.
      expect((await registerFrom('198.51.100.20')).status).toBe(201);
    });

    it('counts IPv6 clients by their /64, like the login throttle', async () => {
      t = await createTestApp({ REGISTER_MAX_PER_IP: '2', TRUST_PROXY: 'true' });
      expect((await registerFrom('2001:db8:5:6::1')).status).toBe(201);
      expect((await registerFrom('2001:db8:5:6:ffff::2')).status).toBe(201);
      expect((await registerFrom('2001:db8:5:6:1:2:3:4')).status).toBe(429);
      expect((await registerFrom('2001:db8:5:7::1')).status).toBe(201);
    });

    it('is not dodged by parallel requests', async () => {
      t = await createTestApp({ REGISTER_MAX_PER_IP: '4', TRUST_PROXY: 'true' });
      const statuses = await Promise.all(
        Array.from({ length: 12 }, () => registerFrom('203.0.113.77').then((r) => r.status)),
      );
      expect(statuses.filter((s) => s === 201)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(8);
    });

    it('refuses a taken username with 409 without hashing its password', async () => {
      t = await createTestApp();
      const { username } = await register(t.server, uniqueUsername('existing'));
      const hash = jest.spyOn(t.app.get(PasswordHasherService), 'hash');
      const response = await request(t.server)
        .post('/auth/register')
        .send({ username: username.toUpperCase(), password: DEFAULT_PASSWORD });
      expectErrorBody(response, 409, 'Conflict');
      expect(hash).not.toHaveBeenCalled();
    });
  });

  describe('the bounded hashing queue', () => {
    /** Takes every hashing slot (and, with PASSWORD_HASH_QUEUE=0, the whole line) until release() is called. */
    async function saturate(queue: PasswordHashQueue) {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const held = Array.from({ length: queue.concurrency + queue.maxWaiting }, () => queue.run(() => gate));
      await new Promise((resolve) => setImmediate(resolve));
      expect(queue.load).toEqual({ running: queue.concurrency, waiting: queue.maxWaiting });
      return async () => {
        release();
        await Promise.all(held);
      };
    }

    function expectBusy(response: request.Response): void {
      expectErrorBody(response, 503, 'Service Unavailable');
      expect(response.body.message).toMatch(/busy/i);
      expect(response.headers['retry-after']).toMatch(/^\d+$/);
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refreshCookie(response) ?? '').toBe('');
    }

    it('answers 503 + Retry-After on every route that hashes while the queue is full, and 200 again after', async () => {
      t = await createTestApp({
        PASSWORD_HASH_QUEUE: '0',
        LOGIN_MAX_FAILURES_PER_USER: '2',
        LOGIN_MAX_FAILURES_PER_IP: '3',
      });
      const { username } = await register(t.server, uniqueUsername('busy'));
      const session = await loginAs(t.server, username);
      const release = await saturate(t.app.get(PasswordHashQueue));
      try {
        for (let i = 0; i < 4; i++) {
          expectBusy(await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }));
        }
        expectBusy(
          await request(t.server)
            .post('/auth/register')
            .send({ username: uniqueUsername('new'), password: DEFAULT_PASSWORD }),
        );
        expectBusy(
          await bearer(t.server, 'post', '/auth/password', session.accessToken).send({
            currentPassword: DEFAULT_PASSWORD,
            newPassword: 'a new passphrase',
          }),
        );

        // The OAuth token endpoint answers in OAuth's shape (RFC 6749 temporarily_unavailable).
        const token = await request(t.server)
          .post('/auth/token')
          .type('form')
          .send({ grant_type: 'password', username, password: DEFAULT_PASSWORD });
        expect(token.status).toBe(503);
        expect(token.body).toEqual({
          error: 'temporarily_unavailable',
          error_description: expect.stringMatching(/busy/i),
        });
        expect(token.headers['retry-after']).toMatch(/^\d+$/);
        expect(token.headers['cache-control']).toBe('no-store');
      } finally {
        await release();
      }
      // Nothing was stored half-way, and the refused attempts did not count as failed logins
      // (LOGIN_MAX_FAILURES_PER_USER=2, five were refused): the right password logs in.
      const after = await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD });
      expect(after.status).toBe(200);
      expect(await userCount()).toBe(1);
    });

    it('signs access tokens while every thread of the pool is hashing, instead of queueing behind the hashes', async () => {
      t = await createTestApp();
      const { username } = await register(t.server, uniqueUsername('signer'));
      const session = await loginAs(t.server, username);
      const queue = t.app.get(PasswordHashQueue);
      // Stand-ins for hashes that hold a pool thread each until released: opening a FIFO blocks
      // the libuv thread doing it until a writer opens the other end.
      const dir = mkdtempSync(join(tmpdir(), 'nta-pool-'));
      const fifos = Array.from({ length: queue.concurrency }, (_, i) => join(dir, `f${i}`));
      for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
      const held = fifos.map((fifo) => queue.run(() => readFile(fifo)));
      try {
        expect(queue.saturated).toBe(true);
        let timer: NodeJS.Timeout | undefined;
        const refreshed = await Promise.race([
          request(t.server).post('/auth/refresh').set('Cookie', `refresh_token=${session.refreshToken}`),
          new Promise<string>(
            (resolve) => (timer = setTimeout(() => resolve('still waiting for a pool thread'), 20_000)),
          ),
        ]);
        clearTimeout(timer);
        expect(typeof refreshed === 'string' ? refreshed : refreshed.status).toBe(200);
      } finally {
        for (const fifo of fifos) writeFileSync(fifo, 'x');
        await Promise.all(held);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('lets routes that do not hash (refresh, /auth/me) through while it is full', async () => {
      t = await createTestApp({ PASSWORD_HASH_QUEUE: '0' });
      const { username } = await register(t.server, uniqueUsername('other'));
      const session = await loginAs(t.server, username);
      const release = await saturate(t.app.get(PasswordHashQueue));
      try {
        const refreshed = await request(t.server)
          .post('/auth/refresh')
          .set('Cookie', `refresh_token=${session.refreshToken}`);
        expect(refreshed.status).toBe(200);
        expect((await bearer(t.server, 'get', '/auth/me', refreshed.body.access_token as string)).status).toBe(200);
      } finally {
        await release();
      }
    });
  });
});

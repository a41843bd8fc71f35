import { afterEach, describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import { PasswordHashQueue } from '../../src/users/password-hash.queue.js';
import { PasswordHasherService } from '../../src/users/password-hasher.service.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, expectErrorBody, register, uniqueUsername } from '../utils/http.js';
import { bearer, loginAs } from './security-helpers.js';

const ATTACKER_IP = '203.0.113.66';
const VICTIM_IP = '198.51.100.10';

/**
 * Finding 1 of the login-hardening audit: one client flooding the routes that hash must not
 * deny login to everyone else. Each address and account gets a fair share of the hash queue
 * (over it: 429, not 503), and password checks are counted per address and per username
 * (LOGIN_MAX_PER_IP / LOGIN_MAX_PER_USER) on every route that checks one.
 */
describe('login capacity under one flooding client (e2e)', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    jest.restoreAllMocks();
    await t?.close();
    t = undefined;
  });

  const loginFrom = (ip: string, username: string, password = DEFAULT_PASSWORD) =>
    request(t!.server).post('/auth/login').set('X-Forwarded-For', ip).send({ username, password });

  const grantFrom = (ip: string, username: string, password = DEFAULT_PASSWORD) =>
    request(t!.server)
      .post('/auth/token')
      .set('X-Forwarded-For', ip)
      .type('form')
      .send({ grant_type: 'password', username, password });

  function expectRetryAfter(response: request.Response, atMostSeconds: number): void {
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(atMostSeconds);
  }

  /** Holds every hashing thread with work of no client until release(), so the line fills with waiting requests. */
  async function holdThreads(queue: PasswordHashQueue) {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = Array.from({ length: queue.concurrency }, () => queue.run(() => gate));
    await new Promise((resolve) => setImmediate(resolve));
    return async () => {
      release();
      await Promise.all(held);
    };
  }

  /** Sends `n` requests at once; `answered()` says how many have their answer. */
  function burst(n: number, send: () => request.Test) {
    let answered = 0;
    const responses = Array.from({ length: n }, () =>
      send().then((response) => {
        answered += 1;
        return response;
      }),
    );
    return { responses, answered: () => answered };
  }

  /** Polls until `done()`, for at most 5 s. */
  async function until(done: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Waits until `n` requests wait in the line (they were sent, and reached the queue). */
  async function untilWaiting(queue: PasswordHashQueue, n: number): Promise<void> {
    for (let i = 0; i < 500 && queue.load.waiting < n; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(queue.load.waiting).toBe(n);
  }

  describe('the fair share of the hash queue', () => {
    it('one flooding address cannot make another client’s login 503: it gets 429 + Retry-After beyond its share', async () => {
      t = await createTestApp({ TRUST_PROXY: 'true', PASSWORD_HASH_QUEUE: '8', LOGIN_MAX_FAILURES_PER_USER: '100' });
      const attacker = await register(t.server, uniqueUsername('attacker'));
      const victim = await register(t.server, uniqueUsername('victim'));
      const queue = t.app.get(PasswordHashQueue);
      const capacity = queue.concurrency + queue.maxWaiting;
      const release = await holdThreads(queue);
      let flood: ReturnType<typeof burst> | undefined;
      let victimLogin: Promise<request.Response> | undefined;
      try {
        // The attacker sends as many logins at once as the whole line holds, with its right password.
        flood = burst(capacity, () => loginFrom(ATTACKER_IP, attacker.username));
        await untilWaiting(queue, queue.share);
        // Every one beyond its share is answered while its share still waits.
        await until(() => flood!.answered() === capacity - queue.share);
        victimLogin = loginFrom(VICTIM_IP, victim.username).then((r) => r);
        await untilWaiting(queue, queue.share + 1);
      } finally {
        await release();
      }
      const answers = await Promise.all(flood.responses);
      expect((await victimLogin).status).toBe(200);

      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(queue.share);
      expect(statuses.filter((s) => s === 429)).toHaveLength(capacity - queue.share);
      for (const refused of answers.filter((r) => r.status === 429)) {
        expectErrorBody(refused, 429, 'Too Many Requests');
        expect(refused.body.message).toMatch(/at once/);
        expectRetryAfter(refused, 60);
      }
      expect(queue.load).toEqual({ running: 0, waiting: 0 });
      expect(queue.clientsHolding).toBe(0);
    });

    it('answers the password grant over its share with slow_down (429 + Retry-After), in OAuth’s shape', async () => {
      t = await createTestApp({ TRUST_PROXY: 'true', PASSWORD_HASH_QUEUE: '8', LOGIN_MAX_FAILURES_PER_USER: '100' });
      const attacker = await register(t.server, uniqueUsername('attacker'));
      const queue = t.app.get(PasswordHashQueue);
      const release = await holdThreads(queue);
      let flood: ReturnType<typeof burst> | undefined;
      try {
        flood = burst(queue.share + 2, () => grantFrom(ATTACKER_IP, attacker.username));
        await untilWaiting(queue, queue.share);
        await until(() => flood!.answered() === 2);
      } finally {
        await release();
      }
      const answers = await Promise.all(flood.responses);
      expect(answers.filter((r) => r.status === 200)).toHaveLength(queue.share);
      const refused = answers.filter((r) => r.status !== 200);
      expect(refused).toHaveLength(2);
      for (const response of refused) {
        expect(response.status).toBe(429);
        expect(response.body).toEqual({ error: 'slow_down', error_description: expect.stringMatching(/at once/) });
        expect(response.headers['cache-control']).toBe('no-store');
        expectRetryAfter(response, 60);
      }
    });
  });

  it('answers a registration flood from one address beyond its share with 429, not 503', async () => {
    t = await createTestApp({ TRUST_PROXY: 'true', PASSWORD_HASH_QUEUE: '8' });
    const queue = t.app.get(PasswordHashQueue);
    const release = await holdThreads(queue);
    let flood: ReturnType<typeof burst> | undefined;
    try {
      flood = burst(queue.share + 3, () =>
        request(t!.server)
          .post('/auth/register')
          .set('X-Forwarded-For', ATTACKER_IP)
          .send({ username: uniqueUsername('flood'), password: DEFAULT_PASSWORD }),
      );
      await untilWaiting(queue, queue.share);
      await until(() => flood!.answered() === 3);
    } finally {
      await release();
    }
    const statuses = (await Promise.all(flood.responses)).map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(queue.share).fill(201), 429, 429, 429]);
  });

  describe('LOGIN_MAX_PER_USER and LOGIN_MAX_PER_IP', () => {
    it('counts every password check of a username (login, password grant, /auth/password), right or wrong, then 429 without hashing', async () => {
      t = await createTestApp({ LOGIN_MAX_PER_USER: '3', LOGIN_THROTTLE_WINDOW: '10m', TRUST_PROXY: 'true' });
      const { username } = await register(t.server, uniqueUsername('counted'));
      const session = await loginAs(t.server, username); // 1
      expect((await grantFrom('192.0.2.1', username)).status).toBe(200); // 2
      await bearer(t.server, 'post', '/auth/password', session.accessToken)
        .send({ currentPassword: DEFAULT_PASSWORD, newPassword: 'a new passphrase' })
        .expect(204); // 3

      const verify = jest.spyOn(t.app.get(PasswordHasherService), 'verify');
      const hash = jest.spyOn(t.app.get(PasswordHasherService), 'hash');
      // From other addresses too: the limit is the account's.
      const login = await loginFrom('192.0.2.2', username, 'a new passphrase');
      expectErrorBody(login, 429, 'Too Many Requests');
      expect(login.body.message).toMatch(/for this account/);
      expectRetryAfter(login, 600);

      const grant = await grantFrom('192.0.2.3', username.toUpperCase(), 'a new passphrase');
      expect(grant.status).toBe(429);
      expect(grant.body).toEqual({ error: 'slow_down', error_description: expect.stringMatching(/for this account/) });
      expectRetryAfter(grant, 600);

      const fresh = (await grantFrom('192.0.2.1', uniqueUsername('other'))).status;
      expect(fresh).toBe(400); // unknown user: checked (and refused), not throttled

      const change = await bearer(t.server, 'post', '/auth/password', session.accessToken).send({
        currentPassword: 'a new passphrase',
        newPassword: 'another passphrase',
      });
      expectErrorBody(change, 429, 'Too Many Requests');
      expectRetryAfter(change, 600);

      expect(verify).toHaveBeenCalledTimes(1); // the unknown user's check only
      expect(hash).not.toHaveBeenCalled();
    });

    it('counts password checks per client address (IPv6 by /64), successful logins of different accounts included', async () => {
      t = await createTestApp({ LOGIN_MAX_PER_IP: '3', TRUST_PROXY: 'true' });
      const users = [];
      for (let i = 0; i < 5; i++) users.push(await register(t.server, uniqueUsername(`ip${i}`)));
      expect((await loginFrom('2001:db8:9:9::1', users[0].username)).status).toBe(200);
      expect((await loginFrom('2001:db8:9:9::2', users[1].username)).status).toBe(200);
      expect((await loginFrom('2001:db8:9:9:ffff::3', users[2].username, 'wrong password')).status).toBe(401);

      const refused = await loginFrom('2001:db8:9:9::4', users[3].username);
      expectErrorBody(refused, 429, 'Too Many Requests');
      expect(refused.body.message).toMatch(/from this address/);
      expectRetryAfter(refused, 900);
      // Another address is not affected, and neither is the account refused above.
      expect((await loginFrom(VICTIM_IP, users[3].username)).status).toBe(200);
      expect((await loginFrom('2001:db8:9:a::1', users[4].username)).status).toBe(200);
    });

    it('does not count a check that hashing refused (503): the client has its whole allowance after', async () => {
      t = await createTestApp({ LOGIN_MAX_PER_USER: '2', PASSWORD_HASH_QUEUE: '0' });
      const { username } = await register(t.server, uniqueUsername('busy'));
      const queue = t.app.get(PasswordHashQueue);
      const release = await holdThreads(queue);
      try {
        for (let i = 0; i < 4; i++)
          expect(
            (await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD })).status,
          ).toBe(503);
      } finally {
        await release();
      }
      for (let i = 0; i < 2; i++)
        expect(
          (await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD })).status,
        ).toBe(200);
      expect((await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD })).status).toBe(
        429,
      );
    });
  });
});

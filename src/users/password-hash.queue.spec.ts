import { describe, expect, it } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { AppConfig } from '../config/app-config.js';
import { PasswordHashQueue, threadPoolSize, type HashingClient } from './password-hash.queue.js';

function queueWith(passwordHashQueue?: number): PasswordHashQueue {
  const config = { get: () => ({ passwordHashQueue }) } as unknown as ConfigService<AppConfig, true>;
  return new PasswordHashQueue(config);
}

/** A task that runs until `finish()` is called, recording when it started. */
function gate(started: string[], name: string) {
  let finish!: (value: string) => void;
  let fail!: (error: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const task = () => {
    started.push(name);
    return done;
  };
  return { task, finish: () => finish(name), fail: (error: Error) => fail(error) };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('thread-pool sizing', () => {
  it('reads UV_THREADPOOL_SIZE, with libuv’s default of 4 when unset or invalid', () => {
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '3' })).toBe(3);
    expect(threadPoolSize({})).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: 'lots' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '0' })).toBe(4);
  });
});

describe('PasswordHashQueue', () => {
  it('runs at most `concurrency` tasks at once and starts waiting ones in arrival order', async () => {
    const queue = queueWith(100);
    const started: string[] = [];
    const gates = Array.from({ length: queue.concurrency + 3 }, (_, i) => gate(started, `t${i}`));
    const results = gates.map((g) => queue.run(g.task));
    await flush();
    expect(started).toEqual(gates.slice(0, queue.concurrency).map((_, i) => `t${i}`));
    expect(queue.load).toEqual({ running: queue.concurrency, waiting: 3 });
    expect(queue.saturated).toBe(true);

    gates[1].finish();
    await expect(results[1]).resolves.toBe('t1');
    await flush();
    expect(started.at(-1)).toBe(`t${queue.concurrency}`);
    expect(queue.load).toEqual({ running: queue.concurrency, waiting: 2 });

    for (const g of gates) g.finish();
    await Promise.all(results);
    expect(started).toHaveLength(gates.length);
    expect(queue.load).toEqual({ running: 0, waiting: 0 });
    expect(queue.saturated).toBe(false);
  });

  it('refuses with 503 and Retry-After once the line is full, without running the task', async () => {
    const queue = queueWith(2);
    const started: string[] = [];
    const gates = Array.from({ length: queue.concurrency + 2 }, (_, i) => gate(started, `t${i}`));
    const results = gates.map((g) => queue.run(g.task));
    let ranRefused = false;

    const refused = queue.run(async () => {
      ranRefused = true;
      return 'refused';
    });
    await expect(refused).rejects.toBeInstanceOf(ServerBusyException);
    const error = (await refused.catch((e: unknown) => e)) as ServerBusyException;
    expect(error.getStatus()).toBe(503);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(error.message).toMatch(/busy/i);
    expect(ranRefused).toBe(false);
    expect(queue.load).toEqual({ running: queue.concurrency, waiting: 2 });

    // Room again once one finishes.
    gates[0].finish();
    await results[0];
    const late = gate(started, 'late');
    const lateResult = queue.run(late.task);
    for (const g of [...gates, late]) g.finish();
    await expect(lateResult).resolves.toBe('late');
    await Promise.all(results);
  });

  it('with PASSWORD_HASH_QUEUE=0 refuses as soon as every slot is taken', async () => {
    const queue = queueWith(0);
    const started: string[] = [];
    const gates = Array.from({ length: queue.concurrency }, (_, i) => gate(started, `t${i}`));
    const results = gates.map((g) => queue.run(g.task));
    await expect(queue.run(async () => 'x')).rejects.toBeInstanceOf(ServerBusyException);
    for (const g of gates) g.finish();
    await Promise.all(results);
    await expect(queue.run(async () => 'x')).resolves.toBe('x');
  });

  it('frees the slot of a task that fails', async () => {
    const queue = queueWith(0);
    const started: string[] = [];
    const gates = Array.from({ length: queue.concurrency }, (_, i) => gate(started, `t${i}`));
    const results = gates.map((g) => queue.run(g.task).catch((e: Error) => e.message));
    gates[0].fail(new Error('argon2 failed'));
    await expect(results[0]).resolves.toBe('argon2 failed');
    await expect(queue.run(async () => 'next')).resolves.toBe('next');
    for (const g of gates) g.finish();
    await Promise.all(results);
  });

  it('waits 32 per hashing thread by default', () => {
    const queue = queueWith(undefined);
    expect(queue.maxWaiting).toBe(32 * queue.concurrency);
    expect(queue.concurrency).toBe(threadPoolSize());
  });

  describe('fair share', () => {
    /** Starts `n` held tasks for `client`; returns their results and a way to finish them all. */
    function hold(queue: PasswordHashQueue, n: number, client?: HashingClient) {
      const started: string[] = [];
      const gates = Array.from({ length: n }, (_, i) => gate(started, `h${i}`));
      const results = gates.map((g) => queue.run(g.task, client).catch((e: unknown) => e));
      return { results, finish: async () => (gates.forEach((g) => g.finish()), await Promise.all(results)) };
    }

    it('gives each client a quarter of the places (at least one)', () => {
      expect(queueWith(0).share).toBe(Math.max(1, Math.ceil(threadPoolSize() / 4)));
      const queue = queueWith(100);
      expect(queue.share).toBe(Math.ceil((queue.concurrency + 100) / 4));
    });

    it('refuses a client over its share with 429 + Retry-After, not 503, and lets another client in', async () => {
      const queue = queueWith(100);
      const attacker = { ip: '203.0.113.5', username: 'attacker' };
      const held = hold(queue, queue.share, attacker);
      await flush();
      expect(queue.load.running + queue.load.waiting).toBe(queue.share);

      let ran = false;
      const refused = await queue
        .run(
          async () => {
            ran = true;
          },
          { ip: '203.0.113.5', username: 'someone-else' },
        )
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TooManyAttemptsException);
      expect((refused as TooManyAttemptsException).getStatus()).toBe(429);
      expect((refused as TooManyAttemptsException).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(ran).toBe(false);

      // Same address in its /64 for IPv6, and the same account from elsewhere, share one allowance too.
      const v6 = hold(queue, queue.share, { ip: '2001:db8:1:2::1' });
      await flush();
      await expect(queue.run(async () => 'x', { ip: '2001:db8:1:2:ffff::9' })).rejects.toBeInstanceOf(
        TooManyAttemptsException,
      );
      await expect(queue.run(async () => 'x', { ip: '198.51.100.1', username: 'ATTACKER' })).rejects.toBeInstanceOf(
        TooManyAttemptsException,
      );

      const other = queue.run(async () => 'victim', { ip: '198.51.100.2', username: 'victim' });
      await held.finish();
      await v6.finish();
      await expect(other).resolves.toBe('victim');
      expect(queue.load).toEqual({ running: 0, waiting: 0 });
      expect(queue.clientsHolding).toBe(0);
    });

    it('gives clients without a usable address one shared share, not none', async () => {
      const queue = queueWith(100);
      // Fresh usernames each time: only the address share can stop them.
      const held = Array.from({ length: queue.share }, (_, i) => hold(queue, 1, { ip: null, username: `n${i}` }));
      await flush();
      await expect(queue.run(async () => 'x', { ip: undefined, username: 'fresh' })).rejects.toBeInstanceOf(
        TooManyAttemptsException,
      );
      const other = queue.run(async () => 'ok', { ip: '198.51.100.7', username: 'fresh' });
      for (const h of held) await h.finish();
      await expect(other).resolves.toBe('ok');
      expect(queue.clientsHolding).toBe(0);
    });

    it('keeps a reserve: clients already holding places cannot fill the line, a newcomer still gets in', async () => {
      const queue = queueWith(100);
      const capacity = queue.concurrency + queue.maxWaiting;
      // Addresses each below their share, until only the reserve is left.
      const holders: Array<ReturnType<typeof hold>> = [];
      let taken = 0;
      for (let i = 0; taken < capacity - queue.reserve; i++) {
        const n = Math.min(queue.share - 1, capacity - queue.reserve - taken);
        holders.push(hold(queue, n, { ip: `10.0.0.${i}` }));
        taken += n;
      }
      await flush();
      expect(holders.length).toBeGreaterThan(1);
      // Below its share, but holding places: the reserve is not for it.
      await expect(queue.run(async () => 'x', { ip: '10.0.0.0' })).rejects.toBeInstanceOf(TooManyAttemptsException);

      // A client holding nothing takes a place of the reserve.
      const newcomer = queue.run(async () => 'newcomer', { ip: '192.0.2.1', username: 'newcomer' });
      expect(queue.load.running + queue.load.waiting).toBe(capacity - queue.reserve + 1);
      for (const h of holders) await h.finish();
      await expect(newcomer).resolves.toBe('newcomer');
      expect(queue.clientsHolding).toBe(0);
    });

    it('gives every place back on every exit path: success, failure, 429 and 503 refusals', async () => {
      const queue = queueWith(2);
      const client = { ip: '203.0.113.9', username: 'alice' };
      // Tasks that fail, synchronously or not, while running or after waiting.
      const failures = Array.from({ length: queue.share }, (_, i) =>
        queue
          .run(
            i % 2
              ? async () => Promise.reject(new Error('argon2 failed'))
              : () => {
                  throw new Error('threw');
                },
            client,
          )
          .catch((e: Error) => e.message),
      );
      // Over the share, refused at once.
      const overShare = await queue.run(async () => 'x', client).catch((e: unknown) => e);
      expect(overShare).toBeInstanceOf(TooManyAttemptsException);
      for (const message of await Promise.all(failures)) expect(['argon2 failed', 'threw']).toContain(message);

      // 503: the line full of unowned work (as at start-up), then a client refused.
      const blockers = hold(queue, queue.concurrency + queue.maxWaiting);
      await flush();
      await expect(queue.run(async () => 'x', { ip: '198.51.100.7' })).rejects.toBeInstanceOf(ServerBusyException);
      await blockers.finish();

      expect(queue.load).toEqual({ running: 0, waiting: 0 });
      expect(queue.clientsHolding).toBe(0);
      // And the client has its whole share again.
      const again = hold(queue, queue.share, client);
      await flush();
      expect(queue.clientsHolding).toBe(2);
      await again.finish();
      expect((await Promise.all(again.results)).every((r) => typeof r === 'string')).toBe(true);
      expect(queue.clientsHolding).toBe(0);
    });
  });
});

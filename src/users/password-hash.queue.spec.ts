import { describe, expect, it } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import type { AppConfig } from '../config/app-config.js';
import { PasswordHashQueue, threadPoolSize } from './password-hash.queue.js';

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
});

import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import type { AppConfig } from '../config/app-config.js';

/** libuv's default when UV_THREADPOOL_SIZE is not set. */
const LIBUV_DEFAULT_POOL_SIZE = 4;
/** Waiting hashes allowed per hashing thread unless PASSWORD_HASH_QUEUE says otherwise. */
const DEFAULT_WAITING_PER_THREAD = 32;

/** The size of libuv's thread pool, as libuv read it at start-up (scripts/preload.cjs sets it). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : LIBUV_DEFAULT_POOL_SIZE;
}

/**
 * A bounded queue in front of argon2: at most one hash (or verification) per thread of libuv's
 * pool at once, at most `maxWaiting` more waiting in order; anything beyond is refused at once
 * with ServerBusyException (503 + Retry-After) instead of growing a backlog whose every entry
 * makes all later logins slower. Waiting costs a request nothing but its place in line.
 *
 * Hashes therefore never queue inside libuv's pool, which RS256/ES256 signatures share: while a
 * thread is free, a signature gets it at once, and while every thread is hashing (`saturated`),
 * AccessTokenService signs on the event loop instead of queueing behind the hashes.
 */
@Injectable()
export class PasswordHashQueue {
  readonly concurrency: number;
  readonly maxWaiting: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Moving average of a hash's wall time, for Retry-After. */
  private averageMs = 50;

  constructor(config: ConfigService<AppConfig, true>) {
    this.concurrency = threadPoolSize();
    this.maxWaiting = config.get('auth', { infer: true }).passwordHashQueue ?? DEFAULT_WAITING_PER_THREAD * this.concurrency;
  }

  /** Hashes running and waiting right now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** True while every thread of the pool is taken by a hash: work queued there now would wait for one. */
  get saturated(): boolean {
    return this.running >= this.concurrency;
  }

  /** Runs `task` when a hashing slot is free; throws ServerBusyException when the line is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    const started = performance.now();
    try {
      return await task();
    } finally {
      this.averageMs += (performance.now() - started - this.averageMs) / 8;
      this.release();
    }
  }

  private acquire(): Promise<void> | void {
    if (this.running < this.concurrency) {
      this.running += 1;
      return;
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new ServerBusyException('The server is busy checking passwords; try again shortly', this.retryAfterSeconds());
    }
    // The slot is handed over by release(): `running` does not drop and rise again in between,
    // so a newcomer cannot take it ahead of those already waiting.
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }

  /** Time for the current line to drain, rounded up to whole seconds. */
  private retryAfterSeconds(): number {
    const rounds = Math.ceil((this.waiting.length + 1) / this.concurrency);
    return Math.max(1, Math.ceil((rounds * this.averageMs) / 1000));
  }
}

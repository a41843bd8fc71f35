import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { clientBucket } from '../common/http/ip-bucket.js';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { AppConfig } from '../config/app-config.js';

/** Who a hash is for: the client's address (IPv6 by /64) and the account it names. */
export interface HashingClient {
  ip?: string | null;
  username?: string | null;
}

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
 * The line is shared fairly: each client address (IPv6 by /64) and each account named may hold
 * at most a quarter of all places (running + waiting, at least one); a client over its share gets
 * TooManyAttemptsException (429 + Retry-After) instead of 503, and keeps nobody else out. A
 * quarter of the places is kept in reserve for clients that hold none: a few addresses each at
 * their share cannot fill the line either, so a newcomer gets in while any place is left.
 *
 * Hashes therefore never queue inside libuv's pool, which RS256/ES256 signatures share: while a
 * thread is free, a signature gets it at once, and while every thread is hashing (`saturated`),
 * AccessTokenService signs on the event loop instead of queueing behind the hashes.
 */
@Injectable()
export class PasswordHashQueue {
  readonly concurrency: number;
  readonly maxWaiting: number;
  /** Places (running + waiting) one client address or one account may hold at once. */
  readonly share: number;
  /** Places only clients holding none may take. */
  readonly reserve: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Places held per client key ("ip:…", "user:…"); a key holding none is not kept. */
  private readonly held = new Map<string, number>();
  /** Moving average of a hash's wall time, for Retry-After. */
  private averageMs = 50;

  constructor(config: ConfigService<AppConfig, true>) {
    this.concurrency = threadPoolSize();
    this.maxWaiting =
      config.get('auth', { infer: true }).passwordHashQueue ?? DEFAULT_WAITING_PER_THREAD * this.concurrency;
    const capacity = this.concurrency + this.maxWaiting;
    this.share = Math.max(1, Math.ceil(capacity / 4));
    this.reserve = Math.floor(capacity / 4);
  }

  /** Client keys holding places right now (0 when idle: every exit path gives its place back). */
  get clientsHolding(): number {
    return this.held.size;
  }

  /** Hashes running and waiting right now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** True while every thread of the pool is taken by a hash: work queued there now would wait for one. */
  get saturated(): boolean {
    return this.running >= this.concurrency;
  }

  /**
   * Runs `task` when a hashing slot is free, on `client`'s share of the line. Throws
   * TooManyAttemptsException when the client is over its share, ServerBusyException when the
   * line is full; either way nothing was run and nothing is held.
   */
  async run<T>(task: () => Promise<T>, client?: HashingClient): Promise<T> {
    const keys = clientKeys(client);
    // Admission is synchronous (no await between the checks and taking the place), and from
    // here on the place is given back by the `finally`, whatever the task does.
    await this.acquire(keys);
    const started = performance.now();
    try {
      return await task();
    } finally {
      this.averageMs += (performance.now() - started - this.averageMs) / 8;
      this.release(keys);
    }
  }

  private acquire(keys: string[]): Promise<void> | void {
    const holding = keys.map((key) => this.held.get(key) ?? 0);
    if (holding.some((n) => n >= this.share)) {
      throw new TooManyAttemptsException(
        this.retryAfterSeconds(),
        'password checks at once from this address or for this account',
      );
    }
    const taken = this.running + this.waiting.length;
    if (holding.some((n) => n > 0) && taken >= this.concurrency + this.maxWaiting - this.reserve) {
      throw new TooManyAttemptsException(
        this.retryAfterSeconds(),
        'password checks at once from this address or for this account',
      );
    }
    if (this.running >= this.concurrency && this.waiting.length >= this.maxWaiting) {
      throw new ServerBusyException(
        'The server is busy checking passwords; try again shortly',
        this.retryAfterSeconds(),
      );
    }
    for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    if (this.running < this.concurrency) {
      this.running += 1;
      return;
    }
    // The slot is handed over by release(): `running` does not drop and rise again in between,
    // so a newcomer cannot take it ahead of those already waiting.
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(keys: string[]): void {
    for (const key of keys) {
      const n = (this.held.get(key) ?? 0) - 1;
      if (n > 0) this.held.set(key, n);
      else this.held.delete(key);
    }
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

/** The share keys of a client: its address (by /64 for IPv6) and the account it names. */
function clientKeys(client: HashingClient | undefined): string[] {
  const keys: string[] = [];
  // A client without a usable address shares the invalid bucket's share, not none at all.
  if (client) keys.push(`ip:${clientBucket(client.ip)}`);
  if (client?.username) keys.push(`user:${client.username.toLowerCase()}`);
  return keys;
}

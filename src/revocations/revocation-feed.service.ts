import type { ServerResponse } from 'node:http';
import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import { RedisConnections } from '../redis/redis.module.js';
import type { RevocationEvent } from './revocation-event.entity.js';
import { RevocationEventRepository } from './revocation-event.repository.js';
import { RevocationStream } from './revocation-stream.js';
import { RevocationSignal } from './revocation.signal.js';

/** Entries per page of the polling form and per read of the backfill. */
export const REVOCATION_PAGE_SIZE = 500;
/** A comment on every stream this often: the contract asks for one at least every second. */
export const HEARTBEAT_MS = 500;
/**
 * How often the table is read for entries while streams are open. Every revocation of this
 * instance, and with Redis of every instance, wakes the read at once (RevocationSignal); the
 * poll is what delivers within a second without Redis (or while Redis is down).
 */
export const POLL_MS = { withoutRedis: 250, withRedis: 500 } as const;
/** Open streams per client at one instance: one per API process, with room for many replicas. */
export const MAX_STREAMS_PER_CLIENT = 32;
/** Open streams at one instance, all clients together. */
export const MAX_STREAMS = 1000;
/**
 * A stream is ended after this long (plus up to a minute of jitter, so reconnects spread out);
 * the client reconnects from its cursor at once. So a client deleted or given a new secret stops
 * hearing the feed within this time, and streams rebalance across instances.
 */
export const STREAM_MAX_AGE_MS = 15 * 60_000;

/** One page of the polling form. */
export interface RevocationPage {
  items: RevocationEvent[];
  /** The cursor to ask from next (`since`). */
  next: number;
}

/**
 * The revocation feed (GET /auth/revocations): pages for polling, and Server-Sent Events.
 *
 * Entries are rows of `revocation_events`, written with the revocations themselves, so the
 * table is the one source: a stream's backfill and its live entries are both read from it.
 * One reader per instance (the "pump") follows the table from its last id and hands each new
 * entry to every open stream; it is woken by revocations (here, or at other instances through
 * Redis) and polls every POLL_MS besides. A new stream registers first, then reads its backfill:
 * an entry committed meanwhile reaches it both ways, and the stream's cursor drops the second.
 */
@Injectable()
export class RevocationFeedService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RevocationFeedService.name);
  private readonly streams = new Set<RevocationStream>();
  /** Streams between their limit check and their registration (waiting for the first read), per client and in all. */
  private readonly opening = new Map<string, number>();
  private openingTotal = 0;
  private readonly pollMs: number;
  /** The highest id the pump has read; set when the first stream opens. */
  private head: Promise<number> | undefined;
  private reading = false;
  private readAgain = false;
  private failing = false;
  private closing = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe?: () => void;

  constructor(
    private readonly events: RevocationEventRepository,
    private readonly signal: RevocationSignal,
    redis: RedisConnections,
  ) {
    this.pollMs = redis.client ? POLL_MS.withRedis : POLL_MS.withoutRedis;
  }

  onModuleInit(): void {
    this.unsubscribe = this.signal.subscribe(() => {
      if (this.streams.size) void this.read();
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Ends every stream before the HTTP server closes, which would otherwise wait for them. */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.stopTimers();
  }

  /** Open streams (for tests and diagnostics). */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * The entries after `since` whose `until` is still ahead, oldest first, one page. Without
   * `since`, or with one beyond every id we ever handed out (another database, a restored
   * backup), from the start. `next` is the last entry's id, or when there is none, the newest id
   * that exists: nothing at or below it can still arrive.
   */
  async page(since: number | undefined, now = Date.now()): Promise<RevocationPage> {
    // Read before the entries: an entry committed in between has a higher id, so it is either in
    // this page or after `next`.
    const head = await this.events.head();
    const after = since === undefined || since > head ? 0 : since;
    const items = await this.events.findAfter(after, REVOCATION_PAGE_SIZE, Math.floor(now / 1000));
    return { items, next: items.at(-1)?.id ?? head };
  }

  /**
   * Serves the feed as Server-Sent Events on `response` (already hijacked from Fastify by the
   * caller, headers not yet written): the backfill after `since`, then live entries, a comment
   * every HEARTBEAT_MS. Throws (nothing written yet) when the limits are reached or the database
   * cannot be read; once the headers are out, failures just end the stream.
   */
  async stream(clientId: string, since: number | undefined, open: () => ServerResponse): Promise<void> {
    if (this.closing) throw new ServerBusyException('The server is shutting down', 1);
    if (this.streams.size >= MAX_STREAMS) throw new ServerBusyException('Too many open revocation streams', 5);
    let ofClient = 0;
    for (const stream of this.streams) if (stream.clientId === clientId) ofClient++;
    if (ofClient + (this.opening.get(clientId) ?? 0) >= MAX_STREAMS_PER_CLIENT)
      throw new TooManyAttemptsException(5, 'open revocation streams for this client');
    if (this.streams.size + this.openingTotal >= MAX_STREAMS) {
      throw new ServerBusyException('Too many open revocation streams', 5);
    }

    // The slot is taken before the first await: streams requested all at once are all counted.
    this.opening.set(clientId, (this.opening.get(clientId) ?? 0) + 1);
    this.openingTotal++;
    let newest: number;
    try {
      newest = await this.events.head();
    } finally {
      const left = (this.opening.get(clientId) ?? 1) - 1;
      if (left > 0) this.opening.set(clientId, left);
      else this.opening.delete(clientId);
      this.openingTotal--;
    }
    if (this.closing) throw new ServerBusyException('The server is shutting down', 1);
    const response = open();
    const stream = new RevocationStream(clientId, response, since === undefined || since > newest ? 0 : since);
    // Registered before the pump's position is known and before the backfill is read: from here
    // on every entry the pump reads is held for this stream.
    this.streams.add(stream);
    response.on('close', () => this.remove(stream));
    this.startTimers();
    const maxAge = setTimeout(() => stream.end(), STREAM_MAX_AGE_MS + Math.random() * 60_000);
    maxAge.unref();
    response.on('close', () => clearTimeout(maxAge));
    try {
      await this.pumpPosition();
      // A first byte at once: the client knows the stream is up before any entry exists.
      stream.heartbeat();
      await this.backfill(stream);
      stream.goLive();
    } catch (error) {
      this.logger.warn(`A revocation stream failed during its backfill: ${(error as Error).message}`);
      stream.destroy();
    }
  }

  private async backfill(stream: RevocationStream): Promise<void> {
    for (;;) {
      if (stream.closed) return;
      const page = await this.events.findAfter(stream.cursor, REVOCATION_PAGE_SIZE, Math.floor(Date.now() / 1000));
      for (const event of page) if (!stream.send(event)) await stream.drained();
      if (page.length < REVOCATION_PAGE_SIZE) return;
    }
  }

  private remove(stream: RevocationStream): void {
    this.streams.delete(stream);
    if (!this.streams.size) this.stopTimers();
  }

  /** The pump's position; read once, when the first stream opens, then only moved forward by read(). */
  private pumpPosition(): Promise<number> {
    if (!this.head) {
      const head = this.events.head();
      this.head = head;
      // A failed first read is tried again by the next stream.
      head.catch(() => {
        if (this.head === head) this.head = undefined;
      });
    }
    return this.head;
  }

  /** Reads every entry after the pump's position and hands each to every stream. One read at a time. */
  private async read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        let position = await this.pumpPosition();
        for (;;) {
          const events = await this.events.findAfter(position, REVOCATION_PAGE_SIZE);
          const nowSeconds = Math.floor(Date.now() / 1000);
          for (const event of events) {
            position = event.id;
            if (event.until > nowSeconds) for (const stream of this.streams) stream.offer(event);
          }
          this.head = Promise.resolve(position);
          if (events.length < REVOCATION_PAGE_SIZE) break;
        }
      } while (this.readAgain);
      if (this.failing) this.logger.log('Revocation feed: reading the table again');
      this.failing = false;
    } catch (error) {
      // The next poll tries again; streams keep their heartbeat, and their clients' cursors.
      if (!this.failing) this.logger.warn(`Revocation feed: could not read new entries: ${(error as Error).message}`);
      this.failing = true;
    } finally {
      this.reading = false;
    }
  }

  private startTimers(): void {
    if (this.timers.length || this.closing) return;
    const heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.heartbeat();
    }, HEARTBEAT_MS);
    const poll = setInterval(() => void this.read(), this.pollMs);
    heartbeat.unref();
    poll.unref();
    this.timers = [heartbeat, poll];
  }

  private stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }
}

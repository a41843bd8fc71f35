import { AuthServerClient, ClientAuthenticationError, describe } from './auth-server-client.js';
import { parseRevocation, type RevocationList } from './revocation-list.js';
import { SseParser, type ServerSentEvent } from './sse-parser.js';

export interface RevocationFeedSettings {
  transport: 'sse' | 'poll';
  maxStalenessMs: number;
  log: (message: string) => void;
  /** The first catch-up is applied: every revocation still in force is known. */
  onSynced: () => void;
  /** The auth server refused the client credentials. */
  onClientAuthenticationError: (error: ClientAuthenticationError) => void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;
/** A stream that lived this long was healthy: the next failure starts the backoff afresh. */
const HEALTHY_STREAM_MS = 5000;
/** Catch-up pages per connection; a feed that keeps filling pages is followed by the stream. */
const MAX_PAGES = 1000;

/**
 * Subscribes to `GET /auth/revocations` and applies every entry to the revocation list.
 *
 * Each connection first catches up through the polling form (`?since=<cursor>`, page after page
 * until one comes back empty), then streams from that cursor (`Last-Event-ID`). The catch-up
 * gives a definite end to the backfill, which the stream alone does not mark, and a reconnect
 * resumes exactly where the last applied event left off. Freshness counts from the last byte
 * received (events, comments, or a poll answer); a stream silent for longer than the idle limit
 * is presumed dead and replaced. Every failure is retried with jittered exponential backoff;
 * nothing here throws into the host process.
 */
export class RevocationFeed {
  private cursor: string | undefined;
  private lastByteAt = -Infinity;
  private synced = false;
  private stopped = false;
  private failing = false;
  /** Aborts whatever request is under way when stop() is called. */
  private readonly stopping = new AbortController();
  private wake: (() => void) | undefined;
  private readonly idleLimitMs: number;
  private readonly pollIntervalMs: number;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: AuthServerClient,
    private readonly list: RevocationList,
    private readonly settings: RevocationFeedSettings,
  ) {
    // The server sends a comment at least every second; a few missed ones mean a dead connection.
    // Reconnecting before maxStaleness runs out keeps a blip from making the kit stale.
    this.idleLimitMs = Math.max(1500, Math.min(3000, settings.maxStalenessMs));
    this.pollIntervalMs = Math.min(1000, settings.maxStalenessMs / 2);
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.wake?.();
    await this.running;
  }

  /** Whether a byte arrived within maxStaleness; false before the first catch-up. */
  isFresh(): boolean {
    return performance.now() - this.lastByteAt <= this.settings.maxStalenessMs;
  }

  /** The cursor of the last applied entry (for diagnostics and tests). */
  get lastEventId(): string | undefined {
    return this.cursor;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const startedAt = performance.now();
      try {
        await this.catchUp();
        this.recovered();
        if (this.settings.transport === 'sse') {
          await this.follow();
          attempt = performance.now() - startedAt >= HEALTHY_STREAM_MS ? 0 : attempt + 1;
        } else {
          attempt = 0;
          await this.sleep(this.pollIntervalMs);
          continue;
        }
      } catch (error) {
        if (this.stopped) break;
        this.failed(error);
        attempt++;
      }
      if (this.stopped) break;
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempt - 1));
      await this.sleep(delay * (0.5 + Math.random() / 2));
    }
  }

  private async catchUp(): Promise<void> {
    for (let page = 0; page < MAX_PAGES && !this.stopped; page++) {
      const { items, next } = await this.client.revocations(this.cursor, this.stopping.signal);
      let last: string | undefined;
      for (const item of items) {
        this.apply(item);
        const id = (item as { id?: unknown } | null)?.id;
        if (typeof id === 'string' || typeof id === 'number') last = String(id);
      }
      const cursor = next ?? last ?? this.cursor;
      const advanced = cursor !== this.cursor;
      this.cursor = cursor;
      this.touch();
      if (!items.length || !advanced) break;
    }
    if (!this.synced && !this.stopped) {
      this.synced = true;
      this.settings.onSynced();
    }
  }

  /** Streams until the server ends the stream, the connection dies or goes silent, or stop(). */
  private async follow(): Promise<void> {
    if (this.stopped) return;
    const controller = new AbortController();
    const stop = () => controller.abort();
    this.stopping.signal.addEventListener('abort', stop, { once: true });
    const watchdog = setInterval(() => {
      if (performance.now() - this.lastByteAt > this.idleLimitMs) controller.abort();
    }, 250);
    watchdog.unref();
    try {
      const body = await this.client.revocationStream(this.cursor, controller.signal);
      this.touch();
      const parser = new SseParser((event) => this.onEvent(event));
      const decoder = new TextDecoder();
      const reader = body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          this.touch();
          parser.push(decoder.decode(value, { stream: true }));
        }
      } finally {
        reader.releaseLock();
        await body.cancel().catch(() => {});
      }
    } catch (error) {
      if (controller.signal.aborted && !this.stopped)
        throw new Error('revocation stream: silent for too long', { cause: error });
      throw error;
    } finally {
      clearInterval(watchdog);
      this.stopping.signal.removeEventListener('abort', stop);
    }
  }

  private onEvent(event: ServerSentEvent): void {
    if (event.type === 'revoked') this.apply(safeJson(event.data));
    // The cursor moves only once the event is applied, so a reconnect can never skip it.
    if (event.id) this.cursor = event.id;
  }

  private apply(value: unknown): void {
    const revocation = parseRevocation(value);
    if (revocation) this.list.apply(revocation);
    else this.settings.log('@nest-token-auth/resource-server: ignored a revocation entry of unknown shape');
  }

  private touch(): void {
    this.lastByteAt = performance.now();
  }

  private failed(error: unknown): void {
    if (error instanceof ClientAuthenticationError) this.settings.onClientAuthenticationError(error);
    if (this.failing) return;
    this.failing = true;
    this.settings.log(`@nest-token-auth/resource-server: revocation feed lost (${describe(error)}); reconnecting`);
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.settings.log('@nest-token-auth/resource-server: revocation feed restored');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = undefined;
    });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

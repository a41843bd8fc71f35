import type { ServerResponse } from 'node:http';
import type { RevocationEvent } from './revocation-event.entity.js';

/**
 * Bytes a stream may have waiting in its socket before we give up on the client: one that does
 * not read is cut (it resumes from its last cursor when it reconnects) rather than buffered for.
 */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Live entries held for a stream while its backfill is still being written. */
const MAX_BACKLOG = 10_000;

/** The `data:` of an entry, as the contract names it. */
export function revocationData(event: RevocationEvent): Record<string, string | number> {
  return event.sid === null
    ? { sub: event.sub, notBefore: event.notBefore ?? 0, until: event.until }
    : { sid: event.sid, sub: event.sub, until: event.until };
}

/**
 * One open Server-Sent Events response of the feed. Entries are written in id order, each at
 * most once: `cursor` is the id of the last one written, and anything at or below it is skipped,
 * which is what lets the backfill and the live entries overlap without duplicates. Until the
 * backfill is written, live entries wait in a backlog.
 */
export class RevocationStream {
  private backlog: RevocationEvent[] | undefined = [];
  private ended = false;

  constructor(
    readonly clientId: string,
    private readonly response: ServerResponse,
    /** The id after which entries are owed. */
    public cursor: number,
  ) {}

  get closed(): boolean {
    return this.ended || this.response.destroyed || this.response.writableEnded;
  }

  /** A live entry: written now, or after the backfill. */
  offer(event: RevocationEvent): void {
    if (!this.backlog) this.send(event);
    else if (this.backlog.length >= MAX_BACKLOG) this.destroy();
    else this.backlog.push(event);
  }

  /** The backfill is written: the live entries held meanwhile follow, and the next ones go out at once. */
  goLive(): void {
    const held = this.backlog ?? [];
    this.backlog = undefined;
    for (const event of held) this.send(event);
  }

  /** Writes an entry unless the client has it already; false when the socket wants a pause (see drained()). */
  send(event: RevocationEvent): boolean {
    if (this.closed || event.id <= this.cursor) return true;
    this.cursor = event.id;
    return this.write(`id: ${event.id}\nevent: revoked\ndata: ${JSON.stringify(revocationData(event))}\n\n`);
  }

  /** A comment line: keeps the connection (and proxies on the way) from idling out, tells the client we are alive. */
  heartbeat(): void {
    this.write(': keep-alive\n\n');
  }

  /** Resolves when the socket can take more, or the stream closed. */
  drained(): Promise<void> {
    if (this.closed || !this.response.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.on('drain', done);
      this.response.on('close', done);
    });
  }

  /** Ends the response normally (shutdown, the stream's age): the client reconnects with its cursor. */
  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.response.end();
  }

  /** Cuts the connection (a client that does not keep up). */
  destroy(): void {
    this.ended = true;
    this.response.destroy();
  }

  private write(chunk: string): boolean {
    if (this.closed) return true;
    if (this.response.writableLength > MAX_BUFFERED_BYTES) {
      this.destroy();
      return true;
    }
    return this.response.write(chunk);
  }
}

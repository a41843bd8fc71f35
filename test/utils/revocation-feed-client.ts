import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One dispatched event of the feed. */
export interface FeedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** `Authorization` for client_secret_basic (RFC 6749 §2.3.1: each half form-encoded). */
export function basicAuth(clientId: string, secret: string): string {
  const form = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64')}`;
}

/** Starts the app's server on an ephemeral port (SSE needs a real socket); returns its base URL. */
export async function listen(server: Server): Promise<string> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A Server-Sent Events subscriber of GET /auth/revocations, as simple as the format allows (our
 * server writes LF line ends, whole events per write): collects events and comments, and when
 * the last byte arrived.
 */
export class FeedStream {
  readonly events: FeedEvent[] = [];
  comments = 0;
  lastByteAt = 0;
  ended = false;
  private buffer = '';
  private readonly done: Promise<void>;

  /**
   * node:http on a connection of its own (no agent): fetch's pool keeps sockets of its own open,
   * which would make the server's close wait for them.
   */
  private constructor(readonly response: IncomingMessage) {
    this.done = this.read(response);
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  header(name: string): string | undefined {
    const value = this.response.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  static open(
    baseUrl: string,
    authorization: string,
    options: { lastEventId?: string; since?: string } = {},
  ): Promise<FeedStream> {
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const query = options.since === undefined ? '' : `?since=${encodeURIComponent(options.since)}`;
    return new Promise((resolve, reject) => {
      request(`${baseUrl}/auth/revocations${query}`, { headers, agent: false }, (response) =>
        resolve(new FeedStream(response)),
      )
        .on('error', reject)
        .end();
    });
  }

  /** Waits until `check` holds (polling every 10 ms); fails after `timeoutMs`. */
  async until(check: (stream: FeedStream) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline)
        throw new Error(`feed condition not met within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits for the `count`-th event; returns it. */
  async nth(count: number, timeoutMs = 3000): Promise<FeedEvent> {
    await this.until((s) => s.events.length >= count, timeoutMs);
    return this.events[count - 1];
  }

  async close(): Promise<void> {
    this.response.destroy();
    this.response.socket?.destroy();
    await this.done;
  }

  /** Resolves when the server ended the stream. */
  async closed(): Promise<void> {
    await this.done;
  }

  private async read(response: IncomingMessage): Promise<void> {
    response.setEncoding('utf8');
    try {
      for await (const chunk of response as AsyncIterable<string>) {
        this.lastByteAt = Date.now();
        this.buffer += chunk;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) !== -1) {
          this.block(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
      }
    } catch {
      // Destroyed by close(), or the connection dropped: either way the stream is over.
    } finally {
      this.ended = true;
    }
  }

  /** The body of a response that is not a stream (an error). */
  async text(): Promise<string> {
    await this.done;
    return this.buffer;
  }

  private block(block: string): void {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
    }
    if (fields.data !== undefined) {
      this.events.push({
        id: fields.id,
        type: fields.event,
        data: JSON.parse(fields.data) as Record<string, unknown>,
      });
    }
  }
}

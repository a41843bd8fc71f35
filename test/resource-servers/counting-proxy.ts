import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Stands between an example API and an auth instance and counts every request by path, so the
 * suite can prove the APIs do not call the auth server per API request. It can also cut the API
 * off (`pause()`: open streams dropped, new connections reset, as if the auth server were
 * unreachable), or cut off one path only (`block('/auth/revocations')`: the feed goes silent while
 * introspection still gets through).
 */
export class CountingProxy {
  private readonly counts = new Map<string, number>();
  private readonly chunks = new Map<string, number>();
  private readonly open = new Set<{ path: string; drop: () => void }>();
  private readonly sockets = new Set<Socket>();
  private readonly blocked = new Set<string>();
  private paused = false;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {}

  /** A proxy on 127.0.0.1 in front of `target` (an auth instance's base URL). */
  static async start(target: string): Promise<CountingProxy> {
    const server = createServer();
    const proxy = new CountingProxy(server, new URL(target));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res));
    server.on('connection', (socket: Socket) => {
      proxy.sockets.add(socket);
      socket.once('close', () => proxy.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests seen per path (query strings left out), including those refused while cut off. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Requests seen since `before` (a snapshot), per path; paths with none are left out. */
  since(before: Record<string, number>): Record<string, number> {
    const delta: Record<string, number> = {};
    for (const [path, count] of this.counts) if (count > (before[path] ?? 0)) delta[path] = count - (before[path] ?? 0);
    return delta;
  }

  /** Open streams/requests to `path` right now (the feed's SSE connection while it is up). */
  openTo(path: string): number {
    return [...this.open].filter((entry) => entry.path === path).length;
  }

  /** Chunks of response body passed from the auth server to the API on `path` so far. */
  chunksFrom(path: string): number {
    return this.chunks.get(path) ?? 0;
  }

  /** Cuts the API off the auth server entirely. */
  pause(): void {
    this.paused = true;
    for (const entry of this.open) entry.drop();
    // Idle keep-alive connections too, so the next request meets the reset.
    for (const socket of this.sockets) socket.destroy();
  }

  /** Cuts off one path only, e.g. the feed. */
  block(path: string): void {
    this.blocked.add(path);
    for (const entry of this.open) if (entry.path === path) entry.drop();
  }

  resume(): void {
    this.paused = false;
    this.blocked.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
    if (this.paused || this.blocked.has(path)) {
      req.socket.destroy();
      return;
    }
    // A connection of its own per request (no agent): an instance restarted on the same port must
    // not meet a pooled socket of its previous life.
    const upstream = request(
      new URL(req.url ?? '/', this.target),
      { method: req.method, headers: { ...req.headers, host: this.target.host }, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.on('data', () => this.chunks.set(path, (this.chunks.get(path) ?? 0) + 1));
        answer.pipe(res);
      },
    );
    const entry = {
      path,
      drop: () => {
        upstream.destroy();
        res.destroy();
        req.socket.destroy();
      },
    };
    this.open.add(entry);
    upstream.on('error', () => res.destroy());
    // The API hung up (it ended a stream it considered dead): end ours with the auth server too.
    res.once('close', () => {
      this.open.delete(entry);
      upstream.destroy();
    });
    req.pipe(upstream);
  }
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A stand-in for nest-token-auth, written from the contract of issue 14 only: JWKS, the
 * revocation feed (SSE and polling), introspection, client_secret_basic. Tests steer it: push
 * revocations, silence the heartbeat, drop streams, take the feed or introspection down.
 */

export interface FakeKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface FeedEntry {
  id: number;
  sid?: string;
  sub: string;
  notBefore?: number;
  until: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  since: string | null;
  lastEventId: string | undefined;
  stream: boolean;
  authorized: boolean;
}

export interface TokenOptions {
  key?: FakeKey;
  typ?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Seconds from now. */
  issuedAt?: number;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export class FakeAuthServer {
  /** A `:` and non-ASCII in the id, `+ /:` in the secret: client_secret_basic must form-encode both. */
  readonly clientId = 'orders api:ü';
  readonly clientSecret = 's3cret+/ :x';
  readonly audience = 'https://auth.test/api';
  issuer = '';
  keys: FakeKey[] = [];
  /** The kids served at /.well-known/jwks.json. */
  published = new Set<string>();
  feed: FeedEntry[] = [];
  requests: SeenRequest[] = [];
  jwksRequests = 0;
  introspections: string[] = [];
  heartbeat = true;
  pollPageSize = 100;
  feedStatus = 200;
  introspection: 'answer' | 'error' | 'inactive' = 'answer';
  /** Runs right after a poll is answered (to land an event between catch-up and stream). */
  afterPoll: ((itemCount: number) => void) | undefined;

  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private heartbeatTimer: NodeJS.Timeout | undefined;

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(alg = 'RS256'): Promise<FakeAuthServer> {
    const fake = new FakeAuthServer();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.issuer = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    await fake.addKey(alg, true, true);
    fake.heartbeatTimer = setInterval(() => {
      if (fake.heartbeat) for (const stream of fake.streams) stream.write(': keep-alive\n');
    }, 200);
    return fake;
  }

  /** The options createTokenVerifier needs to talk to this server. */
  verifierOptions() {
    return {
      issuer: this.issuer,
      audience: this.audience,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      log: false as const,
    };
  }

  /** A new key pair; `start()` reuses one per algorithm across servers, since RSA generation is slow. */
  async addKey(alg = 'RS256', publish = true, shared = false): Promise<FakeKey> {
    const key = shared ? await sharedKey(alg) : await newKey(alg);
    this.keys.push(key);
    if (publish) this.published.add(key.kid);
    return key;
  }

  /** An access token as the auth server issues it (RFC 9068), with `claims` on top. */
  async sign(claims: Record<string, unknown> = {}, options: TokenOptions = {}): Promise<string> {
    const key = options.key ?? this.keys[0];
    const iat = nowSeconds() + (options.issuedAt ?? 0);
    const payload = {
      sub: 'user-1',
      sid: randomUUID(),
      jti: randomUUID(),
      iat,
      exp: nowSeconds() + (options.expiresIn ?? 3600),
      iss: this.issuer,
      aud: this.audience,
      roles: [],
      ...claims,
    };
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, typ: options.typ ?? 'at+jwt', kid: key.kid })
      .sign(key.privateKey);
    return key.alg === 'ES256' ? withLowS(token) : token;
  }

  revokeSession(sid: string, sub = 'user-1', until = nowSeconds() + 3600): FeedEntry {
    return this.push({ sid, sub, until });
  }

  cutOff(sub: string, notBefore: number, until = nowSeconds() + 3600): FeedEntry {
    return this.push({ sub, notBefore, until });
  }

  /** Persists an entry and sends it to every open stream. */
  push(entry: Omit<FeedEntry, 'id'>): FeedEntry {
    const stored = { id: this.feed.length + 1, ...entry };
    this.feed.push(stored);
    for (const stream of this.streams) stream.write(eventOf(stored));
    return stored;
  }

  /** Cuts every open stream as a crashed server or a broken network would. */
  dropStreams(): void {
    for (const stream of this.streams) stream.socket?.destroy();
    this.streams.clear();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  streamRequests(): SeenRequest[] {
    return this.requests.filter((r) => r.stream);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, this.issuer);
    const stream = (req.headers.accept ?? '').includes('text/event-stream');
    const authorized = this.isClient(req.headers.authorization);
    const lastEventId = req.headers['last-event-id'] as string | undefined;
    this.requests.push({
      method: req.method!,
      path: url.pathname,
      since: url.searchParams.get('since'),
      lastEventId,
      stream,
      authorized,
    });

    if (url.pathname === '/.well-known/jwks.json') {
      this.jwksRequests++;
      const keys = this.keys
        .filter((k) => this.published.has(k.kid))
        .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' }));
      return json(res, 200, { keys });
    }
    if (url.pathname === '/auth/revocations' || url.pathname === '/auth/introspect') {
      if (!authorized) {
        res.setHeader('www-authenticate', 'Basic realm="nest-token-auth"');
        return json(res, 401, { error: 'invalid_client' });
      }
    }
    if (url.pathname === '/auth/revocations' && req.method === 'GET') {
      if (this.feedStatus !== 200) return json(res, this.feedStatus, { error: 'unavailable' });
      const since = lastEventId ?? url.searchParams.get('since') ?? undefined;
      const pending = this.feed.filter((e) => (since === undefined || e.id > Number(since)) && e.until > nowSeconds());
      if (stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.flushHeaders();
        for (const entry of pending) res.write(eventOf(entry));
        this.streams.add(res);
        res.on('close', () => this.streams.delete(res));
        return;
      }
      const items = pending.slice(0, this.pollPageSize);
      const head = this.feed.at(-1)?.id;
      const next = items.length ? items.at(-1)!.id : (since ?? head ?? null);
      json(res, 200, {
        items: items.map((item) => ({ ...item, id: String(item.id) })),
        next: next === null ? null : String(next),
      });
      this.afterPoll?.(items.length);
      return;
    }
    if (url.pathname === '/auth/introspect' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const token = form.get('token') ?? '';
      this.introspections.push(token);
      if (this.introspection === 'error') return json(res, 500, { error: 'server_error' });
      res.setHeader('cache-control', 'no-store');
      return json(res, 200, this.introspection === 'answer' ? await this.introspect(token) : { active: false });
    }
    json(res, 404, { error: 'not_found' });
  }

  /** RFC 6749 §2.3.1: both halves are form-urlencoded. */
  private isClient(authorization: string | undefined): boolean {
    if (!authorization?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return false;
    const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return (
      formDecode(decoded.slice(0, colon)) === this.clientId &&
      formDecode(decoded.slice(colon + 1)) === this.clientSecret
    );
  }

  private async introspect(token: string): Promise<Record<string, unknown>> {
    try {
      const keys = createLocalJWKSet({ keys: this.keys.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg })) });
      const { payload } = await jwtVerify(token, keys, { issuer: this.issuer, audience: this.audience });
      const revoked = this.feed.some(
        (e) =>
          (e.sid !== undefined && e.sid === payload.sid) ||
          (e.sid === undefined && e.sub === payload.sub && payload.iat! < e.notBefore!),
      );
      if (revoked) return { active: false };
      return { active: true, token_type: 'Bearer', username: `name-of-${payload.sub}`, ...payload };
    } catch {
      return { active: false };
    }
  }
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The low-s form of an ES256 token, as the auth server issues them (jose signs either half). */
function withLowS(token: string): string {
  const [header, payload, signature] = token.split('.');
  const bytes = Buffer.from(signature, 'base64url');
  const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
  if (s <= P256_ORDER >> 1n) return token;
  const low = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
  return `${header}.${payload}.${Buffer.concat([bytes.subarray(0, 32), low]).toString('base64url')}`;
}

const sharedKeys = new Map<string, Promise<FakeKey>>();

function sharedKey(alg: string): Promise<FakeKey> {
  let key = sharedKeys.get(alg);
  if (!key) sharedKeys.set(alg, (key = newKey(alg)));
  return key;
}

async function newKey(alg: string): Promise<FakeKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid: randomUUID(), alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

function eventOf(entry: FeedEntry): string {
  const { id, ...data } = entry;
  return `id: ${id}\nevent: revoked\ndata: ${JSON.stringify(data)}\n\n`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

/** Polls `check` until it returns true (or stops throwing); fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `condition not met within ${timeoutMs} ms${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, got a value');
}

import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  AuthError,
  createAuthClient,
  type AuthClient,
  type AuthClientOptions,
  type AuthEvent,
  type AdminUser,
  type AuditEntry,
  type AuthState,
  type BroadcastChannelLike,
  type LockManagerLike,
} from '../src/auth-client.js';

const BASE = 'http://auth.test';
const ITEMS = `${BASE}/api/items`;
const PASSWORD = 'correct horse battery';

interface Call {
  method: string;
  origin: string;
  path: string;
  /** The query string, `?…` or ''. */
  search: string;
  authorization: string | null;
  credentials: RequestCredentials;
  cookie: string | null;
  body: string;
  status?: number;
}

interface FakeUser {
  id: string;
  username: string;
  password: string;
  roles: string[];
  createdAt: string;
  disabledAt: string | null;
}

interface FakeSession {
  id: string;
  userId: string;
  createdAt: string;
}

function fakeUser(username: string, password: string): FakeUser {
  return {
    id: `user-${username}`,
    username,
    password,
    roles: [],
    createdAt: '2026-01-01T00:00:00.000Z',
    disabledAt: null,
  };
}

/**
 * Stands in for the NestJS server and the browser's cookie jar, which every "tab" shares.
 * Refresh tokens rotate with reuse detection (no grace window), so two tabs spending the same
 * cookie at once is caught here the way the real server would revoke the session. Tokens belong
 * to a session of a user; a revoked session or a disabled user refuses them, as the real
 * per-request check does. `/admin/*` follows issue 13's contract, for users with role `admin`.
 */
class FakeAuthServer {
  readonly calls: Call[] = [];
  expiresIn = 60;
  /** Refuse every access token, fresh ones too. */
  refuseAllAccessTokens = false;
  /** /auth/refresh fails at the network level, as fetch does when offline. */
  refreshOffline = false;
  reuseDetected = 0;
  /** The HttpOnly refresh cookie, as the browser holds it. */
  jar: string | null = null;

  readonly users = new Map<string, FakeUser>([['alice', fakeUser('alice', PASSWORD)]]);
  readonly sessions = new Map<string, FakeSession>();
  readonly audit: AuditEntry[] = [];

  private seq = 0;
  /** Access token → its session id. */
  private readonly liveAccessTokens = new Map<string, string>();
  private readonly refreshTokens = new Map<string, { state: 'live' | 'used'; sessionId: string }>();
  private readonly gates = new Map<string, Promise<void>>();

  /** Requests to `path` wait (after being recorded, with the cookie they carried) until released. */
  hold(path: string): () => void {
    let release!: () => void;
    this.gates.set(path, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.gates.delete(path);
      release();
    };
  }

  expireAccessTokens(): void {
    this.liveAccessTokens.clear();
  }

  revokeSessions(): void {
    this.refreshTokens.clear();
  }

  count(path: string, status?: number): number {
    return this.calls.filter((call) => call.path === path && (status === undefined || call.status === status)).length;
  }

  callsTo(path: string): Call[] {
    return this.calls.filter((call) => call.path === path);
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const { origin, pathname: path, search } = new URL(request.url);
    // The browser attaches the Path=/auth cookie only to /auth/* and only with credentials: 'include'.
    const cookie = request.credentials === 'include' && path.startsWith('/auth/') ? this.jar : null;
    const call: Call = {
      method: request.method,
      origin,
      path,
      search,
      authorization: request.headers.get('authorization'),
      credentials: request.credentials,
      cookie,
      body: await request.text(),
    };
    this.calls.push(call);
    // A client stuck in a refresh/retry loop never yields to the event loop, so jest's timeout
    // could not stop it; fail the request instead.
    if (this.calls.length > 100) throw new Error('runaway client: more than 100 requests');
    await this.gates.get(path);
    if (path === '/auth/refresh' && this.refreshOffline) throw new TypeError('fetch failed');
    const response = this.route(call);
    call.status = response.status;
    return response;
  };

  private route(call: Call): Response {
    switch (call.path) {
      case '/auth/register': {
        const { username, password } = JSON.parse(call.body) as { username: string; password: string };
        if (this.users.has(username))
          return json(409, { statusCode: 409, error: 'Conflict', message: 'Username is taken' });
        const user = fakeUser(username, password);
        this.users.set(username, user);
        return json(201, { id: user.id, username, createdAt: user.createdAt });
      }
      case '/auth/login': {
        const { username, password } = JSON.parse(call.body) as { username: string; password: string };
        const user = this.users.get(username);
        if (user?.password !== password) {
          return json(401, { statusCode: 401, error: 'Unauthorized', message: 'Invalid username or password' });
        }
        if (user.disabledAt)
          return json(403, { statusCode: 403, error: 'Forbidden', message: 'This account is disabled' });
        const session = { id: `session-${this.sessions.size + 1}-${username}`, userId: user.id, createdAt: now() };
        this.sessions.set(session.id, session);
        return this.issueTokens(session.id);
      }
      case '/auth/refresh': {
        const entry = call.cookie === null ? undefined : this.refreshTokens.get(call.cookie);
        const state = entry && this.sessions.has(entry.sessionId) ? entry.state : undefined;
        if (entry && state === 'live') {
          entry.state = 'used';
          return this.issueTokens(entry.sessionId);
        }
        if (state === 'used') {
          this.reuseDetected++;
          this.refreshTokens.clear();
        }
        this.jar = null;
        return json(401, {
          statusCode: 401,
          error: 'Unauthorized',
          message: 'Refresh token is missing, invalid, expired or revoked; log in again',
        });
      }
      case '/auth/logout':
        if (call.cookie !== null) this.sessions.delete(this.refreshTokens.get(call.cookie)?.sessionId ?? '');
        this.refreshTokens.clear();
        this.jar = null;
        return new Response(null, { status: 204 });
      default:
        return this.protectedRoute(call);
    }
  }

  private protectedRoute(call: Call): Response {
    if (!call.authorization) {
      return json(
        401,
        { statusCode: 401, message: 'An access token is required' },
        { 'WWW-Authenticate': 'Bearer realm="nest-token-auth"' },
      );
    }
    const token = call.authorization.replace(/^Bearer /, '');
    const session = this.sessions.get(this.liveAccessTokens.get(token) ?? '');
    const user = [...this.users.values()].find((candidate) => candidate.id === session?.userId);
    if (this.refuseAllAccessTokens || !user || user.disabledAt) {
      return json(
        401,
        { statusCode: 401, message: 'The access token is invalid or expired' },
        {
          'WWW-Authenticate':
            'Bearer realm="nest-token-auth", error="invalid_token", error_description="The access token is invalid or expired"',
        },
      );
    }
    if (call.path === '/api/no-challenge') return json(401, { statusCode: 401, message: 'Not yours' });
    if (call.path === '/auth/me') return json(200, { id: user.id, username: user.username, roles: user.roles });
    if (call.path.startsWith('/admin/')) return this.adminRoute(call, user);
    return json(200, { path: call.path, token, body: call.body });
  }

  private adminRoute(call: Call, actor: FakeUser): Response {
    if (!actor.roles.includes('admin')) {
      return json(
        403,
        { statusCode: 403, error: 'Forbidden', message: 'The access token does not grant access to this resource' },
        { 'WWW-Authenticate': 'Bearer realm="nest-token-auth", error="insufficient_scope"' },
      );
    }
    const query = new URLSearchParams(call.search);
    const [, , collection, rawId, sub, ...rest] = call.path.split('/');
    const id = rawId === undefined ? undefined : decodeURIComponent(rawId);
    const notFound = (what: string) => json(404, { statusCode: 404, error: 'Not Found', message: `${what} not found` });
    const route = `${call.method} ${collection}${id === undefined ? '' : '/:id'}${sub === undefined ? '' : `/${sub}`}`;
    if (rest.length) return notFound('Route');

    if (route === 'GET users') {
      const prefix = (query.get('q') ?? '').toLowerCase();
      const limit = Number(query.get('limit') ?? 20);
      const after = query.get('cursor') ?? '';
      const matching = [...this.users.values()]
        .filter((user) => user.username.toLowerCase().startsWith(prefix) && user.username > after)
        .sort((a, b) => a.username.localeCompare(b.username));
      const items = matching.slice(0, limit);
      const next = matching.length > limit ? items[items.length - 1].username : null;
      return json(200, { items: items.map((user) => this.item(user)), next });
    }
    if (route === 'GET audit') {
      const items = this.audit.filter(
        (entry) =>
          (!query.has('userId') || entry.userId === query.get('userId')) &&
          (!query.has('type') || entry.type === query.get('type')),
      );
      return json(200, { items, next: null });
    }
    if (route === 'DELETE sessions/:id') {
      const session = this.sessions.get(id!);
      if (!session) return notFound('Session');
      this.sessions.delete(session.id);
      this.record('session_revoked', session.userId, actor, { sessionId: session.id });
      return new Response(null, { status: 204 });
    }
    const user = [...this.users.values()].find((candidate) => candidate.id === id);
    if (collection !== 'users' || !user) return notFound('User');
    switch (route) {
      case 'GET users/:id':
        return json(200, this.item(user));
      case 'PATCH users/:id': {
        const changes = JSON.parse(call.body) as { roles?: string[]; disabled?: boolean };
        if (changes.roles?.some((role) => !/^[a-z][a-z0-9_-]{0,31}$/.test(role))) {
          return json(400, {
            statusCode: 400,
            error: 'Bad Request',
            message: ['each role must match ^[a-z][a-z0-9_-]{0,31}$'],
          });
        }
        const demotesSelf = changes.roles !== undefined && !changes.roles.includes('admin');
        if (user === actor && (changes.disabled === true || demotesSelf)) {
          return json(409, {
            statusCode: 409,
            error: 'Conflict',
            message: 'An admin cannot disable themself or remove their own admin role',
          });
        }
        if (changes.roles) user.roles = [...changes.roles].sort();
        if (changes.disabled === true && !user.disabledAt) {
          user.disabledAt = now();
          this.revokeSessionsOf(user);
          this.record('user_disabled', user.id, actor);
        } else if (changes.disabled === false && user.disabledAt) {
          user.disabledAt = null;
          this.record('user_enabled', user.id, actor);
        }
        return json(200, this.item(user));
      }
      case 'GET users/:id/sessions':
        return json(
          200,
          this.sessionsOf(user).map(({ id: sessionId, createdAt }) => ({
            id: sessionId,
            createdAt,
            lastUsedAt: createdAt,
            expiresAt: '2026-02-01T00:00:00.000Z',
            userAgent: null,
            ip: null,
          })),
        );
      case 'DELETE users/:id/sessions':
        this.revokeSessionsOf(user);
        this.record('logout_all', user.id, actor);
        return new Response(null, { status: 204 });
      default:
        return notFound('Route');
    }
  }

  private item(user: FakeUser): AdminUser {
    const { id, username, roles, createdAt, disabledAt } = user;
    return { id, username, roles, createdAt, disabledAt, activeSessions: this.sessionsOf(user).length };
  }

  private sessionsOf(user: FakeUser): FakeSession[] {
    return [...this.sessions.values()].filter((session) => session.userId === user.id);
  }

  private revokeSessionsOf(user: FakeUser): void {
    for (const session of this.sessionsOf(user)) this.sessions.delete(session.id);
  }

  private record(type: string, userId: string, actor: FakeUser, detail: Record<string, unknown> = {}): void {
    this.audit.push({
      id: `event-${this.audit.length + 1}`,
      type,
      createdAt: now(),
      userId,
      sessionId: null,
      ip: null,
      userAgent: null,
      detail: { ...detail, actorId: actor.id },
    });
  }

  private issueTokens(sessionId: string): Response {
    const n = ++this.seq;
    this.liveAccessTokens.set(`access-${n}`, sessionId);
    this.refreshTokens.set(`refresh-${n}`, { state: 'live', sessionId });
    this.jar = `refresh-${n}`;
    return json(200, { access_token: `access-${n}`, token_type: 'Bearer', expires_in: this.expiresIn });
  }
}

const now = () => new Date().toISOString();

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

/** navigator.locks in memory: exclusive locks granted in request order. */
function createLocks() {
  const tails = new Map<string, Promise<unknown>>();
  const stats = { requests: 0, held: 0, maxHeld: 0 };
  const locks: LockManagerLike = {
    request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T> {
      stats.requests++;
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(async () => {
        stats.held++;
        stats.maxHeld = Math.max(stats.maxHeld, stats.held);
        try {
          return await callback({ name, mode: 'exclusive' });
        } finally {
          stats.held--;
        }
      });
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
  return { locks, stats };
}

/**
 * BroadcastChannel in memory: asynchronous delivery to every other member with the same name, like
 * the real one. `hold()` queues every message until released, the way a message between tabs
 * (separate processes) can still be on its way while the receiving tab finishes a network call.
 */
function createChannelBus() {
  const members = new Set<MemoryChannel>();
  let queue: (() => void)[] | null = null;
  class MemoryChannel implements BroadcastChannelLike {
    onmessage: ((event: { data: unknown }) => void) | null = null;
    constructor(readonly name: string) {
      members.add(this);
    }
    /** Messages posted from now on wait until the returned function is called, then arrive in order. */
    static hold(): () => void {
      const held: (() => void)[] = (queue = []);
      return () => {
        queue = null;
        for (const deliver of held) queueMicrotask(deliver);
      };
    }
    postMessage(message: unknown): void {
      const data = structuredClone(message);
      for (const peer of members) {
        if (peer !== this && peer.name === this.name) {
          const deliver = () => peer.onmessage?.({ data });
          if (queue) queue.push(deliver);
          else queueMicrotask(deliver);
        }
      }
    }
    close(): void {
      members.delete(this);
    }
  }
  return MemoryChannel;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Lets anything that was going to happen (extra refreshes, late messages) happen. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('createAuthClient', () => {
  let server: FakeAuthServer;
  let clients: AuthClient[];

  /** One "tab". Cross-tab machinery is off unless a test passes it in. */
  function makeClient(overrides: Partial<AuthClientOptions> = {}): AuthClient {
    const client = createAuthClient({
      baseUrl: `${BASE}/`,
      fetch: server.fetch,
      locks: null,
      BroadcastChannel: null,
      ...overrides,
    });
    clients.push(client);
    return client;
  }

  function record(client: AuthClient): AuthState[] {
    const states: AuthState[] = [];
    client.onChange((state) => states.push(state));
    return states;
  }

  beforeEach(() => {
    server = new FakeAuthServer();
    clients = [];
  });

  afterEach(() => {
    for (const client of clients) client.close();
    jest.useRealTimers();
  });

  describe('login, register, logout', () => {
    it('keeps the access token in memory only, sends the cookie, and notifies listeners', async () => {
      const storage = { setItem: jest.fn(), getItem: jest.fn(), removeItem: jest.fn(), clear: jest.fn() };
      const g = globalThis as Record<string, unknown>;
      g.localStorage = storage;
      g.sessionStorage = storage;
      try {
        const client = makeClient();
        const states = record(client);
        const before = Date.now();

        const state = await client.login('alice', PASSWORD);

        expect(state).toEqual({ accessToken: 'access-1', expiresAt: expect.any(Number) });
        expect(state.expiresAt! - before).toBeGreaterThanOrEqual(60_000);
        expect(state.expiresAt! - Date.now()).toBeLessThanOrEqual(60_000);
        expect(states).toEqual([state]);
        expect(client.getAccessToken()).toBe('access-1');
        expect(server.callsTo('/auth/login')).toEqual([
          expect.objectContaining({
            method: 'POST',
            credentials: 'include',
            body: JSON.stringify({ username: 'alice', password: PASSWORD }),
          }),
        ]);

        const response = await client.fetch(ITEMS);
        expect(response.status).toBe(200);
        expect(server.callsTo('/api/items')).toEqual([
          expect.objectContaining({ authorization: 'Bearer access-1', credentials: 'include' }),
        ]);
        for (const fn of Object.values(storage)) expect(fn).not.toHaveBeenCalled();
      } finally {
        delete g.localStorage;
        delete g.sessionStorage;
      }
    });

    it('rejects a wrong password with AuthError and changes nothing', async () => {
      const client = makeClient();
      const states = record(client);

      const failure = client.login('alice', 'wrong');

      await expect(failure).rejects.toBeInstanceOf(AuthError);
      await expect(failure).rejects.toMatchObject({
        status: 401,
        message: 'Login failed: Invalid username or password',
      });
      expect(client.getAccessToken()).toBeNull();
      expect(states).toEqual([]);
    });

    it('registers without logging in, and reports a taken name', async () => {
      const client = makeClient();

      await expect(client.register('bob', PASSWORD)).resolves.toEqual({
        id: 'user-bob',
        username: 'bob',
        createdAt: expect.any(String),
      });
      expect(client.getAccessToken()).toBeNull();
      expect(server.jar).toBeNull();
      await expect(client.register('bob', PASSWORD)).rejects.toMatchObject({ name: 'AuthError', status: 409 });
    });

    it('logout forgets the token, revokes the session on the server, and stops sending it', async () => {
      const onSessionExpired = jest.fn();
      const client = makeClient({ onSessionExpired });
      await client.login('alice', PASSWORD);
      const states = record(client);

      await client.logout();

      expect(states).toEqual([{ accessToken: null, expiresAt: null }]);
      expect(client.getAccessToken()).toBeNull();
      expect(server.callsTo('/auth/logout')).toEqual([
        expect.objectContaining({ method: 'POST', credentials: 'include', cookie: 'refresh-1' }),
      ]);

      const response = await client.fetch(ITEMS);
      expect(response.status).toBe(401);
      expect(server.callsTo('/api/items')).toEqual([expect.objectContaining({ authorization: null })]);
      expect(server.count('/auth/refresh')).toBe(0);
      expect(onSessionExpired).not.toHaveBeenCalled();
    });

    it('stops notifying a listener once it unsubscribes', async () => {
      const client = makeClient();
      const listener = jest.fn();
      const unsubscribe = client.onChange(listener);
      await client.login('alice', PASSWORD);
      unsubscribe();

      await client.logout();

      expect(listener).toHaveBeenCalledTimes(1);
    });
  });

  describe('fetch', () => {
    it('refreshes once and retries when the access token is refused, re-sending the body', async () => {
      const events: AuthEvent[] = [];
      const client = makeClient({ onEvent: (event) => events.push(event) });
      await client.login('alice', PASSWORD);
      const states = record(client);
      server.expireAccessTokens();

      const response = await client.fetch(ITEMS, {
        method: 'POST',
        body: '{"n":1}',
        headers: { 'Content-Type': 'application/json' },
      });

      expect(response.status).toBe(200);
      await expect(response.json()).resolves.toEqual({ path: '/api/items', token: 'access-2', body: '{"n":1}' });
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({ authorization: 'Bearer access-1', status: 401, body: '{"n":1}' }),
        expect.objectContaining({ authorization: 'Bearer access-2', status: 200, body: '{"n":1}' }),
      ]);
      expect(server.callsTo('/auth/refresh')).toEqual([
        expect.objectContaining({ credentials: 'include', cookie: 'refresh-1', status: 200 }),
      ]);
      expect(client.getAccessToken()).toBe('access-2');
      expect(states).toEqual([{ accessToken: 'access-2', expiresAt: expect.any(Number) }]);
      expect(events.map((event) => event.type)).toEqual([
        'request',
        'response',
        'refresh-start',
        'refresh-success',
        'retry',
        'request',
        'response',
      ]);
    });

    it('clones a Request object before the first send so the retry still has its body', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);
      server.expireAccessTokens();

      const response = await client.fetch(new Request(ITEMS, { method: 'PUT', body: 'payload' }));

      expect(response.status).toBe(200);
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({ method: 'PUT', authorization: 'Bearer access-1', body: 'payload', status: 401 }),
        expect.objectContaining({ method: 'PUT', authorization: 'Bearer access-2', body: 'payload', status: 200 }),
      ]);
    });

    it('returns a second 401 to the caller instead of refreshing again', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);
      server.refuseAllAccessTokens = true;

      const response = await client.fetch(ITEMS);

      expect(response.status).toBe(401);
      expect(response.headers.get('WWW-Authenticate')).toContain('error="invalid_token"');
      expect(server.count('/auth/refresh')).toBe(1);
      expect(server.count('/api/items')).toBe(2);
    });

    it('sends the token only to its own origin: elsewhere the request goes out bare and a 401 refreshes nothing', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const response = await client.fetch('http://evil.test/api/items', { headers: { 'X-Trace': '1' } });

      expect(response.status).toBe(401);
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({
          origin: 'http://evil.test',
          authorization: null,
          credentials: 'same-origin',
          status: 401,
        }),
      ]);
      expect(server.count('/auth/refresh')).toBe(0);
      expect(client.getAccessToken()).toBe('access-1');
      expect(client.mayCarryToken(`${BASE}/api/items`)).toBe(true);
      expect(client.mayCarryToken(new URL('/x', BASE))).toBe(true);
      for (const elsewhere of [
        'http://auth.test.evil.test/',
        'http://auth.test:8080/',
        'https://auth.test/',
        '//evil.test/x',
        'data:text/plain,hi',
      ]) {
        expect({ elsewhere, allowed: client.mayCarryToken(elsewhere) }).toEqual({ elsewhere, allowed: false });
      }
    });

    it('sends a Request with a body to another origin as it is, untouched', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const response = await client.fetch(
        new Request('http://evil.test/api/items', { method: 'POST', body: 'payload' }),
        { headers: { 'X-Trace': '1' } },
      );

      expect(response.status).toBe(401);
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({ origin: 'http://evil.test', authorization: null, body: 'payload' }),
      ]);
    });

    it('sends the token to the origins listed in tokenOrigins, and refreshes for them', async () => {
      const client = makeClient({ tokenOrigins: [BASE, 'https://api.test/ignored/path'] });
      await client.login('alice', PASSWORD);
      server.expireAccessTokens();

      const response = await client.fetch('https://api.test/api/items');

      expect(response.status).toBe(200);
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({ origin: 'https://api.test', authorization: 'Bearer access-1', status: 401 }),
        expect.objectContaining({ origin: 'https://api.test', authorization: 'Bearer access-2', status: 200 }),
      ]);
      expect(client.mayCarryToken('https://api.test.evil.test/')).toBe(false);
    });

    it('resolves a relative URL against the document base, as fetch does, so a <base href> elsewhere gets no token', async () => {
      const g = globalThis as Record<string, unknown>;
      const saved = (['document', 'location'] as const).map(
        (key) => [key, Object.getOwnPropertyDescriptor(g, key)] as const,
      );
      g.document = { baseURI: 'https://cdn.other.test/' };
      g.location = { href: `${BASE}/page` };
      try {
        // What a browser's fetch does with a relative URL on a page with <base href="https://cdn.other.test/">.
        const browserFetch = (input: RequestInfo | URL, init?: RequestInit) =>
          server.fetch(typeof input === 'string' ? new URL(input, 'https://cdn.other.test/') : input, init);
        const client = makeClient({ fetch: browserFetch });
        await client.login('alice', PASSWORD);

        expect(client.mayCarryToken('/api/items')).toBe(false);
        expect(client.mayCarryToken('api/items')).toBe(false);
        expect(client.mayCarryToken(ITEMS)).toBe(true);

        const relative = await client.fetch('/api/items');
        const absolute = await client.fetch(ITEMS);

        expect(relative.status).toBe(401);
        expect(absolute.status).toBe(200);
        expect(server.callsTo('/api/items')).toEqual([
          expect.objectContaining({
            origin: 'https://cdn.other.test',
            authorization: null,
            credentials: 'same-origin',
            status: 401,
          }),
          expect.objectContaining({
            origin: BASE,
            authorization: 'Bearer access-1',
            credentials: 'include',
            status: 200,
          }),
        ]);
        expect(server.count('/auth/refresh')).toBe(0);

        // A relative baseUrl resolves the same way, so the allow-list names where requests really go.
        const relativeBase = makeClient({ baseUrl: '/' });
        expect(relativeBase.mayCarryToken('/api/items')).toBe(true);
        expect(relativeBase.mayCarryToken(ITEMS)).toBe(false);
      } finally {
        for (const [key, descriptor] of saved) {
          if (descriptor) Object.defineProperty(g, key, descriptor);
          else delete g[key];
        }
      }
    });

    it('leaves a 401 alone when it does not blame the access token', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const response = await client.fetch(`${BASE}/api/no-challenge`);

      expect(response.status).toBe(401);
      expect(server.count('/api/no-challenge')).toBe(1);
      expect(server.count('/auth/refresh')).toBe(0);
    });

    it('does not replay a ReadableStream body, but refreshes so the caller can send it again', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);
      server.expireAccessTokens();
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('streamed'));
          controller.close();
        },
      });

      const response = await client.fetch(ITEMS, { method: 'POST', body, duplex: 'half' } as RequestInit);

      expect(response.status).toBe(401);
      expect(server.callsTo('/api/items')).toEqual([expect.objectContaining({ body: 'streamed', status: 401 })]);
      expect(client.getAccessToken()).toBe('access-2');
    });

    it('shares one refresh among five concurrent requests that find the token expired', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);
      server.expireAccessTokens();
      const release = server.hold('/auth/refresh');

      const pending = Array.from({ length: 5 }, (_, i) => client.fetch(`${ITEMS}?i=${i}`));
      await until(() => server.count('/api/items', 401) === 5 && server.count('/auth/refresh') >= 1, 'five 401s');
      await settle();
      release();
      const responses = await Promise.all(pending);

      expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
      expect(server.count('/auth/refresh')).toBe(1);
      expect(server.reuseDetected).toBe(0);
      expect(server.count('/api/items', 200)).toBe(5);
      expect(
        server.calls
          .filter((call) => call.status === 200 && call.path === '/api/items')
          .map((call) => call.authorization),
      ).toEqual(Array(5).fill('Bearer access-2'));
    });

    it('restores the session from the cookie after a page reload (no token in memory yet)', async () => {
      await makeClient().login('alice', PASSWORD);
      const reloaded = makeClient();
      const states = record(reloaded);

      const response = await reloaded.fetch(ITEMS);

      expect(response.status).toBe(200);
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({ authorization: null, status: 401 }),
        expect.objectContaining({ authorization: 'Bearer access-2', status: 200 }),
      ]);
      expect(states).toEqual([{ accessToken: 'access-2', expiresAt: expect.any(Number) }]);
    });

    it('on a page without a session asks the server once, then stops asking, and reports no expiry', async () => {
      const onSessionExpired = jest.fn();
      const client = makeClient({ onSessionExpired });

      const first = await client.fetch(ITEMS);
      const second = await client.fetch(ITEMS);

      expect([first.status, second.status]).toEqual([401, 401]);
      expect(server.count('/auth/refresh')).toBe(1);
      expect(server.count('/api/items')).toBe(2);
      expect(onSessionExpired).not.toHaveBeenCalled();
    });

    it('refreshes before sending when its own clock says the token has expired', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const client = makeClient();
      await client.login('alice', PASSWORD);
      jest.setSystemTime(Date.now() + 61_000);

      const response = await client.fetch(ITEMS);

      expect(response.status).toBe(200);
      expect(server.count('/auth/refresh')).toBe(1);
      expect(server.callsTo('/api/items')).toEqual([
        expect.objectContaining({ authorization: 'Bearer access-2', status: 200 }),
      ]);
    });
  });

  describe('session expiry and network errors', () => {
    it('calls onSessionExpired exactly once when the refresh token is refused, however many requests wait', async () => {
      const onSessionExpired = jest.fn();
      const client = makeClient({ onSessionExpired });
      await client.login('alice', PASSWORD);
      const states = record(client);
      server.revokeSessions();
      server.expireAccessTokens();
      const releaseRefresh = server.hold('/auth/refresh');
      const releaseSlow = server.hold('/api/slow');

      const pending = Array.from({ length: 5 }, () => client.fetch(ITEMS));
      const slow = client.fetch(`${BASE}/api/slow`);
      await until(() => server.count('/api/items', 401) === 5 && server.count('/auth/refresh') >= 1, 'five 401s');
      await settle();
      releaseRefresh();
      const responses = await Promise.all(pending);
      releaseSlow(); // its 401 for the old token arrives after the session has ended
      const late = await slow;
      const afterwards = await client.fetch(ITEMS);

      expect(responses.map((response) => response.status)).toEqual([401, 401, 401, 401, 401]);
      expect(late.status).toBe(401);
      expect(afterwards.status).toBe(401);
      expect(server.callsTo('/api/items').at(-1)).toMatchObject({ authorization: null });
      expect(server.count('/auth/refresh')).toBe(1);
      expect(onSessionExpired).toHaveBeenCalledTimes(1);
      expect(states).toEqual([{ accessToken: null, expiresAt: null }]);
      expect(client.getAccessToken()).toBeNull();
    });

    it('drops a refresh answer that arrives after logout', async () => {
      const client = makeClient();
      await client.login('alice', PASSWORD);
      const states = record(client);
      server.expireAccessTokens();
      const releaseRefresh = server.hold('/auth/refresh');
      const releaseLogout = server.hold('/auth/logout');

      const pending = client.fetch(ITEMS);
      await until(() => server.count('/auth/refresh') === 1, 'the refresh to start');
      const loggingOut = client.logout();
      await until(() => server.count('/auth/logout') === 1, 'the logout to start');
      releaseRefresh(); // the server rotates before it sees the logout
      const response = await pending;
      releaseLogout();
      await loggingOut;

      expect(response.status).toBe(401);
      expect(server.callsTo('/auth/refresh')).toEqual([expect.objectContaining({ status: 200 })]);
      expect(client.getAccessToken()).toBeNull();
      expect(states).toEqual([{ accessToken: null, expiresAt: null }]);
    });

    it('resolves refresh() to a signed-out state when the session is gone', async () => {
      const onSessionExpired = jest.fn();
      const client = makeClient({ onSessionExpired });
      await client.login('alice', PASSWORD);
      server.revokeSessions();

      await expect(client.refresh()).resolves.toEqual({ accessToken: null, expiresAt: null });
      expect(onSessionExpired).toHaveBeenCalledTimes(1);
    });

    it('treats a network error during refresh as a failed call, not a logout', async () => {
      const onSessionExpired = jest.fn();
      const client = makeClient({ onSessionExpired });
      await client.login('alice', PASSWORD);
      const states = record(client);
      server.expireAccessTokens();
      server.refreshOffline = true;

      const failures = await Promise.allSettled([client.fetch(ITEMS), client.fetch(ITEMS)]);

      expect(failures).toEqual([
        { status: 'rejected', reason: expect.any(TypeError) },
        { status: 'rejected', reason: expect.any(TypeError) },
      ]);
      expect(server.count('/auth/refresh')).toBe(1);
      expect(client.getAccessToken()).toBe('access-1');
      expect(states).toEqual([]);
      expect(onSessionExpired).not.toHaveBeenCalled();

      server.refreshOffline = false;
      const response = await client.fetch(ITEMS);

      expect(response.status).toBe(200);
      expect(server.count('/auth/refresh')).toBe(2);
      expect(client.getAccessToken()).toBe('access-2');
    });
  });

  describe('proactive refresh', () => {
    beforeEach(() => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    });

    it('refreshes shortly before the access token expires, and again for the next one', async () => {
      const client = makeClient({ proactiveRefreshSeconds: 10 });
      await client.login('alice', PASSWORD);
      const states = record(client);

      await jest.advanceTimersByTimeAsync(49_900);
      expect(server.count('/auth/refresh')).toBe(0);

      await jest.advanceTimersByTimeAsync(100);
      expect(server.count('/auth/refresh')).toBe(1);
      expect(client.getAccessToken()).toBe('access-2');
      expect(states).toEqual([{ accessToken: 'access-2', expiresAt: Date.now() + 60_000 }]);

      await jest.advanceTimersByTimeAsync(50_000);
      expect(server.count('/auth/refresh')).toBe(2);
    });

    it('never leads by more than half the lifetime, so short tokens do not loop', async () => {
      server.expiresIn = 10;
      const client = makeClient({ proactiveRefreshSeconds: 30 });
      await client.login('alice', PASSWORD);

      await jest.advanceTimersByTimeAsync(4_900);
      expect(server.count('/auth/refresh')).toBe(0);
      await jest.advanceTimersByTimeAsync(100);
      expect(server.count('/auth/refresh')).toBe(1);
    });

    it('is cancelled by logout', async () => {
      const client = makeClient({ proactiveRefreshSeconds: 10 });
      await client.login('alice', PASSWORD);

      expect(jest.getTimerCount()).toBe(1);

      await client.logout();
      expect(jest.getTimerCount()).toBe(0);
      await jest.advanceTimersByTimeAsync(120_000);

      expect(server.count('/auth/refresh')).toBe(0);
    });
  });

  describe('across tabs', () => {
    it('spends the refresh cookie once when two tabs hit 401 together, and both succeed', async () => {
      const { locks, stats } = createLocks();
      const Channel = createChannelBus();
      const tabA = makeClient({ locks, BroadcastChannel: Channel });
      const tabB = makeClient({ locks, BroadcastChannel: Channel });
      await tabA.login('alice', PASSWORD);
      await until(() => tabB.getAccessToken() === 'access-1', 'tab B to hear of the login');
      server.expireAccessTokens();
      const release = server.hold('/auth/refresh');

      const pending = [tabA.fetch(ITEMS), tabB.fetch(ITEMS)];
      await until(
        () => server.count('/api/items', 401) === 2 && server.count('/auth/refresh') >= 1,
        'both tabs to get 401',
      );
      await settle();
      release();
      const responses = await Promise.all(pending);

      expect(responses.map((response) => response.status)).toEqual([200, 200]);
      expect(server.count('/auth/refresh')).toBe(1);
      expect(server.reuseDetected).toBe(0);
      expect(stats.maxHeld).toBe(1);
      expect([tabA.getAccessToken(), tabB.getAccessToken()]).toEqual(['access-2', 'access-2']);
    });

    it('stays safe with the platform BroadcastChannel, whose message may arrive after the lock is free', async () => {
      const { locks } = createLocks();
      const channelName = `auth-client-spec-${Math.random()}`;
      const Channel = globalThis.BroadcastChannel as unknown as new (name: string) => BroadcastChannelLike;
      const tabA = makeClient({ locks, BroadcastChannel: Channel, channelName });
      const tabB = makeClient({ locks, BroadcastChannel: Channel, channelName });
      await tabA.login('alice', PASSWORD);
      await until(() => tabB.getAccessToken() === 'access-1', 'tab B to hear of the login');
      server.expireAccessTokens();

      const responses = await Promise.all([tabA.fetch(ITEMS), tabB.fetch(ITEMS)]);

      expect(responses.map((response) => response.status)).toEqual([200, 200]);
      expect(server.reuseDetected).toBe(0);
      expect(server.count('/auth/refresh', 401)).toBe(0);
      expect(server.count('/auth/refresh')).toBeLessThanOrEqual(2);
    });

    it('signs the other tab out on logout', async () => {
      const Channel = createChannelBus();
      const onSessionExpired = jest.fn();
      const tabA = makeClient({ BroadcastChannel: Channel });
      const tabB = makeClient({ BroadcastChannel: Channel, onSessionExpired });
      await tabA.login('alice', PASSWORD);
      await until(() => tabB.getAccessToken() === 'access-1', 'tab B to hear of the login');
      const statesB = record(tabB);

      await tabA.logout();
      await until(() => tabB.getAccessToken() === null, 'tab B to hear of the logout');

      expect(statesB).toEqual([{ accessToken: null, expiresAt: null }]);
      expect(onSessionExpired).not.toHaveBeenCalled();
    });

    it('ignores a token from another tab while its own logout is pending, so the logout sticks', async () => {
      const { locks } = createLocks();
      const Channel = createChannelBus();
      const onSessionExpired = jest.fn();
      const tabA = makeClient({ locks, BroadcastChannel: Channel, onSessionExpired });
      const tabB = makeClient({ locks, BroadcastChannel: Channel });
      await tabA.login('alice', PASSWORD);
      await until(() => tabB.getAccessToken() === 'access-1', 'tab B to hear of the login');
      server.expireAccessTokens();
      const releaseRefresh = server.hold('/auth/refresh');
      const releaseLogout = server.hold('/auth/logout');

      // Tab B refreshes while holding the lock.
      const pendingB = tabB.fetch(ITEMS);
      await until(() => server.count('/auth/refresh') === 1, "tab B's refresh to start");
      const statesA = record(tabA);
      // Tab A logs out; its logout message is still on the way when B's refresh answer arrives.
      const releaseChannel = Channel.hold();
      const loggingOut = tabA.logout();
      releaseRefresh();
      expect((await pendingB).status).toBe(200);
      await until(() => server.count('/auth/logout') === 1, "tab A's logout to reach the server");
      releaseChannel(); // B hears of the logout, A hears of B's token
      await settle();
      releaseLogout();
      await loggingOut;
      await settle();

      expect(statesA).toEqual([{ accessToken: null, expiresAt: null }]);
      expect(tabA.getAccessToken()).toBeNull();
      expect(tabB.getAccessToken()).toBeNull();
      // The server forgets refresh tokens on logout, and here the access tokens too.
      server.expireAccessTokens();
      expect((await tabA.fetch(ITEMS)).status).toBe(401);
      expect(onSessionExpired).not.toHaveBeenCalled();
      expect(tabA.getAccessToken()).toBeNull();
      expect(server.reuseDetected).toBe(0);

      // A genuine login in another tab after the logout is adopted as usual.
      await tabB.login('alice', PASSWORD);
      await until(() => tabA.getAccessToken() === tabB.getAccessToken(), 'tab A to hear of the new login');
      expect(statesA.at(-1)).toEqual({ accessToken: tabB.getAccessToken(), expiresAt: expect.any(Number) });
    });

    it('ends the session in every tab when one finds it expired, each tab reporting it once', async () => {
      const { locks } = createLocks();
      const Channel = createChannelBus();
      const expiredA = jest.fn();
      const expiredB = jest.fn();
      const tabA = makeClient({ locks, BroadcastChannel: Channel, onSessionExpired: expiredA });
      const tabB = makeClient({ locks, BroadcastChannel: Channel, onSessionExpired: expiredB });
      await tabA.login('alice', PASSWORD);
      await until(() => tabB.getAccessToken() === 'access-1', 'tab B to hear of the login');
      server.revokeSessions();
      server.expireAccessTokens();

      expect((await tabA.fetch(ITEMS)).status).toBe(401);
      await until(() => tabB.getAccessToken() === null, 'tab B to hear of the expiry');
      expect((await tabB.fetch(ITEMS)).status).toBe(401);

      expect(server.count('/auth/refresh')).toBe(1);
      expect(expiredA).toHaveBeenCalledTimes(1);
      expect(expiredB).toHaveBeenCalledTimes(1);
    });
  });

  describe('me and the admin API', () => {
    /** alice is an admin; bob and carol are not. */
    function seedUsers(): void {
      server.users.get('alice')!.roles = ['admin'];
      for (const name of ['bob', 'carol']) server.users.set(name, fakeUser(name, PASSWORD));
    }

    it('me() returns the signed-in user with their roles', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('alice', PASSWORD);

      await expect(client.me()).resolves.toEqual({ id: 'user-alice', username: 'alice', roles: ['admin'] });
      expect(server.callsTo('/auth/me')).toEqual([
        expect.objectContaining({ method: 'GET', authorization: 'Bearer access-1' }),
      ]);
    });

    it('me() rejects with AuthError when there is no session', async () => {
      const client = makeClient();
      await client.refresh();

      await expect(client.me()).rejects.toMatchObject({ name: 'AuthError', status: 401 });
    });

    it('lists users with only the query fields given, and pages with next', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const first = await client.admin.listUsers({ limit: 2, q: '', cursor: undefined });
      expect(first).toEqual({
        items: [
          {
            id: 'user-alice',
            username: 'alice',
            roles: ['admin'],
            createdAt: expect.any(String),
            disabledAt: null,
            activeSessions: 1,
          },
          expect.objectContaining({ username: 'bob', roles: [], activeSessions: 0 }),
        ],
        next: 'bob',
      });
      const second = await client.admin.listUsers({ limit: 2, cursor: first.next! });
      expect(second).toEqual({ items: [expect.objectContaining({ username: 'carol' })], next: null });
      await expect(client.admin.listUsers({ q: 'CA' })).resolves.toMatchObject({ items: [{ username: 'carol' }] });
      await client.admin.listUsers();

      expect(server.callsTo('/admin/users').map((call) => call.search)).toEqual([
        '?limit=2',
        '?limit=2&cursor=bob',
        '?q=CA',
        '',
      ]);
    });

    it('disables a user: PATCH with a JSON body, the item back, their sessions gone and login refused', async () => {
      seedUsers();
      const bob = makeClient();
      await bob.login('bob', PASSWORD);
      const bobsToken = bob.getAccessToken()!;
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const updated = await client.admin.updateUser('user-bob', { disabled: true });

      expect(updated).toMatchObject({ username: 'bob', disabledAt: expect.any(String), activeSessions: 0 });
      expect(server.callsTo('/admin/users/user-bob')).toEqual([
        expect.objectContaining({ method: 'PATCH', body: '{"disabled":true}', authorization: 'Bearer access-2' }),
      ]);
      const stale = await server.fetch(ITEMS, { headers: { Authorization: `Bearer ${bobsToken}` } });
      expect(stale.status).toBe(401);
      await expect(makeClient().login('bob', PASSWORD)).rejects.toMatchObject({
        status: 403,
        message: 'Login failed: This account is disabled',
      });
      await expect(client.admin.getUser('user-bob')).resolves.toMatchObject({ disabledAt: expect.any(String) });
      await expect(client.admin.updateUser('user-bob', { disabled: false })).resolves.toMatchObject({
        disabledAt: null,
      });
      await expect(client.admin.updateUser('user-bob', { roles: ['admin', 'support'] })).resolves.toMatchObject({
        roles: ['admin', 'support'],
      });
    });

    it('maps the 409 for disabling or demoting oneself, and a 400, to AuthError with the server message', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const disableSelf = client.admin.updateUser('user-alice', { disabled: true });
      await expect(disableSelf).rejects.toBeInstanceOf(AuthError);
      await expect(disableSelf).rejects.toMatchObject({
        status: 409,
        message: 'Updating the user failed: An admin cannot disable themself or remove their own admin role',
        body: expect.objectContaining({ error: 'Conflict' }),
      });
      await expect(client.admin.updateUser('user-alice', { roles: [] })).rejects.toMatchObject({ status: 409 });
      await expect(client.admin.updateUser('user-bob', { roles: ['Not A Role'] })).rejects.toMatchObject({
        status: 400,
        message: 'Updating the user failed: each role must match ^[a-z][a-z0-9_-]{0,31}$',
      });
      await expect(client.admin.getUser('user-nobody')).rejects.toMatchObject({
        status: 404,
        message: 'Reading the user failed: User not found',
      });
      expect(server.users.get('alice')).toMatchObject({ roles: ['admin'], disabledAt: null });
    });

    it('rejects with 403 for a user without the admin role, without refreshing', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('bob', PASSWORD);

      await expect(client.admin.listUsers()).rejects.toMatchObject({ name: 'AuthError', status: 403 });
      expect(server.count('/auth/refresh')).toBe(0);
      expect(client.getAccessToken()).toBe('access-1');
    });

    it('refreshes once and retries when the access token is refused, like any call', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('alice', PASSWORD);
      server.expireAccessTokens();

      await expect(client.admin.updateUser('user-bob', { disabled: true })).resolves.toMatchObject({
        username: 'bob',
      });

      expect(server.callsTo('/admin/users/user-bob')).toEqual([
        expect.objectContaining({ authorization: 'Bearer access-1', status: 401, body: '{"disabled":true}' }),
        expect.objectContaining({ authorization: 'Bearer access-2', status: 200, body: '{"disabled":true}' }),
      ]);
      expect(server.count('/auth/refresh')).toBe(1);
    });

    it("lists and revokes a user's sessions, one or all, resolving to undefined on 204", async () => {
      seedUsers();
      for (let i = 0; i < 2; i++) await makeClient().login('bob', PASSWORD);
      const client = makeClient();
      await client.login('alice', PASSWORD);

      const sessions = await client.admin.userSessions('user-bob');
      expect(sessions).toEqual([
        expect.objectContaining({ id: expect.any(String), createdAt: expect.any(String), ip: null }),
        expect.objectContaining({ id: expect.any(String) }),
      ]);
      await expect(client.admin.revokeSession(sessions[0].id)).resolves.toBeUndefined();
      await expect(client.admin.revokeSession(sessions[0].id)).rejects.toMatchObject({
        status: 404,
        message: 'Revoking the session failed: Session not found',
      });
      await expect(client.admin.getUser('user-bob')).resolves.toMatchObject({ activeSessions: 1 });
      await expect(client.admin.revokeUserSessions('user-bob')).resolves.toBeUndefined();
      await expect(client.admin.userSessions('user-bob')).resolves.toEqual([]);
      expect(server.callsTo('/admin/users/user-bob/sessions').map((call) => [call.method, call.status])).toEqual([
        ['GET', 200],
        ['DELETE', 204],
        ['GET', 200],
      ]);
    });

    it('reads the audit log with filters in the query string', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('alice', PASSWORD);
      await client.admin.updateUser('user-bob', { disabled: true });
      await client.admin.updateUser('user-carol', { disabled: true });

      const page = await client.admin.audit({ userId: 'user-bob', type: 'user_disabled', limit: 10 });

      expect(page).toEqual({
        items: [
          expect.objectContaining({ type: 'user_disabled', userId: 'user-bob', detail: { actorId: 'user-alice' } }),
        ],
        next: null,
      });
      expect(server.callsTo('/admin/audit')[0].search).toBe('?userId=user-bob&type=user_disabled&limit=10');
    });

    it('puts an id in one path segment, and refuses ids that URL parsing would resolve away', async () => {
      seedUsers();
      const client = makeClient();
      await client.login('alice', PASSWORD);

      await expect(client.admin.getUser('a/../../auth/logout?x#y')).rejects.toMatchObject({ status: 404 });
      expect(server.calls.at(-1)).toMatchObject({ path: '/admin/users/a%2F..%2F..%2Fauth%2Flogout%3Fx%23y' });
      for (const id of ['', '.', '..', '%2e', '.%2E']) {
        await expect(client.admin.revokeUserSessions(id)).rejects.toBeInstanceOf(TypeError);
      }
      expect(server.calls.filter((call) => call.method === 'DELETE')).toEqual([]);
      expect(server.count('/auth/logout')).toBe(0);
    });
  });
});

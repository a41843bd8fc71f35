import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  AuthError,
  createAuthClient,
  type AuthClient,
  type AuthClientOptions,
  type AuthEvent,
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
  authorization: string | null;
  credentials: RequestCredentials;
  cookie: string | null;
  body: string;
  status?: number;
}

/**
 * Stands in for the NestJS server and the browser's cookie jar, which every "tab" shares.
 * Refresh tokens rotate with reuse detection (no grace window), so two tabs spending the same
 * cookie at once is caught here the way the real server would revoke the session.
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

  private seq = 0;
  private readonly liveAccessTokens = new Set<string>();
  private readonly refreshTokens = new Map<string, 'live' | 'used'>();
  private readonly users = new Map([['alice', PASSWORD]]);
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
    const { origin, pathname: path } = new URL(request.url);
    // The browser attaches the Path=/auth cookie only to /auth/* and only with credentials: 'include'.
    const cookie = request.credentials === 'include' && path.startsWith('/auth/') ? this.jar : null;
    const call: Call = {
      method: request.method,
      origin,
      path,
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
        this.users.set(username, password);
        return json(201, { id: `user-${username}`, username, createdAt: '2026-01-01T00:00:00.000Z' });
      }
      case '/auth/login': {
        const { username, password } = JSON.parse(call.body) as { username: string; password: string };
        if (this.users.get(username) !== password) {
          return json(401, { statusCode: 401, error: 'Unauthorized', message: 'Invalid username or password' });
        }
        return this.issueTokens();
      }
      case '/auth/refresh': {
        const state = call.cookie === null ? undefined : this.refreshTokens.get(call.cookie);
        if (state === 'live') {
          this.refreshTokens.set(call.cookie!, 'used');
          return this.issueTokens();
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
    if (this.refuseAllAccessTokens || !this.liveAccessTokens.has(token)) {
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
    return json(200, { path: call.path, token, body: call.body });
  }

  private issueTokens(): Response {
    const n = ++this.seq;
    this.liveAccessTokens.add(`access-${n}`);
    this.refreshTokens.set(`refresh-${n}`, 'live');
    this.jar = `refresh-${n}`;
    return json(200, { access_token: `access-${n}`, token_type: 'Bearer', expires_in: this.expiresIn });
  }
}

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
});

/**
 * Browser client for nest-token-auth.
 *
 * The access token lives only in this module's memory; the refresh token lives only in the
 * HttpOnly `refresh_token` cookie (Path=/auth), which the browser attaches because every request
 * is sent with `credentials: 'include'`. Page scripts never see it, and nothing is written to
 * localStorage or sessionStorage.
 *
 * Tabs of the same origin share that cookie, and the server treats a second use of a rotated
 * refresh token as theft. So refreshes are serialised: within a tab by one shared promise, across
 * tabs by a Web Lock, and a tab that waited for the lock first looks for a token another tab
 * announced on a BroadcastChannel before spending the cookie itself.
 */

/** What listeners see: the current access token and when it expires (epoch ms), or nulls when signed out. */
export interface AuthState {
  accessToken: string | null;
  expiresAt: number | null;
}

export type AuthEventType =
  | 'request'
  | 'response'
  | 'retry'
  | 'refresh-start'
  | 'refresh-success'
  | 'refresh-failure'
  | 'refresh-skipped'
  | 'token-from-tab'
  | 'logout-from-tab'
  | 'session-expired';

/** A log line for `onEvent`; meant for demo pages and debugging, not for control flow. */
export interface AuthEvent {
  type: AuthEventType;
  url?: string;
  method?: string;
  status?: number;
  error?: unknown;
}

/** Messages tabs exchange on the BroadcastChannel. */
export type AuthChannelMessage =
  { type: 'token'; accessToken: string; expiresAt: number } | { type: 'logout'; reason?: 'logout' | 'expired' };

/** The part of the Web Locks API we use; `navigator.locks` satisfies it. */
export interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

/** The part of BroadcastChannel we use. */
export interface BroadcastChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

export interface AuthClientOptions {
  /** Origin (and optional path prefix) of the auth service, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /**
   * Called once when a session this client knew of ends because the refresh token was refused
   * (here or in another tab). Not called on `logout()`, nor when a fresh page finds no session.
   */
  onSessionExpired?: () => void;
  /** Replaces the global fetch, e.g. with a fake server in tests. */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Refresh this many seconds before the access token expires (capped at half its lifetime). Off when unset or 0. */
  proactiveRefreshSeconds?: number;
  /** Web Lock that serialises refreshes across tabs. */
  lockName?: string;
  /** BroadcastChannel on which tabs share new tokens and logouts. */
  channelName?: string;
  /** Defaults to `navigator.locks`; `null` turns cross-tab locking off. */
  locks?: LockManagerLike | null;
  /** Defaults to the global `BroadcastChannel`; `null` turns cross-tab messages off. */
  BroadcastChannel?: (new (name: string) => BroadcastChannelLike) | null;
  /** Live log of what the client does. */
  onEvent?: (event: AuthEvent) => void;
  /**
   * Origins that `fetch()` may send the access token (and cookies) to, e.g. your API's. Default:
   * the origin of `baseUrl`. Relative entries and request URLs are resolved against the document
   * base URL (`document.baseURI`, so a `<base href>` counts), as `fetch` does. A request to any
   * other origin goes out untouched: no Authorization header, no refresh, no retry, so a URL
   * built from user input or a third-party link never carries the token away.
   */
  tokenOrigins?: string[];
}

export interface AuthClient {
  /** Logs in; the server sets the refresh cookie. Rejects with AuthError on a non-2xx answer. */
  login(username: string, password: string): Promise<AuthState>;
  /** Creates an account (does not log in) and resolves to the server's user body. */
  register(username: string, password: string): Promise<unknown>;
  /**
   * Forgets the token here and in other tabs, then revokes the session on the server. Until that
   * request settles, tokens announced by other tabs (a refresh that was already under way) are ignored.
   */
  logout(): Promise<void>;
  /**
   * `fetch` with `Authorization: Bearer` and `credentials: 'include'`. A 401 that says the token
   * is invalid (or any Bearer 401 while no token is held but a cookie session may exist) leads to
   * one refresh and one retry; a second 401 is returned as is. Bodies given in `init` are re-sent
   * on retry, and Request objects are cloned before the first send, but a ReadableStream body in
   * `init` cannot be replayed: such a request is not retried (the token is still refreshed, so
   * the caller can send it again).
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  getAccessToken(): string | null;
  /** Whether `fetch()` would attach the access token to this URL (see `tokenOrigins`). */
  mayCarryToken(url: string | URL): boolean;
  /** Called on login, refresh, logout, expiry and tokens from other tabs. Returns an unsubscribe function. */
  onChange(listener: (state: AuthState) => void): () => void;
  /** Trades the refresh cookie for a new access token; resolves to a signed-out state when the session is gone. */
  refresh(): Promise<AuthState>;
  /** Stops the timer and closes the channel. For tests and single-page-app teardown. */
  close(): void;
  /** `GET /auth/me`: who the access token belongs to, with the roles it carries. Rejects with AuthError. */
  me(): Promise<CurrentUser>;
  /**
   * The admin API (`/admin/*`, role `admin`), through `fetch()` above, so it refreshes and retries
   * like any call. Every method rejects with AuthError on a non-2xx answer: 403 without the role,
   * 404 for an unknown user or session, 409 when an admin would disable or demote themself.
   */
  readonly admin: AdminApi;
}

/** `GET /auth/me`. Roles are those in the access token, so a change shows after the next refresh. */
export interface CurrentUser {
  id: string;
  username: string;
  roles: string[];
}

/** A user as the admin API lists it. */
export interface AdminUser {
  id: string;
  username: string;
  roles: string[];
  createdAt: string;
  /** When the account was disabled; null while it is enabled. */
  disabledAt: string | null;
  activeSessions: number;
}

/** One page of a keyset-paginated list; pass `next` as `cursor` for the following page (null: last page). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** A user's session as `GET /admin/users/:id/sessions` lists it (`GET /auth/sessions` without `current`). */
export interface AdminSession {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
}

/** An entry of `GET /admin/audit`. */
export interface AuditEntry {
  id: string;
  type: string;
  createdAt: string;
  /** Null for failures against unknown usernames. */
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}

export interface ListUsersQuery {
  /** Username prefix, case-insensitive. */
  q?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditQuery {
  userId?: string;
  type?: string;
  limit?: number;
  cursor?: string;
}

/** What `PATCH /admin/users/:id` may change; leave a field out to keep it. `roles` replaces the whole list. */
export interface UserChanges {
  roles?: string[];
  disabled?: boolean;
}

export interface AdminApi {
  listUsers(query?: ListUsersQuery): Promise<Page<AdminUser>>;
  getUser(id: string): Promise<AdminUser>;
  updateUser(id: string, changes: UserChanges): Promise<AdminUser>;
  userSessions(id: string): Promise<AdminSession[]>;
  /** Revokes every session of the user (their access tokens stop working within a second). */
  revokeUserSessions(id: string): Promise<void>;
  revokeSession(sessionId: string): Promise<void>;
  audit(query?: AuditQuery): Promise<Page<AuditEntry>>;
}

/** A non-2xx answer from the auth service (other than an expired session on refresh). */
export class AuthError extends Error {
  override readonly name = 'AuthError';

  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

const DEFAULT_LOCK_NAME = 'nest-token-auth:refresh';
const DEFAULT_CHANNEL_NAME = 'nest-token-auth';
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `unknown`: fresh page, a cookie session may exist. `ended`: logged out or expired, don't ask the server again. */
type SessionStatus = 'unknown' | 'active' | 'ended';

interface PreparedRequest {
  url: string;
  method: string;
  retryable: boolean;
  build(token: string | null, last: boolean): [RequestInfo | URL, RequestInit | undefined];
}

export function createAuthClient(options: AuthClientOptions): AuthClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const locks = options.locks !== undefined ? options.locks : defaultLocks();
  const lockName = options.lockName ?? DEFAULT_LOCK_NAME;
  const proactiveMs = Math.max(0, (options.proactiveRefreshSeconds ?? 0) * 1000);

  let accessToken: string | null = null;
  let expiresAt: number | null = null;
  let status: SessionStatus = 'unknown';
  // Bumped whenever a session starts or ends here, so a refresh answer from before is dropped.
  let epoch = 0;
  let inflight: Promise<string | null> | null = null;
  // logout() calls whose POST has not settled yet; tokens other tabs announce meanwhile are ignored.
  let pendingLogouts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<(state: AuthState) => void>();

  const Channel = options.BroadcastChannel !== undefined ? options.BroadcastChannel : defaultBroadcastChannel();
  const channel = Channel ? new Channel(options.channelName ?? DEFAULT_CHANNEL_NAME) : null;
  if (channel) {
    channel.onmessage = (event) => receive(event.data);
    // Node's BroadcastChannel would otherwise keep a script (or test run) alive; browsers have no unref.
    (channel as { unref?: () => void }).unref?.();
  }

  const url = (path: string) => `${baseUrl}${path}`;
  const tokenOrigins = new Set(
    (options.tokenOrigins ?? [baseUrl])
      .map((origin) => originOf(origin))
      .filter((origin) => origin !== undefined && origin !== 'null'),
  );
  /** A URL no base can resolve (relative, in a page-less runtime) goes to the same place as baseUrl: allowed only then. */
  const mayCarryToken = (target: string | URL): boolean => {
    const origin = originOf(target);
    return origin === undefined ? tokenOrigins.size === 0 : tokenOrigins.has(origin);
  };
  const snapshot = (): AuthState => ({ accessToken, expiresAt });
  const isExpired = () => expiresAt !== null && Date.now() >= expiresAt;

  function emit(event: AuthEvent): void {
    try {
      options.onEvent?.(event);
    } catch {
      // A broken logger must not break authentication.
    }
  }

  function notify(): void {
    const state = snapshot();
    for (const listener of [...listeners]) {
      try {
        listener(state);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  function post(message: AuthChannelMessage): void {
    try {
      channel?.postMessage(message);
    } catch {
      // A closed channel only costs other tabs an extra refresh.
    }
  }

  function startSession(token: string, expiry: number, broadcast: boolean): void {
    accessToken = token;
    expiresAt = expiry;
    status = 'active';
    schedule();
    notify();
    if (broadcast) post({ type: 'token', accessToken: token, expiresAt: expiry });
  }

  function endSession(reason: 'logout' | 'expired', broadcast: boolean): void {
    const hadToken = accessToken !== null;
    accessToken = null;
    expiresAt = null;
    status = 'ended';
    epoch++;
    cancelTimer();
    if (hadToken) notify();
    if (broadcast) post({ type: 'logout', reason });
  }

  /** The refresh cookie was refused: the session is over for every tab. */
  function expire(): void {
    const hadSession = status === 'active';
    endSession('expired', hadSession);
    if (hadSession) {
      emit({ type: 'session-expired' });
      options.onSessionExpired?.();
    }
  }

  function receive(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const message = data as Partial<Record<string, unknown>>;
    if (message.type === 'token' && typeof message.accessToken === 'string' && typeof message.expiresAt === 'number') {
      // A refresh another tab finished while our logout waits for the lock or the server: that
      // session is about to be revoked, so adopting its token would only undo the logout here.
      if (pendingLogouts > 0) return;
      if (message.accessToken === accessToken) return;
      if (expiresAt !== null && message.expiresAt < expiresAt) return;
      startSession(message.accessToken, message.expiresAt, false);
      emit({ type: 'token-from-tab' });
    } else if (message.type === 'logout') {
      const wasActive = status === 'active';
      endSession(message.reason === 'expired' ? 'expired' : 'logout', false);
      emit({ type: 'logout-from-tab' });
      if (message.reason === 'expired' && wasActive) {
        emit({ type: 'session-expired' });
        options.onSessionExpired?.();
      }
    }
  }

  function schedule(): void {
    cancelTimer();
    if (proactiveMs <= 0 || expiresAt === null) return;
    const lifetime = expiresAt - Date.now();
    // Tokens from other tabs can be nearly spent; the reactive path covers those, and never
    // firing at once keeps a tiny expires_in from turning into a refresh loop.
    if (lifetime <= 0) return;
    const delay = Math.min(lifetime - Math.min(proactiveMs, lifetime / 2), MAX_TIMER_MS);
    const token = accessToken;
    timer = setTimeout(() => {
      timer = undefined;
      refreshAfter(token, false).catch(() => {
        // Already reported through onEvent; the next request refreshes reactively.
      });
    }, delay);
    (timer as unknown as { unref?: () => void }).unref?.();
  }

  function cancelTimer(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  }

  function withLock<T>(fn: () => Promise<T>): Promise<T> {
    return locks ? locks.request(lockName, () => fn()) : fn();
  }

  /**
   * A token to use instead of refreshing, `null` when there is known to be no session, or
   * `undefined` when the cookie must be spent. `stale` is the token that was refused.
   */
  function settled(stale: string | null, force: boolean): string | null | undefined {
    if (accessToken !== null && accessToken !== stale && !isExpired()) return accessToken;
    if (!force && accessToken === null && status === 'ended') return null;
    return undefined;
  }

  /** Single-flight: every caller that finds `stale` refused shares one refresh. */
  function refreshAfter(stale: string | null, force: boolean): Promise<string | null> {
    const known = settled(stale, force);
    if (known !== undefined) return Promise.resolve(known);
    if (!inflight) {
      inflight = withLock(() => spendRefreshCookie(stale, force)).finally(() => {
        inflight = null;
      });
    }
    return inflight;
  }

  async function spendRefreshCookie(stale: string | null, force: boolean): Promise<string | null> {
    // While we waited for the lock another tab may have refreshed (its token arrived on the
    // channel) or ended the session; spending the cookie again would only rotate it once more.
    const known = settled(stale, force);
    if (known !== undefined) {
      emit({ type: 'refresh-skipped' });
      return known;
    }
    const startedIn = epoch;
    const refreshUrl = url('/auth/refresh');
    emit({ type: 'refresh-start', url: refreshUrl, method: 'POST' });
    let response: Response;
    try {
      response = await send(refreshUrl, {
        method: 'POST',
        credentials: 'include',
        headers: { Accept: 'application/json' },
      });
    } catch (error) {
      emit({ type: 'refresh-failure', url: refreshUrl, method: 'POST', error });
      throw error;
    }
    if (response.status === 401) {
      emit({ type: 'refresh-failure', url: refreshUrl, method: 'POST', status: 401 });
      if (epoch === startedIn) expire();
      return accessToken;
    }
    let tokens: { accessToken: string; expiresAt: number };
    try {
      tokens = await readTokens(response, 'Refresh failed');
    } catch (error) {
      emit({ type: 'refresh-failure', url: refreshUrl, method: 'POST', status: response.status, error });
      throw error;
    }
    // A logout or login happened meanwhile (only possible without Web Locks): keep its state.
    if (epoch !== startedIn) return accessToken;
    startSession(tokens.accessToken, tokens.expiresAt, true);
    emit({ type: 'refresh-success', url: refreshUrl, method: 'POST', status: response.status });
    return tokens.accessToken;
  }

  async function attempt(request: PreparedRequest, token: string | null, last: boolean): Promise<Response> {
    emit({ type: 'request', url: request.url, method: request.method });
    const [input, init] = request.build(token, last);
    const response = await send(input, init);
    emit({ type: 'response', url: request.url, method: request.method, status: response.status });
    return response;
  }

  async function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // Before prepare(): building a Request from one with a body uses that body up.
    if (!mayCarryToken(urlOf(input))) return send(input, init);
    const request = prepare(input, init);
    let token = accessToken;
    // Known to be expired by our clock: skip the round trip that would only answer 401.
    if (token !== null && isExpired()) token = await refreshAfter(token, false);

    const response = await attempt(request, token, !request.retryable);
    if (!needsRefresh(response, token)) return response;

    const fresh = await refreshAfter(token, false);
    if (fresh === null || !request.retryable) return response;
    await response.body?.cancel().catch(() => undefined);
    emit({ type: 'retry', url: request.url, method: request.method });
    return attempt(request, fresh, true);
  }

  async function login(username: string, password: string): Promise<AuthState> {
    return withLock(async () => {
      const response = await send(url('/auth/login'), {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      const tokens = await readTokens(response, 'Login failed');
      epoch++;
      startSession(tokens.accessToken, tokens.expiresAt, true);
      return snapshot();
    });
  }

  async function register(username: string, password: string): Promise<unknown> {
    const response = await send(url('/auth/register'), {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await readBody(response);
    if (!response.ok) throw errorFrom(response, body, 'Registration failed');
    return body;
  }

  async function logout(): Promise<void> {
    pendingLogouts++;
    try {
      // Forget the token first so nothing else goes out with it while the server is asked.
      endSession('logout', true);
      await withLock(async () => {
        const response = await send(url('/auth/logout'), { method: 'POST', credentials: 'include' });
        if (!response.ok) throw errorFrom(response, await readBody(response), 'Logout failed');
      });
    } finally {
      pendingLogouts--;
    }
  }

  async function refresh(): Promise<AuthState> {
    await refreshAfter(accessToken, true);
    return snapshot();
  }

  /**
   * A JSON call to this service through authFetch (Bearer, refresh and retry); a non-2xx answer
   * becomes an AuthError as login's do, and 204 resolves to undefined.
   */
  async function callJson<T>(method: string, path: string, fallback: string, payload?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const response = await authFetch(url(path), {
      method,
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const body = await readBody(response);
    if (!response.ok) throw errorFrom(response, body, fallback);
    return (response.status === 204 ? undefined : body) as T;
  }

  // async, so a bad id rejects like every other failure instead of throwing.
  const admin: AdminApi = {
    listUsers: async (query = {}) => callJson('GET', `/admin/users${queryString(query)}`, 'Listing users failed'),
    getUser: async (id) => callJson('GET', `/admin/users/${segment(id)}`, 'Reading the user failed'),
    updateUser: async (id, changes) =>
      callJson('PATCH', `/admin/users/${segment(id)}`, 'Updating the user failed', changes),
    userSessions: async (id) => callJson('GET', `/admin/users/${segment(id)}/sessions`, 'Listing sessions failed'),
    revokeUserSessions: async (id) =>
      callJson('DELETE', `/admin/users/${segment(id)}/sessions`, "Revoking the user's sessions failed"),
    revokeSession: async (sessionId) =>
      callJson('DELETE', `/admin/sessions/${segment(sessionId)}`, 'Revoking the session failed'),
    audit: async (query = {}) => callJson('GET', `/admin/audit${queryString(query)}`, 'Reading the audit log failed'),
  };

  return {
    login,
    register,
    logout,
    fetch: authFetch,
    refresh,
    getAccessToken: () => accessToken,
    mayCarryToken,
    me: () => callJson('GET', '/auth/me', 'Reading the current user failed'),
    admin,
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      cancelTimer();
      listeners.clear();
      if (channel) {
        channel.onmessage = null;
        channel.close();
      }
    },
  };
}

/**
 * Whether a 401 means "refresh and try again": the token we sent was refused
 * (`error="invalid_token"`), or we sent none and the route wants a Bearer token.
 * Cross-origin callers need the API to expose `WWW-Authenticate` (Access-Control-Expose-Headers).
 */
function needsRefresh(response: Response, sentToken: string | null): boolean {
  if (response.status !== 401) return false;
  const challenge = response.headers.get('WWW-Authenticate') ?? '';
  if (!/\bbearer\b/i.test(challenge)) return false;
  return sentToken === null || /\berror\s*=\s*"?invalid_token\b/i.test(challenge);
}

function prepare(input: RequestInfo | URL, init: RequestInit | undefined): PreparedRequest {
  const credentials = init?.credentials ?? 'include';
  if (typeof Request !== 'undefined' && input instanceof Request) {
    // Sending a Request consumes its body, so every attempt but the last sends a clone.
    const template = init ? new Request(input, init) : input;
    return {
      url: urlOf(input),
      method: template.method,
      retryable: true,
      build(token, last) {
        const source = last ? template : template.clone();
        return [new Request(source, { headers: withBearer(source.headers, token), credentials }), undefined];
      },
    };
  }
  return {
    url: urlOf(input),
    method: (init?.method ?? 'GET').toUpperCase(),
    retryable: !isOneShotBody(init?.body),
    build(token) {
      return [input, { ...init, headers: withBearer(init?.headers, token), credentials }];
    },
  };
}

/** The URL a fetch input names (init cannot change it). */
function urlOf(input: RequestInfo | URL): string {
  if (typeof Request !== 'undefined' && input instanceof Request) return input.url;
  if (input instanceof URL) return input.href;
  return typeof input === 'string' ? input : input.url;
}

/**
 * The origin of an absolute URL, or of a relative one against the base `fetch` resolves it against
 * (see `baseUrlForFetch`); undefined when it cannot be resolved. Opaque origins (`data:`, `blob:`
 * of another context) come out as "null", which no allow-list entry matches.
 */
function originOf(target: string | URL): string | undefined {
  try {
    return new URL(target, baseUrlForFetch()).origin;
  } catch {
    return undefined;
  }
}

/**
 * The document base URL (`document.baseURI`, which a `<base href>` changes) when there is a
 * document, else the location (workers), else none. This is what `fetch` resolves a relative URL
 * against; `location.href` alone would pass `/api/x` as same-origin while a `<base href>` on
 * another host sends it, token and cookies included, there.
 */
function baseUrlForFetch(): string | undefined {
  const scope = globalThis as { document?: { baseURI?: unknown }; location?: { href?: unknown } };
  const documentBase = scope.document?.baseURI;
  if (typeof documentBase === 'string' && documentBase !== '') return documentBase;
  const page = scope.location?.href;
  return typeof page === 'string' && page !== '' ? page : undefined;
}

/**
 * An id as exactly one path segment, so `/`, `?` or `#` in it cannot reach another route. URL
 * parsing resolves `.` and `..` segments (escaped ones too), so those, like an empty id, are refused.
 */
function segment(value: string): string {
  if (typeof value !== 'string' || /^(\.|%2e){0,2}$/i.test(value)) throw new TypeError(`Not an id: "${value}"`);
  return encodeURIComponent(value);
}

/** `?a=1&b=x` from the fields that are set (undefined and empty strings are left out), or ''. */
function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function withBearer(headers: HeadersInit | undefined, token: string | null): Headers {
  const result = new Headers(headers);
  if (token !== null) result.set('Authorization', `Bearer ${token}`);
  return result;
}

/** Strings, Blobs, FormData, URLSearchParams and buffers can be sent twice; streams cannot. */
function isOneShotBody(body: unknown): boolean {
  if (body === null || body === undefined || typeof body !== 'object') return false;
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return true;
  return Symbol.asyncIterator in body;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => '');
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorFrom(response: Response, body: unknown, fallback: string): AuthError {
  const message = (body as { message?: unknown } | null)?.message;
  const detail = Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : undefined;
  return new AuthError(
    detail ? `${fallback}: ${detail}` : `${fallback} (HTTP ${response.status})`,
    response.status,
    body,
  );
}

async function readTokens(response: Response, fallback: string): Promise<{ accessToken: string; expiresAt: number }> {
  const body = await readBody(response);
  if (!response.ok) throw errorFrom(response, body, fallback);
  const tokens = body as { access_token?: unknown; expires_in?: unknown } | null;
  if (typeof tokens?.access_token !== 'string' || typeof tokens.expires_in !== 'number') {
    throw new AuthError(`${fallback}: malformed token response`, response.status, body);
  }
  return { accessToken: tokens.access_token, expiresAt: Date.now() + tokens.expires_in * 1000 };
}

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? null;
}

function defaultBroadcastChannel(): (new (name: string) => BroadcastChannelLike) | null {
  // The real onmessage hands over a MessageEvent; we only read its `data`.
  return typeof BroadcastChannel === 'undefined'
    ? null
    : (BroadcastChannel as unknown as new (name: string) => BroadcastChannelLike);
}

import type { JSONWebKeySet } from 'jose';

/** The auth server answered 401/403: the client id or secret is wrong (or the client was deleted). */
export class ClientAuthenticationError extends Error {
  override readonly name = 'ClientAuthenticationError';
}

/** Any other answer than the one expected, or no answer. */
export class AuthServerError extends Error {
  override readonly name = 'AuthServerError';
}

/** One page of the polling form of the feed. */
export interface RevocationPage {
  items: unknown[];
  next: string | undefined;
}

/** The RFC 7662 answer, as received; the caller checks it against the token. */
export type IntrospectionAnswer = Record<string, unknown>;

/** The three endpoints of the auth server the kit uses, authenticated as a client (client_secret_basic). */
export class AuthServerClient {
  private readonly authorization: string;

  constructor(
    private readonly baseUrl: string,
    clientId: string,
    clientSecret: string,
    private readonly timeoutMs: number,
  ) {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded,
    // so a `:` or non-ASCII character in either survives the trip.
    this.authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
  }

  async jwks(): Promise<JSONWebKeySet> {
    const response = await this.request('/.well-known/jwks.json', { headers: { accept: 'application/json' } }, false);
    const body = await this.json(response, 'JWKS');
    if (!Array.isArray((body as { keys?: unknown }).keys)) throw new AuthServerError('JWKS: no "keys" array');
    return body as unknown as JSONWebKeySet;
  }

  /** `GET /auth/revocations?since=<cursor>`: the polling form. */
  async revocations(since: string | undefined, signal: AbortSignal): Promise<RevocationPage> {
    const query = since === undefined ? '' : `?since=${encodeURIComponent(since)}`;
    const response = await this.request(`/auth/revocations${query}`, {
      headers: { accept: 'application/json' },
      signal,
    });
    const body = await this.json(response, 'revocations');
    if (!Array.isArray(body.items)) throw new AuthServerError('revocations: no "items" array');
    const next = body.next;
    return { items: body.items, next: typeof next === 'string' || typeof next === 'number' ? String(next) : undefined };
  }

  /**
   * Opens the SSE form of the feed; resolves once the headers arrived. `signal` ends the stream,
   * and the timeout applies to the headers only.
   */
  async revocationStream(lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const headersTimeout = AbortSignal.timeout(this.timeoutMs);
    const connecting = new AbortController();
    const abort = () => connecting.abort();
    signal.addEventListener('abort', abort, { once: true });
    headersTimeout.addEventListener('abort', abort, { once: true });
    try {
      const response = await this.request('/auth/revocations', { headers, signal: connecting.signal }, true, false);
      const type = response.headers.get('content-type') ?? '';
      if (!type.toLowerCase().startsWith('text/event-stream') || !response.body) {
        await response.body?.cancel();
        throw new AuthServerError(`revocation stream: expected text/event-stream, got "${type}"`);
      }
      return response.body;
    } finally {
      // From here on only `signal` may end the stream: a slow feed is the caller's call, not a timeout.
      headersTimeout.removeEventListener('abort', abort);
    }
  }

  /** RFC 7662 introspection of an access token. */
  async introspect(token: string): Promise<IntrospectionAnswer> {
    const response = await this.request('/auth/introspect', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
    return this.json(response, 'introspection');
  }

  private async request(path: string, init: RequestInit, authenticate = true, timeout = true): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string>) };
    if (authenticate) headers.authorization = this.authorization;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers,
        redirect: 'error',
        signal: !timeout
          ? init.signal
          : init.signal
            ? AbortSignal.any([init.signal, AbortSignal.timeout(this.timeoutMs)])
            : AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new AuthServerError(`${path.split('?')[0]}: ${describe(error)}`);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new ClientAuthenticationError(
        `${path.split('?')[0]}: the auth server refused this resource server's client credentials (${response.status}); check clientId and clientSecret`,
      );
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new AuthServerError(`${path.split('?')[0]}: HTTP ${response.status}`);
    }
    return response;
  }

  private async json(response: Response, what: string): Promise<Record<string, unknown>> {
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw new AuthServerError(`${what}: unreadable JSON (${describe(error)})`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new AuthServerError(`${what}: expected a JSON object`);
    }
    return body as Record<string, unknown>;
  }
}

/** application/x-www-form-urlencoded, as RFC 6749 Appendix B asks (space as `+`). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return `${error.message}${detail}`;
  }
  return String(error);
}

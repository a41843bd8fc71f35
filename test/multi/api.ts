/**
 * The HTTP calls the multi-instance suite makes, with fetch against a base URL. Each returns the
 * status and what the suite looks at, never throwing on an HTTP error status.
 */

export const PASSWORD = 'correct horse battery';

export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

export interface TokenAnswer extends Answer {
  accessToken?: string;
  /** The refresh_token Set-Cookie value: a token, '' when cleared, undefined when not set. */
  refreshToken?: string;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body, headers: response.headers };
}

function refreshCookieOf(headers: Headers): string | undefined {
  const cookie = headers.getSetCookie().find((c) => c.startsWith('refresh_token='));
  return cookie?.split(';')[0].slice('refresh_token='.length);
}

async function tokenAnswer(response: Response): Promise<TokenAnswer> {
  const result = await answer(response);
  const body = result.body as { access_token?: unknown } | undefined;
  return {
    ...result,
    accessToken: typeof body?.access_token === 'string' ? body.access_token : undefined,
    refreshToken: refreshCookieOf(result.headers),
  };
}

const json = (value: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(value),
});

const cookie = (refreshToken: string) => ({ Cookie: `refresh_token=${refreshToken}` });
const bearer = (accessToken: string) => ({ Authorization: `Bearer ${accessToken}` });

export async function register(base: string, username: string, password = PASSWORD): Promise<Answer> {
  return answer(await fetch(`${base}/auth/register`, json({ username, password })));
}

export async function login(base: string, username: string, password = PASSWORD): Promise<TokenAnswer> {
  return tokenAnswer(await fetch(`${base}/auth/login`, json({ username, password })));
}

export async function refresh(base: string, refreshToken: string): Promise<TokenAnswer> {
  return tokenAnswer(await fetch(`${base}/auth/refresh`, { method: 'POST', headers: cookie(refreshToken) }));
}

export async function logout(base: string, refreshToken: string): Promise<TokenAnswer> {
  return tokenAnswer(await fetch(`${base}/auth/logout`, { method: 'POST', headers: cookie(refreshToken) }));
}

export async function me(base: string, accessToken: string): Promise<Answer> {
  return answer(await fetch(`${base}/auth/me`, { headers: bearer(accessToken) }));
}

export async function deleteSession(base: string, accessToken: string, sessionId: string): Promise<Answer> {
  return answer(
    await fetch(`${base}/auth/sessions/${encodeURIComponent(sessionId)}`, {
      method: 'DELETE',
      headers: bearer(accessToken),
    }),
  );
}

/** GET /auth/audit?limit=100 with a Bearer token. */
export async function audit(base: string, accessToken: string): Promise<Answer> {
  return answer(await fetch(`${base}/auth/audit?limit=100`, { headers: bearer(accessToken) }));
}

export async function get(base: string, path: string): Promise<Answer> {
  return answer(await fetch(`${base}${path}`));
}

/** The claims of a JWT, unverified (for `sid` and `kid`). */
export function jwtParts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
  return { header, payload };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Refusal {
  /** Milliseconds from the call until GET /auth/me first answered something other than 200. */
  elapsedMs: number;
  status: number;
  /** Statuses seen, in order. */
  seen: number[];
}

/**
 * Polls GET /auth/me every `intervalMs` until the token is refused or `deadlineMs` passes; the
 * caller asserts on status and elapsed time.
 */
export async function pollUntilRefused(
  base: string,
  accessToken: string,
  deadlineMs = 1500,
  intervalMs = 100,
): Promise<Refusal> {
  const started = Date.now();
  const seen: number[] = [];
  for (;;) {
    const { status } = await me(base, accessToken);
    seen.push(status);
    const elapsedMs = Date.now() - started;
    if (status !== 200 || elapsedMs >= deadlineMs) return { elapsedMs, status, seen };
    await sleep(intervalMs);
  }
}

/** Runs `fn` over `items`, `size` at a time. */
export async function inBatches<T, R>(
  items: T[],
  size: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(...(await Promise.all(items.slice(start, start + size).map((item, i) => fn(item, start + i)))));
  }
  return results;
}

/** Counts of each value, e.g. statuses, for readable failure output. */
export function tally(values: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

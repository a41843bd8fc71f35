// The auth API calls the soak and the crash test make, one function per endpoint. Each resolves
// with { status, body, ... } and rejects only on network errors and timeouts (see http.mjs), so
// callers decide which statuses they expect.
import { request, setCookieValue } from './http.mjs';

/** POST /auth/refresh with the refresh cookie; `next` is the rotated token from Set-Cookie (200 only). */
export async function refreshViaCookie(baseUrl, token, { agent, timeoutMs } = {}) {
  const res = await request(baseUrl, {
    method: 'POST',
    path: '/auth/refresh',
    agent,
    timeoutMs,
    headers: { cookie: `refresh_token=${token}` },
  });
  const next = res.status === 200 ? setCookieValue(res.headers, 'refresh_token') : undefined;
  return { status: res.status, next, accessToken: accessTokenOf(res), body: res.body };
}

/** POST /auth/token, grant_type=refresh_token; `next` is the rotated token from the JSON body (200 only). */
export async function refreshViaTokenEndpoint(baseUrl, token, { agent, timeoutMs } = {}) {
  const res = await request(baseUrl, {
    method: 'POST',
    path: '/auth/token',
    agent,
    timeoutMs,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
  });
  let next;
  if (res.status === 200) {
    try {
      next = JSON.parse(res.body).refresh_token;
    } catch {
      next = undefined;
    }
  }
  return { status: res.status, next, accessToken: accessTokenOf(res), body: res.body };
}

/** GET /auth/me with a Bearer token (any string, so callers can send bad ones). */
export function me(baseUrl, accessToken, { agent, timeoutMs } = {}) {
  return request(baseUrl, { path: '/auth/me', agent, timeoutMs, headers: { authorization: `Bearer ${accessToken}` } });
}

/** POST /auth/logout with the refresh cookie (204, also when already logged out). */
export function logout(baseUrl, refreshToken, { agent, timeoutMs } = {}) {
  return request(baseUrl, {
    method: 'POST',
    path: '/auth/logout',
    agent,
    timeoutMs,
    headers: { cookie: `refresh_token=${refreshToken}` },
  });
}

function accessTokenOf(res) {
  if (res.status !== 200) return undefined;
  try {
    return JSON.parse(res.body).access_token;
  } catch {
    return undefined;
  }
}

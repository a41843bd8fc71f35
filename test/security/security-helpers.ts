import { createHmac, sign, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import { expect } from '@jest/globals';
import request from 'supertest';
import { decodeJwt, DEFAULT_PASSWORD, refreshCookie, register, sleep, uniqueUsername } from '../utils/http.js';

/** How long a revocation may take to reach access tokens (the contract says ~1 s; we poll a little longer). */
export const REVOCATION_DEADLINE_MS = 1500;

/** A raw refresh token: 256 bits, base64url. */
export const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface Login {
  username: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** The session behind the tokens (the access token's `sid`). */
  sid: string;
  /** The user id (the access token's `sub`). */
  sub: string;
}

/** Logs an existing user in through POST /auth/login (optionally as a named device). */
export async function loginAs(
  server: Server,
  username: string,
  password = DEFAULT_PASSWORD,
  userAgent?: string,
): Promise<Login> {
  const req = request(server).post('/auth/login');
  if (userAgent) req.set('User-Agent', userAgent);
  const response = await req.send({ username, password });
  expect(response.status).toBe(200);
  const accessToken = response.body.access_token as string;
  const { payload } = decodeJwt(accessToken);
  return {
    username,
    password,
    accessToken,
    refreshToken: refreshCookie(response)!,
    sid: payload.sid as string,
    sub: payload.sub as string,
  };
}

/** Registers a fresh user and logs in once. */
export async function newUser(server: Server, prefix = 'sec', userAgent?: string): Promise<Login> {
  const { username, password } = await register(server, uniqueUsername(prefix));
  return loginAs(server, username, password, userAgent);
}

export function bearer(server: Server, method: 'get' | 'post' | 'delete', path: string, accessToken: string) {
  return request(server)[method](path).set('Authorization', `Bearer ${accessToken}`);
}

export function refreshWith(server: Server, refreshToken: string) {
  return request(server).post('/auth/refresh').set('Cookie', `refresh_token=${refreshToken}`);
}

export function revokeAtEndpoint(server: Server, token: string) {
  return request(server).post('/auth/revoke').type('form').send({ token });
}

/** Polls GET /auth/me until the token is refused; the caller asserts on the returned response. */
export async function meUntilRefused(server: Server, accessToken: string, deadlineMs = REVOCATION_DEADLINE_MS) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const response = await bearer(server, 'get', '/auth/me', accessToken);
    if (response.status !== 200 || Date.now() >= until) return response;
    await sleep(50);
  }
}

/** Asserts the access token stops working on GET /auth/me within REVOCATION_DEADLINE_MS, as an RFC 6750 invalid_token. */
export async function expectAccessTokenDies(
  server: Server,
  accessToken: string,
  label = 'access token',
): Promise<void> {
  const response = await meUntilRefused(server, accessToken);
  expect({ label, status: response.status }).toEqual({ label, status: 401 });
  expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
}

export async function expectAccessTokenWorks(
  server: Server,
  accessToken: string,
  label = 'access token',
): Promise<void> {
  const response = await bearer(server, 'get', '/auth/me', accessToken);
  expect({ label, status: response.status }).toEqual({ label, status: 200 });
}

export async function expectRefreshTokenDead(
  server: Server,
  refreshToken: string,
  label = 'refresh token',
): Promise<void> {
  const response = await refreshWith(server, refreshToken);
  expect({ label, status: response.status }).toEqual({ label, status: 401 });
  expect(refreshCookie(response) ?? '').toBe('');
  expect(response.body).not.toHaveProperty('access_token');
}

/**
 * Token material in a JSON body: keys that name a token, base64url runs of 43+ characters (raw refresh
 * tokens, or longer), 64-character hex runs (refresh-token hashes) and JWT-shaped strings. Returns findings
 * (empty when clean) so a failure shows what leaked.
 */
export function tokenMaterialIn(body: unknown): string[] {
  const findings: string[] = [];
  const visit = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, `${path}[${i}]`));
    } else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (/token|secret|hash|password|nonce/i.test(key)) findings.push(`key ${path}.${key}`);
        visit(child, `${path}.${key}`);
      }
    } else if (typeof value === 'string') {
      if (/[A-Za-z0-9_-]{43,}/.test(value)) findings.push(`base64url run of 43+ at ${path}`);
      if (/[0-9a-fA-F]{64}/.test(value)) findings.push(`hex-64 at ${path}`);
      if (/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\./.test(value)) findings.push(`JWT at ${path}`);
    }
  };
  visit(body, '$');
  return findings;
}

/** Asserts none of the given secrets occurs anywhere in a response's raw text. */
export function expectNoneOf(text: string, secrets: string[]): void {
  const leaked = secrets.filter((secret) => secret && text.includes(secret));
  expect(leaked).toEqual([]);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/**
 * Signs a JWT by hand with `key` using `signWith`, whatever the header says, so tests can make a
 * header lie about its algorithm.
 */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject | string | Buffer,
  signWith: 'RS256' | 'ES256' | 'HS256',
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  let signature: Buffer;
  if (signWith === 'HS256') signature = createHmac('sha256', key).update(input).digest();
  else if (signWith === 'RS256') signature = sign('sha256', Buffer.from(input), key);
  else signature = sign('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** Never-5xx check with the response in the failure message. */
export function expectNot5xx(response: { status: number; text?: string }, context: unknown): void {
  if (response.status >= 500) {
    throw new Error(`5xx (${response.status}) for ${JSON.stringify(context)}: ${response.text}`);
  }
}

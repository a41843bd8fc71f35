import { createHmac } from 'node:crypto';
import request from 'supertest';
import type { Server } from 'node:http';
import { expect } from '@jest/globals';

export const DEFAULT_PASSWORD = 'correct horse battery';

let counter = 0;
/** A username no other test in the process uses. */
export function uniqueUsername(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${process.pid}_${counter}`;
}

type HasHeaders = { headers: Record<string, unknown> };

function setCookies(response: HasHeaders): string[] {
  const header = response.headers['set-cookie'] as string[] | string | undefined;
  return Array.isArray(header) ? header : header ? [header] : [];
}

/** The raw refresh token from a response's Set-Cookie, or undefined. */
export function refreshCookie(response: HasHeaders): string | undefined {
  const cookie = setCookies(response).find((c) => c.startsWith('refresh_token='));
  return cookie?.split(';')[0].slice('refresh_token='.length);
}

export function setCookieHeader(response: HasHeaders): string {
  return setCookies(response).find((c) => c.startsWith('refresh_token=')) ?? '';
}

export interface ParsedSetCookie {
  value: string;
  /** Attribute names lower-cased; flags (HttpOnly, Secure) map to `true`. */
  attributes: Record<string, string | true>;
}

/** The refresh_token Set-Cookie of a response, parsed; undefined when there is none. */
export function parseRefreshSetCookie(response: HasHeaders): ParsedSetCookie | undefined {
  const header = setCookieHeader(response);
  if (!header) return undefined;
  const [pair, ...rest] = header.split(';').map((part) => part.trim());
  const attributes: Record<string, string | true> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq === -1) attributes[part.toLowerCase()] = true;
    else attributes[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
  }
  return { value: pair.slice('refresh_token='.length), attributes };
}

/** The cookie's Max-Age in seconds (throws when absent). */
export function refreshCookieMaxAge(response: HasHeaders): number {
  const maxAge = parseRefreshSetCookie(response)?.attributes['max-age'];
  if (typeof maxAge !== 'string') throw new Error(`no Max-Age in Set-Cookie: ${setCookieHeader(response)}`);
  return Number(maxAge);
}

/** Asserts the response tells the browser to drop the refresh cookie (empty value, Max-Age=0 or Expires in the past). */
export function expectRefreshCookieCleared(response: HasHeaders): void {
  const cookie = parseRefreshSetCookie(response);
  expect(cookie).toBeDefined();
  expect(cookie!.value).toBe('');
  expect(cookie!.attributes.path).toBe('/auth');
  const maxAge = cookie!.attributes['max-age'];
  const expires = cookie!.attributes.expires;
  const cleared = maxAge === '0' || (typeof expires === 'string' && new Date(expires).getTime() <= Date.now());
  const header = setCookieHeader(response);
  // Header included so a failure shows what was actually sent.
  expect({ header, cleared }).toEqual({ header, cleared: true });
}

/** Asserts the `{statusCode, error, message}` error shape and that no stack trace leaks. */
export function expectErrorBody(
  response: { status: number; body: unknown; text?: string },
  status: number,
  error: string,
): void {
  expect(response.status).toBe(status);
  expect(response.body).toEqual({
    statusCode: status,
    error,
    message: expect.anything(),
  });
  const message = (response.body as { message: unknown }).message;
  expect(typeof message === 'string' || (Array.isArray(message) && message.every((m) => typeof m === 'string'))).toBe(
    true,
  );
  expectNoStackTrace(response.text ?? JSON.stringify(response.body));
}

export function expectNoStackTrace(text: string): void {
  // Stack frames look like "at fn (file.ts:1:2)" or "at file:///x.js:1:2".
  expect(text).not.toMatch(/\bat \S+ \(|\bat (file|node):|\.[cm]?[jt]s:\d+:\d+/);
  expect(text).not.toContain('Error:');
}

export async function register(server: Server, username = uniqueUsername(), password = DEFAULT_PASSWORD) {
  await request(server).post('/auth/register').send({ username, password }).expect(201);
  return { username, password };
}

/** Registers (unless told not to) and logs in; returns the access token and the refresh token. */
export async function login(server: Server, username?: string, password = DEFAULT_PASSWORD) {
  const user = username ? { username, password } : await register(server);
  const response = await request(server).post('/auth/login').send(user).expect(200);
  return {
    ...user,
    accessToken: response.body.access_token as string,
    refreshToken: refreshCookie(response)!,
    response,
  };
}

export function refresh(server: Server, token: string) {
  return request(server).post('/auth/refresh').set('Cookie', `refresh_token=${token}`);
}

export function logout(server: Server, token?: string) {
  const req = request(server).post('/auth/logout');
  return token === undefined ? req : req.set('Cookie', `refresh_token=${token}`);
}

export function me(server: Server, accessToken?: string) {
  const req = request(server).get('/auth/me');
  return accessToken === undefined ? req : req.set('Authorization', `Bearer ${accessToken}`);
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: string;
}

/** Splits and decodes a JWT without verifying it. */
export function decodeJwt(token: string): DecodedJwt {
  const [header, payload, signature] = token.split('.');
  const part = (p: string) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: part(header), payload: part(payload), signature };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/**
 * Builds a JWT by hand. With a key it is HMAC-SHA256 signed (or `hmac` picks another hash);
 * without one the signature part is empty, as for `alg: none`.
 */
export function forgeJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key?: string | Buffer,
  hmac: 'sha256' | 'sha384' | 'sha512' = 'sha256',
): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  const signature = key === undefined ? '' : createHmac(hmac, key).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * Calls GET /auth/me every 50 ms until it answers `status` or `deadlineMs` passes; returns the
 * last status and the milliseconds it took, for the caller to assert on.
 */
export async function meUntil(
  server: Server,
  accessToken: string,
  status: number,
  deadlineMs = 1500,
): Promise<{ status: number; elapsedMs: number }> {
  const started = Date.now();
  for (;;) {
    const seen = (await me(server, accessToken)).status;
    const elapsedMs = Date.now() - started;
    if (seen === status || elapsedMs >= deadlineMs) return { status: seen, elapsedMs };
    await sleep(50);
  }
}

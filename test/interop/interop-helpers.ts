import { createServer, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { expect } from '@jest/globals';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, uniqueUsername } from '../utils/http.js';

/** An app listening on a real 127.0.0.1 port, with `iss` = its own base URL. */
export interface ListeningApp {
  t: TestApp;
  port: number;
  /** `http://127.0.0.1:<port>`: the JWT issuer and the base URL of every endpoint. */
  issuer: string;
  close(): Promise<void>;
}

/** A port that was free a moment ago (the OS picks it; we release it at once). */
export async function freePort(): Promise<number> {
  const probe: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('could not read the probe port');
  return address.port;
}

/** Builds the app through createTestApp and makes it listen, so out-of-process clients can reach it. */
export async function startListeningApp(env: Record<string, string> = {}): Promise<ListeningApp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const t = await createTestApp({ PORT: String(port), JWT_ISSUER: issuer, ...env });
  try {
    await t.app.listen(port, '127.0.0.1');
  } catch (error) {
    await t.close();
    throw error;
  }
  return { t, port, issuer, close: () => t.close() };
}

/** Listens an arbitrary HTTP server (e.g. an express resource server) on 127.0.0.1; returns its base URL. */
export async function listenLocal(server: HttpServer): Promise<string> {
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${port}`;
}

export async function closeHttpServer(server: HttpServer | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

export interface HttpSession {
  username: string;
  password: string;
  accessToken: string;
  /** The refresh_token cookie value set by /auth/login. */
  refreshCookie: string;
}

/** Registers a fresh user over real HTTP (fetch). */
export async function registerOverHttp(
  issuer: string,
  username = uniqueUsername('interop'),
  password = DEFAULT_PASSWORD,
) {
  const response = await fetch(`${issuer}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(response.status).toBe(201);
  return { username, password };
}

/** Registers (unless given a user) and logs in over real HTTP with the cookie flow. */
export async function loginOverHttp(
  issuer: string,
  user?: { username: string; password: string },
): Promise<HttpSession> {
  const { username, password } = user ?? (await registerOverHttp(issuer));
  const response = await fetch(`${issuer}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('refresh_token='));
  expect(cookie).toBeDefined();
  return {
    username,
    password,
    accessToken: body.access_token,
    refreshCookie: cookie!.split(';')[0].slice('refresh_token='.length),
  };
}

/** GET /auth/me over real HTTP; returns status and parsed body. */
export async function meOverHttp(issuer: string, accessToken: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${issuer}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: await response.json() };
}

export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

/** GET /.well-known/jwks.json; returns the response too, for its headers. */
export async function fetchJwks(issuer: string): Promise<{ response: Response; jwks: Jwks }> {
  const response = await fetch(`${issuer}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return { response, jwks: (await response.json()) as Jwks };
}

/** JWK members that would reveal private key material (RFC 7518 §6.2.2, §6.3.2, §6.4). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Same header and signature, payload re-encoded with `changes`: the signature no longer matches. */
export function tamperPayload(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${b64json({ ...claims, ...changes })}.${signature}`;
}

/**
 * Changes one character in the middle of the signature. (Not the last one: its low bits may be
 * base64 padding, so flipping it can leave the decoded signature unchanged.)
 */
export function flipSignatureChar(token: string): string {
  const [header, payload, signature] = token.split('.');
  const i = Math.floor(signature.length / 2);
  const replacement = signature[i] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, i)}${replacement}${signature.slice(i + 1)}`;
}

/** The decoded protected header of a JWT (unverified). */
export function jwtHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Awaits a promise expected to reject and returns the rejection, failing the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

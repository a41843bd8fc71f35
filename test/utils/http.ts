import request from 'supertest';
import type { Server } from 'node:http';

export const DEFAULT_PASSWORD = 'correct horse battery';

let counter = 0;
/** A username no other test in the process uses. */
export function uniqueUsername(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${process.pid}_${counter}`;
}

/** The raw refresh token from a response's Set-Cookie, or undefined. */
export function refreshCookie(response: { headers: Record<string, unknown> }): string | undefined {
  const header = response.headers['set-cookie'] as string[] | string | undefined;
  const cookies = Array.isArray(header) ? header : header ? [header] : [];
  const cookie = cookies.find((c) => c.startsWith('refresh_token='));
  return cookie?.split(';')[0].slice('refresh_token='.length);
}

export function setCookieHeader(response: { headers: Record<string, unknown> }): string {
  const header = response.headers['set-cookie'] as string[] | string | undefined;
  return (Array.isArray(header) ? header : [header ?? '']).find((c) => c.startsWith('refresh_token=')) ?? '';
}

export async function register(server: Server, username = uniqueUsername(), password = DEFAULT_PASSWORD) {
  await request(server).post('/auth/register').send({ username, password }).expect(201);
  return { username, password };
}

/** Registers (unless told not to) and logs in; returns the access token and the refresh token. */
export async function login(server: Server, username?: string, password = DEFAULT_PASSWORD) {
  const user = username ? { username, password } : await register(server);
  const response = await request(server).post('/auth/login').send(user).expect(200);
  return { ...user, accessToken: response.body.access_token as string, refreshToken: refreshCookie(response)!, response };
}

export function refresh(server: Server, token: string) {
  return request(server).post('/auth/refresh').set('Cookie', `refresh_token=${token}`);
}

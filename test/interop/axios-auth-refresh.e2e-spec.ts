import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import axios, { type AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
// v5 name; `createAuthRefreshInterceptor` is its deprecated alias. Named, not default: the package
// has no "type": "module", so TypeScript (nodenext) types the default import as the CJS namespace.
import { createAuthRefresh } from 'axios-auth-refresh';
import { sleep } from '../utils/http.js';

const sleepUntil = (epochMs: number) => sleep(Math.max(0, epochMs - Date.now()));
import { registerOverHttp, startListeningApp, type ListeningApp } from './interop-helpers.js';

/** A tiny cookie jar, by hand: name → value, updated from Set-Cookie, cleared by an empty value. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(setCookie: string[] | string | undefined): void {
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = line.split(';')[0];
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/**
 * A browser-like SPA client: access token in memory, refresh token in a cookie, and
 * axios-auth-refresh renewing the access token on a 401 through POST /auth/refresh.
 */
describe('axios + axios-auth-refresh over the cookie flow (ACCESS_TOKEN_TTL=1s)', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp({ ACCESS_TOKEN_TTL: '1s' });
  });
  afterAll(async () => {
    await s?.close();
  });

  async function spaClient({ alignToSecond }: { alignToSecond: boolean }) {
    const user = await registerOverHttp(s.issuer);
    const jar = new CookieJar();
    // `exp` = `iat` + 1 in whole seconds, so a token signed late in a second lives only ms.
    // Log in just after a second boundary so the first token is good for ~1 s.
    if (alignToSecond) await sleepUntil(Math.ceil(Date.now() / 1000) * 1000 + 20);
    const login = await axios.post<{ access_token: string }>(`${s.issuer}/auth/login`, user);
    expect(login.status).toBe(200);
    jar.store(login.headers['set-cookie']);
    expect(jar.get('refresh_token')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const state = {
      accessToken: login.data.access_token,
      refreshCalls: 0,
      statuses: [] as number[],
      challenges: [] as string[],
    };
    const api: AxiosInstance = axios.create({ baseURL: s.issuer });
    api.interceptors.request.use((config) => {
      config.headers.Authorization = `Bearer ${state.accessToken}`;
      return config;
    });
    // Registered before the refresh interceptor, so it sees every raw response first.
    api.interceptors.response.use(
      (response: AxiosResponse) => {
        state.statuses.push(response.status);
        return response;
      },
      (error: AxiosError) => {
        state.statuses.push(error.response?.status ?? 0);
        state.challenges.push(String(error.response?.headers['www-authenticate'] ?? ''));
        return Promise.reject(error);
      },
    );
    // The cast only bridges TypeScript's two views of axios (its .d.cts, seen through
    // axios-auth-refresh's CJS typings, vs our ESM .d.ts); at runtime it is the same instance.
    createAuthRefresh(api as unknown as Parameters<typeof createAuthRefresh>[0], async (failed: AxiosError) => {
      state.refreshCalls += 1;
      // Plain axios, not `api`: the refresh call itself must not be intercepted.
      const refreshed = await axios.post<{ access_token: string }>(`${s.issuer}/auth/refresh`, undefined, {
        headers: { Cookie: jar.header() },
      });
      state.accessToken = refreshed.data.access_token;
      jar.store(refreshed.headers['set-cookie']);
      failed.response!.config.headers.Authorization = `Bearer ${state.accessToken}`;
    });
    return { user, jar, state, api };
  }

  it('answers the expired token with 401, refreshes exactly once, and the retried request succeeds', async () => {
    const { user, jar, state, api } = await spaClient({ alignToSecond: true });
    const firstToken = state.accessToken;
    const firstCookie = jar.get('refresh_token');

    await expect(api.get('/auth/me')).resolves.toMatchObject({ status: 200 });
    expect(state).toMatchObject({ refreshCalls: 0, statuses: [200] });

    // Just past `exp`, which is also just after a second boundary: the refreshed token then
    // lives a whole second, ample for the retry and the follow-up below even on a loaded machine.
    const { exp } = JSON.parse(Buffer.from(firstToken.split('.')[1], 'base64url').toString('utf8')) as { exp: number };
    await sleepUntil(exp * 1000 + 30);
    const response = await api.get('/auth/me');

    expect(response.status).toBe(200);
    expect(response.data).toEqual({ id: expect.any(String), username: user.username, roles: [] });
    expect(state.statuses).toEqual([200, 401, 200]);
    expect(state.challenges).toEqual([expect.stringContaining('error="invalid_token"')]);
    expect(state.refreshCalls).toBe(1);
    expect(state.accessToken).not.toBe(firstToken);
    // The refresh rotated the cookie, and the jar followed.
    expect(jar.get('refresh_token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(jar.get('refresh_token')).not.toBe(firstCookie);

    // The new token is used as is; no further refresh.
    await expect(api.get('/auth/me')).resolves.toMatchObject({ status: 200 });
    expect(state.refreshCalls).toBe(1);
  });

  it('gives up with the 401 when the refresh itself fails (session logged out), refreshing once', async () => {
    const { jar, state, api } = await spaClient({ alignToSecond: false });
    await axios.post(`${s.issuer}/auth/logout`, undefined, { headers: { Cookie: jar.header() } });
    state.accessToken = 'not-a-jwt'; // rejected at once: no need to wait for expiry

    const failure = (await api.get('/auth/me').catch((error: unknown) => error)) as AxiosError;
    expect(axios.isAxiosError(failure)).toBe(true);
    expect(failure.response?.status).toBe(401);
    expect(failure.config?.url).toBe(`${s.issuer}/auth/refresh`);
    expect(state.refreshCalls).toBe(1);
    expect(state.statuses).toEqual([401]);
  });
});

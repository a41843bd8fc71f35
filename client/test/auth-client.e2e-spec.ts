import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { UserAdministrationService } from '../../src/authz/user-administration.service.js';
import { createTestApp, type TestApp } from '../../test/utils/create-test-app.js';
import { createAuthClient, type AuthClient, type AuthClientOptions } from '../src/auth-client.js';

/**
 * The client against the real server, to catch contract drift the fake in auth-client.spec.ts
 * cannot see: the WWW-Authenticate challenges, the refresh cookie and its Path, the status codes.
 * Node's fetch has no cookie jar, so `browser` plays one: it keeps `refresh_token` from
 * Set-Cookie and sends it back, with credentials: 'include', to /auth/* only (Path=/auth).
 */
function browserFetch() {
  const jar = { refreshToken: null as string | null };
  let tamperNext = false;
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    if (jar.refreshToken && request.credentials === 'include' && new URL(request.url).pathname.startsWith('/auth/')) {
      headers.set('Cookie', `refresh_token=${jar.refreshToken}`);
    }
    const authorization = headers.get('Authorization');
    if (tamperNext && authorization) {
      tamperNext = false;
      headers.set('Authorization', `${authorization}x`); // as good as an expired token
    }
    const response = await globalThis.fetch(new Request(request, { headers }));
    for (const cookie of response.headers.getSetCookie()) {
      const match = /^refresh_token=([^;]*)(.*)$/.exec(cookie);
      if (!match) continue;
      jar.refreshToken = match[1] && !/Max-Age=0\b|Expires=Thu, 01 Jan 1970/i.test(match[2]) ? match[1] : null;
    }
    return response;
  };
  return { fetch, jar, spoilNextAccessToken: () => (tamperNext = true) };
}

describe('auth client against the real server (e2e)', () => {
  let t: TestApp;
  let baseUrl: string;
  const username = `client-${Date.now()}`;
  const password = 'a sufficiently long password';

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t.close();
  });

  const client = (browser: ReturnType<typeof browserFetch>, options: Partial<AuthClientOptions> = {}): AuthClient =>
    createAuthClient({ baseUrl, fetch: browser.fetch, locks: null, BroadcastChannel: null, ...options });

  it('registers, logs in, survives a refused access token and a page reload, and ends with the session', async () => {
    const browser = browserFetch();
    const onSessionExpired = jest.fn();
    const tab = client(browser, { onSessionExpired });

    await expect(tab.register(username, password)).resolves.toMatchObject({ username });
    const { accessToken } = await tab.login(username, password);
    expect(accessToken).toEqual(expect.any(String));
    expect(browser.jar.refreshToken).toEqual(expect.any(String));
    const me = await tab.fetch(`${baseUrl}/auth/me`);
    expect(me.status).toBe(200);
    await expect(me.json()).resolves.toMatchObject({ username });
    await expect(tab.me()).resolves.toEqual({ id: expect.any(String), username, roles: [] });

    // A refused token: the real challenge says invalid_token, the client refreshes and retries.
    browser.spoilNextAccessToken();
    const firstCookie = browser.jar.refreshToken;
    expect((await tab.fetch(`${baseUrl}/auth/me`)).status).toBe(200);
    expect(tab.getAccessToken()).not.toBe(accessToken);
    expect(browser.jar.refreshToken).not.toBe(firstCookie);

    // A reload: a new client with no token yet, but the cookie, gets in after one refresh.
    const reloaded = client(browser, { onSessionExpired });
    expect((await reloaded.fetch(`${baseUrl}/auth/me`)).status).toBe(200);
    expect(reloaded.getAccessToken()).toEqual(expect.any(String));
    reloaded.close();

    // Logout revokes the session, so a later refresh is refused and reported once.
    const stale = client(browser, { onSessionExpired });
    await stale.refresh();
    await tab.logout();
    expect(browser.jar.refreshToken).toBeNull();
    expect(tab.getAccessToken()).toBeNull();
    await expect(stale.refresh()).resolves.toEqual({ accessToken: null, expiresAt: null });
    expect(onSessionExpired).toHaveBeenCalledTimes(1);
    tab.close();
    stale.close();
  });

  it('admin API: lists, disables and signs out users as the contract says, errors as AuthError', async () => {
    const suffix = Date.now().toString(36);
    const [adminName, memberName] = [`cadmin_${suffix}`, `cmember_${suffix}`];
    const adminBrowser = browserFetch();
    const memberBrowser = browserFetch();
    const adminTab = client(adminBrowser);
    const memberTab = client(memberBrowser);
    await adminTab.register(adminName, password);
    await memberTab.register(memberName, password);
    await t.app.get(UserAdministrationService).grant(adminName, 'admin', { via: 'cli' });
    await memberTab.login(memberName, password);
    await expect(memberTab.admin.listUsers()).rejects.toMatchObject({ name: 'AuthError', status: 403 });
    await adminTab.login(adminName, password);
    await expect(adminTab.me()).resolves.toMatchObject({ username: adminName, roles: ['admin'] });

    const page = await adminTab.admin.listUsers({ q: memberName.toUpperCase(), limit: 5 });
    expect(page).toEqual({
      items: [
        {
          id: expect.any(String),
          username: memberName,
          roles: [],
          createdAt: expect.any(String),
          disabledAt: null,
          activeSessions: 1,
        },
      ],
      next: null,
    });
    const member = page.items[0];
    const me = await adminTab.me();
    await expect(adminTab.admin.getUser(member.id)).resolves.toEqual(member);
    await expect(adminTab.admin.userSessions(member.id)).resolves.toEqual([
      expect.objectContaining({
        id: expect.any(String),
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
      }),
    ]);

    await expect(adminTab.admin.updateUser(me.id, { disabled: true })).rejects.toMatchObject({
      name: 'AuthError',
      status: 409,
      message: expect.stringMatching(/^Updating the user failed: ./),
    });
    await expect(adminTab.admin.getUser('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      status: 404,
    });

    const disabled = await adminTab.admin.updateUser(member.id, { disabled: true });
    expect(disabled).toMatchObject({ id: member.id, disabledAt: expect.any(String), activeSessions: 0 });
    // The member's client: its token is refused, the refresh too, so the call ends in a 401.
    await expect(memberTab.me()).rejects.toMatchObject({ status: 401 });
    await expect(memberTab.login(memberName, password)).rejects.toMatchObject({
      status: 403,
      message: 'Login failed: This account is disabled',
    });

    await expect(adminTab.admin.updateUser(member.id, { disabled: false })).resolves.toMatchObject({
      disabledAt: null,
    });
    await memberTab.login(memberName, password);
    const [session] = await adminTab.admin.userSessions(member.id);
    await expect(adminTab.admin.revokeSession(session.id)).resolves.toBeUndefined();
    await expect(adminTab.admin.revokeSession(session.id)).rejects.toMatchObject({ status: 404 });
    await memberTab.login(memberName, password);
    await expect(adminTab.admin.revokeUserSessions(member.id)).resolves.toBeUndefined();
    await expect(adminTab.admin.getUser(member.id)).resolves.toMatchObject({ activeSessions: 0 });

    const audit = await adminTab.admin.audit({ userId: member.id, type: 'user_disabled', limit: 10 });
    expect(audit.items).toEqual([expect.objectContaining({ type: 'user_disabled', userId: member.id })]);
    adminTab.close();
    memberTab.close();
  });
});

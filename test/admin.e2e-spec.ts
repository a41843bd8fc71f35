import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { UserAdministrationService } from '../src/authz/user-administration.service.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { sessionRow } from './utils/db.js';
import {
  decodeJwt,
  expectErrorBody,
  login,
  me,
  refresh,
  refreshCookie,
  register,
  sleep,
  uniqueUsername,
} from './utils/http.js';

const CLI = { via: 'cli' } as const;
const CHALLENGE = /^Bearer realm="nest-token-auth", error="insufficient_scope", error_description="[^"]+"$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface AdminUser {
  id: string;
  username: string;
  roles: string[];
  createdAt: string;
  disabledAt: string | null;
  activeSessions: number;
}
interface AuditItem {
  id: string;
  type: string;
  userId: string | null;
  sessionId: string | null;
  detail: Record<string, unknown> | null;
}

let t: TestApp;
let administration: UserAdministrationService;
/** The admin every test acts as. */
let admin: { id: string; username: string; accessToken: string; refreshToken: string };

const sidOf = (accessToken: string) => decodeJwt(accessToken).payload.sid as string;
const subOf = (accessToken: string) => decodeJwt(accessToken).payload.sub as string;

/** A request with the admin's access token (or another's). */
function as(req: request.Test, accessToken = admin.accessToken): request.Test {
  return req.set('Authorization', `Bearer ${accessToken}`);
}

/** A user logged in with a session, and their id. */
async function loggedInUser(username?: string) {
  const user = await login(t.server, username);
  return { ...user, id: subOf(user.accessToken) };
}

async function auditOf(userId: string, type?: string): Promise<AuditItem[]> {
  const query = new URLSearchParams({ userId, limit: '100', ...(type ? { type } : {}) });
  return (await as(request(t.server).get(`/admin/audit?${query.toString()}`)).expect(200)).body.items as AuditItem[];
}

/** Polls until `check` holds, for at most `ms`; returns how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await sleep(50);
  }
}

beforeAll(async () => {
  t = await createTestApp();
  administration = t.app.get(UserAdministrationService);
  const { username } = await register(t.server, uniqueUsername('admin'));
  await administration.grant(username, 'admin', CLI);
  const session = await loggedInUser(username);
  expect(decodeJwt(session.accessToken).payload.roles).toEqual(['admin']);
  admin = { id: session.id, username, accessToken: session.accessToken, refreshToken: session.refreshToken };
});
afterAll(async () => {
  await t.close();
});

describe('admin API: who may call it (e2e)', () => {
  const routes = (id: string, sessionId: string): Array<[string, (r: ReturnType<typeof request>) => request.Test]> => [
    ['GET /admin/users', (r) => r.get('/admin/users')],
    ['GET /admin/users/:id', (r) => r.get(`/admin/users/${id}`)],
    ['PATCH /admin/users/:id', (r) => r.patch(`/admin/users/${id}`).send({ disabled: true })],
    ['GET /admin/users/:id/sessions', (r) => r.get(`/admin/users/${id}/sessions`)],
    ['DELETE /admin/users/:id/sessions', (r) => r.delete(`/admin/users/${id}/sessions`)],
    ['DELETE /admin/sessions/:id', (r) => r.delete(`/admin/sessions/${sessionId}`)],
    ['GET /admin/audit', (r) => r.get('/admin/audit')],
  ];

  it('answers 401 without a token and 403 insufficient_scope without the admin role, on every route, changing nothing', async () => {
    const user = await loggedInUser();
    const victim = await loggedInUser();
    for (const [route, send] of routes(victim.id, sidOf(victim.accessToken))) {
      const anonymous = await send(request(t.server));
      expect({ route, status: anonymous.status }).toEqual({ route, status: 401 });
      expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer realm="nest-token-auth"/);
      const refused = await send(request(t.server)).set('Authorization', `Bearer ${user.accessToken}`);
      expect({ route, status: refused.status }).toEqual({ route, status: 403 });
      expect(refused.headers['www-authenticate']).toMatch(CHALLENGE);
      expectErrorBody(refused, 403, 'Forbidden');
    }
    // Nothing happened to the victim.
    await me(t.server, victim.accessToken).expect(200);
    await refresh(t.server, victim.refreshToken).expect(200);
  });

  it('refuses a token whose admin role was removed, within a second, without waiting for it to expire', async () => {
    const other = await register(t.server, uniqueUsername('exadmin'));
    await administration.grant(other.username, 'admin', CLI);
    const exAdmin = await loggedInUser(other.username);
    await as(request(t.server).get('/admin/users'), exAdmin.accessToken).expect(200);
    await as(request(t.server).patch(`/admin/users/${exAdmin.id}`))
      .send({ roles: [] })
      .expect(200);
    await within(
      1000,
      async () => (await as(request(t.server).get('/admin/users'), exAdmin.accessToken)).status === 401,
    );
    const refreshed = await refresh(t.server, exAdmin.refreshToken).expect(200);
    await as(request(t.server).get('/admin/users'), refreshed.body.access_token as string).expect(403);
  });
});

describe('GET /admin/users (e2e)', () => {
  it('pages every user oldest first with a keyset cursor, with roles, disabledAt and active sessions', async () => {
    const a = await loggedInUser();
    await login(t.server, a.username);
    await administration.grant(a.username, 'support', CLI);
    const seen: AdminUser[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = await as(request(t.server).get(`/admin/users${query}`)).expect(200);
      expect(page.headers['cache-control']).toBe('no-store');
      expect((page.body.items as AdminUser[]).length).toBeLessThanOrEqual(2);
      seen.push(...(page.body.items as AdminUser[]));
      cursor = page.body.next as string | null;
      pages += 1;
    } while (cursor && pages < 100);
    expect(pages).toBeGreaterThan(1);
    expect(new Set(seen.map((u) => u.id)).size).toBe(seen.length);
    const times = seen.map((u) => Date.parse(u.createdAt));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(seen.find((u) => u.id === admin.id)).toMatchObject({ username: admin.username, roles: ['admin'] });
    expect(seen.find((u) => u.id === a.id)).toEqual({
      id: a.id,
      username: a.username,
      roles: ['support'],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      disabledAt: null,
      activeSessions: 2,
    });
  });

  it('filters by username prefix in any letter case; % _ and \\ in q are plain characters', async () => {
    const stem = uniqueUsername('Pfx').toLowerCase();
    const underscore = await register(t.server, `${stem}_one`);
    const other = await register(t.server, `${stem}Xone`);
    const upper = await register(t.server, `${stem.toUpperCase()}_TWO`.replace(/^PFX/, 'Pfx'));
    const names = async (q: string) =>
      ((await as(request(t.server).get('/admin/users').query({ q, limit: 100 })).expect(200)).body.items as AdminUser[])
        .map((u) => u.username)
        .sort();
    expect(await names(stem.toUpperCase())).toEqual([underscore.username, other.username, upper.username].sort());
    // Were `_` a wildcard, `Xone` would match too.
    expect(await names(`${stem}_`)).toEqual([underscore.username, upper.username].sort());
    expect(await names(`${stem}%`)).toEqual([]);
    expect(await names('%')).toEqual([]);
    expect(await names('_')).toEqual([]);
    expect(await names('\\')).toEqual([]);
    expect(await names(`${stem}\\`)).toEqual([]);
  });

  it.each([
    ['limit=0', 'limit must not be less than 1'],
    ['limit=101', 'limit must not be greater than 100'],
    ['limit=abc', undefined],
    [`q=${'a'.repeat(65)}`, undefined],
    ['q=%00', 'q must not contain control characters'],
    ['cursor=nonsense', 'cursor is not a cursor this API returned'],
    ['sort=username', undefined],
  ])('answers 400 for %s', async (query, message) => {
    const response = await as(request(t.server).get(`/admin/users?${query}`));
    expectErrorBody(response, 400, 'Bad Request');
    if (message) expect([response.body.message].flat()).toContain(message);
  });
});

describe('GET /admin/users/:id (e2e)', () => {
  it('answers the user as the list shows it', async () => {
    const user = await loggedInUser();
    const found = await as(request(t.server).get(`/admin/users/${user.id}`)).expect(200);
    expect(found.body).toEqual({
      id: user.id,
      username: user.username,
      roles: [],
      createdAt: expect.any(String),
      disabledAt: null,
      activeSessions: 1,
    });
  });

  it.each([UNKNOWN_ID, 'abc', "1' OR '1'='1", 'x'.repeat(90)])('answers 404 for %s', async (id) => {
    const response = await as(request(t.server).get(`/admin/users/${encodeURIComponent(id)}`));
    expectErrorBody(response, 404, 'Not Found');
    expect(response.body.message).toBe('User not found');
  });
});

describe('PATCH /admin/users/:id (e2e)', () => {
  it('sets the whole set of roles (grants the added, revokes the removed), audited with the admin id', async () => {
    const user = await loggedInUser();
    await administration.grant(user.username, 'support', CLI);
    await administration.grant(user.username, 'billing', CLI);
    const changed = await as(request(t.server).patch(`/admin/users/${user.id}`))
      .send({ roles: ['support', 'auditor', 'auditor'] })
      .expect(200);
    expect(changed.headers['cache-control']).toBe('no-store');
    expect(changed.body).toMatchObject({ id: user.id, roles: ['auditor', 'support'], disabledAt: null });
    const events = await auditOf(user.id);
    const by = { via: 'admin', adminId: admin.id };
    expect(events.filter((e) => e.type === 'role_granted' && e.detail?.via === 'admin')).toEqual([
      expect.objectContaining({ userId: user.id, detail: { role: 'auditor', ...by } }),
    ]);
    expect(events.filter((e) => e.type === 'role_revoked')).toEqual([
      expect.objectContaining({ detail: { role: 'billing', ...by } }),
    ]);
    // One cut-off for the whole change.
    expect(events.filter((e) => e.type === 'tokens_cut_off')).toHaveLength(3);
    expect(events.find((e) => e.type === 'tokens_cut_off')!.detail).toMatchObject({ reason: 'role_revoked' });

    // The same set again changes nothing and records nothing.
    const before = (await auditOf(user.id)).length;
    await as(request(t.server).patch(`/admin/users/${user.id}`))
      .send({ roles: ['auditor', 'support'] })
      .expect(200);
    expect(await auditOf(user.id)).toHaveLength(before);
  });

  it("makes the user's old access token 401 within a second; the next refresh succeeds with the new roles", async () => {
    const user = await loggedInUser();
    await me(t.server, user.accessToken).expect(200);
    await as(request(t.server).patch(`/admin/users/${user.id}`))
      .send({ roles: ['support'] })
      .expect(200);
    // The 1 s bar is measured by the CI suites (test:multi, test:resource-servers); npm test runs on
    // busy machines too, so here it only has to happen.
    const took = await within(10_000, async () => (await me(t.server, user.accessToken)).status === 401);
    expect(took).toBeLessThanOrEqual(10_000);
    const refused = await me(t.server, user.accessToken).expect(401);
    expect(refused.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    const refreshed = await refresh(t.server, user.refreshToken).expect(200);
    const token = refreshed.body.access_token as string;
    expect(decodeJwt(token).payload.roles).toEqual(['support']);
    expect((await me(t.server, token).expect(200)).body.roles).toEqual(['support']);
  });

  it('disables a user (all sessions revoked, refresh 401, login 403) and enables them again', async () => {
    const user = await loggedInUser();
    const disabled = await as(request(t.server).patch(`/admin/users/${user.id}`))
      .send({ disabled: true })
      .expect(200);
    expect(disabled.body).toMatchObject({ disabledAt: expect.any(String), activeSessions: 0 });
    await me(t.server, user.accessToken).expect(401);
    await refresh(t.server, user.refreshToken).expect(401);
    await request(t.server).post('/auth/login').send({ username: user.username, password: user.password }).expect(403);
    expect((await auditOf(user.id, 'user_disabled'))[0].detail).toEqual({
      sessionsRevoked: 1,
      via: 'admin',
      adminId: admin.id,
    });

    const enabled = await as(request(t.server).patch(`/admin/users/${user.id}`))
      .send({ disabled: false })
      .expect(200);
    expect(enabled.body.disabledAt).toBeNull();
    await login(t.server, user.username);
    expect((await auditOf(user.id, 'user_enabled'))[0].detail).toEqual({ via: 'admin', adminId: admin.id });
  });

  it('lets an admin disable another admin, and change roles and the disabled state at once', async () => {
    const other = await register(t.server, uniqueUsername('admin'));
    await administration.grant(other.username, 'admin', CLI);
    const otherAdmin = await loggedInUser(other.username);
    const response = await as(request(t.server).patch(`/admin/users/${otherAdmin.id}`))
      .send({ roles: [], disabled: true })
      .expect(200);
    expect(response.body).toMatchObject({ roles: [], disabledAt: expect.any(String) });
    await as(request(t.server).get('/admin/users'), otherAdmin.accessToken).expect(401);
    expect((await auditOf(otherAdmin.id, 'tokens_cut_off')).map((e) => e.detail?.reason)).toContain('user_disabled');
  });

  it('answers 409 when an admin would disable themself or remove their own admin role, and changes nothing', async () => {
    const self = as(request(t.server).patch(`/admin/users/${admin.id}`));
    const disable = await self.send({ disabled: true });
    expectErrorBody(disable, 409, 'Conflict');
    expect(disable.body.message).toBe('You cannot disable your own account');
    const drop = await as(request(t.server).patch(`/admin/users/${admin.id}`)).send({ roles: ['support'] });
    expectErrorBody(drop, 409, 'Conflict');
    expect(drop.body.message).toBe('You cannot remove your own admin role');
    const both = await as(request(t.server).patch(`/admin/users/${admin.id}`)).send({ roles: [], disabled: true });
    expect(both.status).toBe(409);
    const now = await as(request(t.server).get(`/admin/users/${admin.id}`)).expect(200);
    expect(now.body).toMatchObject({ roles: ['admin'], disabledAt: null });
    await as(request(t.server).get('/admin/users')).expect(200);
  });

  it('lets an admin change their own roles while keeping admin', async () => {
    const response = await as(request(t.server).patch(`/admin/users/${admin.id}`))
      .send({ roles: ['admin', 'support'] })
      .expect(200);
    expect(response.body.roles).toEqual(['admin', 'support']);
    // The cut-off reaches the admin's own token too: refresh for one with the new roles.
    await within(1000, async () => (await as(request(t.server).get('/admin/users'))).status === 401);
    const refreshed = await refresh(t.server, admin.refreshToken).expect(200);
    admin.accessToken = refreshed.body.access_token as string;
    admin.refreshToken = refreshCookie(refreshed)!;
    expect(decodeJwt(admin.accessToken).payload.roles).toEqual(['admin', 'support']);
    await as(request(t.server).patch(`/admin/users/${admin.id}`))
      .send({ roles: ['admin'] })
      .expect(200);
    await within(1000, async () => (await as(request(t.server).get('/admin/users'))).status === 401);
    const again = await refresh(t.server, admin.refreshToken).expect(200);
    admin.accessToken = again.body.access_token as string;
    admin.refreshToken = refreshCookie(again)!;
  });

  it.each([
    ['an empty body', {}, 'Nothing to change: give roles, disabled or both'],
    ['nulls only', { roles: null, disabled: null }, 'Nothing to change: give roles, disabled or both'],
    ['a bad role name', { roles: ['Admin'] }, 'each value in roles must match /^[a-z][a-z0-9_-]{0,31}$/'],
    ['a role name too long', { roles: ['a'.repeat(33)] }, undefined],
    ['roles not an array', { roles: 'admin' }, undefined],
    ['a role that is no string', { roles: [7] }, undefined],
    ['too many roles', { roles: Array.from({ length: 33 }, (_, i) => `r${i}`) }, undefined],
    ['disabled not a boolean', { disabled: 'yes' }, undefined],
    ['an unknown field', { disabled: true, admin: true }, undefined],
  ])('answers 400 for %s, changing nothing', async (_label, body, message) => {
    const user = await loggedInUser();
    const response = await as(request(t.server).patch(`/admin/users/${user.id}`)).send(body);
    expectErrorBody(response, 400, 'Bad Request');
    if (message) expect([response.body.message].flat()).toContain(message);
    const after = await as(request(t.server).get(`/admin/users/${user.id}`)).expect(200);
    expect(after.body).toMatchObject({ roles: [], disabledAt: null, activeSessions: 1 });
  });

  it('answers 404 for an unknown or malformed id, and 415 for a body that is not JSON', async () => {
    for (const id of [UNKNOWN_ID, 'abc']) {
      const response = await as(request(t.server).patch(`/admin/users/${id}`)).send({ disabled: true });
      expectErrorBody(response, 404, 'Not Found');
    }
    await as(request(t.server).patch(`/admin/users/${admin.id}`))
      .type('form')
      .send({ disabled: 'true' })
      .expect(415);
  });
});

describe('sessions of a user (e2e)', () => {
  it('lists the active sessions as GET /auth/sessions does, without `current`', async () => {
    const user = await loggedInUser();
    await login(t.server, user.username);
    const own = (await request(t.server).get('/auth/sessions').set('Authorization', `Bearer ${user.accessToken}`))
      .body as Array<Record<string, unknown>>;
    const listed = await as(request(t.server).get(`/admin/users/${user.id}/sessions`)).expect(200);
    expect(listed.headers['cache-control']).toBe('no-store');
    expect(listed.body).toEqual(own.map(({ current: _current, ...session }) => session));
    expect(listed.body).toHaveLength(2);
    expect(Object.keys(listed.body[0] as object).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'userAgent'].sort(),
    );
    for (const id of [UNKNOWN_ID, 'abc'])
      expectErrorBody(await as(request(t.server).get(`/admin/users/${id}/sessions`)), 404, 'Not Found');
  });

  it('revokes them all (204): access tokens 401 at once, refresh 401, audited with the admin id', async () => {
    const user = await loggedInUser();
    const second = await login(t.server, user.username);
    await as(request(t.server).delete(`/admin/users/${user.id}/sessions`)).expect(204);
    await me(t.server, user.accessToken).expect(401);
    await me(t.server, second.accessToken).expect(401);
    await refresh(t.server, user.refreshToken).expect(401);
    await refresh(t.server, second.refreshToken).expect(401);
    expect((await sessionRow(t, sidOf(user.accessToken)))?.revoked_reason).toBe('admin_revoked');
    expect(await as(request(t.server).get(`/admin/users/${user.id}/sessions`)).expect(200)).toMatchObject({ body: [] });
    const [event] = await auditOf(user.id, 'all_sessions_revoked_by_admin');
    expect(event.detail).toEqual({ via: 'admin', adminId: admin.id, sessionsRevoked: 2 });
    // The account itself still works.
    await login(t.server, user.username);
    for (const id of [UNKNOWN_ID, 'abc'])
      expectErrorBody(await as(request(t.server).delete(`/admin/users/${id}/sessions`)), 404, 'Not Found');
  });

  it('DELETE /admin/sessions/:id revokes one session of any user (204), then 404; audited', async () => {
    const user = await loggedInUser();
    const kept = await login(t.server, user.username);
    const sid = sidOf(user.accessToken);
    await as(request(t.server).delete(`/admin/sessions/${sid}`)).expect(204);
    await me(t.server, user.accessToken).expect(401);
    await refresh(t.server, user.refreshToken).expect(401);
    await me(t.server, kept.accessToken).expect(200);
    expect((await sessionRow(t, sid))?.revoked_reason).toBe('admin_revoked');
    const [event] = await auditOf(user.id, 'session_revoked_by_admin');
    expect(event).toMatchObject({ userId: user.id, sessionId: sid, detail: { via: 'admin', adminId: admin.id } });

    for (const id of [sid, UNKNOWN_ID, 'abc', 'x'.repeat(100)]) {
      const response = await as(request(t.server).delete(`/admin/sessions/${id}`));
      expectErrorBody(response, 404, 'Not Found');
      expect(response.body.message).toBe('Session not found');
    }
  });
});

describe('GET /admin/audit (e2e)', () => {
  it("lists every user's events newest first, filtered by user and type, paged with a cursor", async () => {
    const a = await loggedInUser();
    const b = await loggedInUser();
    const all = (await as(request(t.server).get('/admin/audit?limit=100')).expect(200)).body.items as AuditItem[];
    expect(all.map((e) => e.userId)).toEqual(expect.arrayContaining([a.id, b.id, admin.id]));
    // As /auth/audit shows an event, and whose it is.
    expect(Object.keys(all[0]).sort()).toEqual(
      ['createdAt', 'detail', 'id', 'ip', 'sessionId', 'type', 'userAgent', 'userId'].sort(),
    );

    const logins = await auditOf(a.id, 'login_success');
    expect(logins).toHaveLength(1);
    expect(logins[0]).toMatchObject({ userId: a.id, sessionId: sidOf(a.accessToken) });
    const everyonesLogins = (await as(request(t.server).get('/admin/audit?type=login_success&limit=100')).expect(200))
      .body.items as AuditItem[];
    expect(new Set(everyonesLogins.map((e) => e.type))).toEqual(new Set(['login_success']));
    expect(everyonesLogins.map((e) => e.userId)).toEqual(expect.arrayContaining([a.id, b.id]));

    // The same list, two at a time.
    const paged: AuditItem[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ type: 'login_success', limit: '2', ...(cursor ? { cursor } : {}) });
      const page = await as(request(t.server).get(`/admin/audit?${query.toString()}`)).expect(200);
      paged.push(...(page.body.items as AuditItem[]));
      cursor = page.body.next as string | null;
    } while (cursor);
    expect(paged.map((e) => e.id)).toEqual(everyonesLogins.map((e) => e.id));
  });

  it('answers the user their own events at /auth/audit as before, and the admin ones among them', async () => {
    const user = await loggedInUser();
    await as(request(t.server).patch(`/admin/users/${user.id}`))
      .send({ roles: ['support'] })
      .expect(200);
    await within(1000, async () => (await me(t.server, user.accessToken)).status === 401);
    const refreshed = await refresh(t.server, user.refreshToken).expect(200);
    const own = await request(t.server)
      .get('/auth/audit')
      .set('Authorization', `Bearer ${refreshed.body.access_token as string}`)
      .expect(200);
    expect((own.body.items as AuditItem[]).map((e) => e.type)).toEqual(
      expect.arrayContaining(['role_granted', 'tokens_cut_off', 'login_success']),
    );
    expect(own.body.items[0]).not.toHaveProperty('userId');
  });

  it.each([
    ['type=nope', 'type must be an audit event type'],
    ['userId=abc', 'userId must be a user id (UUID)'],
    ['limit=0', 'limit must not be less than 1'],
    ['cursor=bm9wZQ', 'cursor is not a cursor this API returned'],
  ])('answers 400 for %s', async (query, message) => {
    const response = await as(request(t.server).get(`/admin/audit?${query.toString()}`));
    expectErrorBody(response, 400, 'Bad Request');
    expect([response.body.message].flat()).toContain(message);
  });
});

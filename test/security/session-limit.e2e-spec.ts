import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { decodeJwt, sleep } from '../utils/http.js';
import {
  bearer,
  expectAccessTokenDies,
  expectAccessTokenWorks,
  expectRefreshTokenDead,
  loginAs,
  newUser,
  refreshWith,
  type Login,
} from './security-helpers.js';

/** Issue 10 item 3: a login beyond MAX_SESSIONS_PER_USER revokes the user's least recently used session. */
describe('MAX_SESSIONS_PER_USER (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ MAX_SESSIONS_PER_USER: '3' });
  });
  afterAll(async () => {
    await t.close();
  });

  const sessionIds = async (accessToken: string): Promise<string[]> =>
    ((await bearer(t.server, 'get', '/auth/sessions', accessToken).expect(200)).body as Array<{ id: string }>)
      .map((s) => s.id)
      .sort();

  const auditOf = async (accessToken: string) =>
    (await bearer(t.server, 'get', '/auth/audit?limit=100', accessToken).expect(200)).body.items as Array<{
      type: string;
      sessionId: string | null;
      detail: Record<string, unknown> | null;
    }>;

  it('revokes the least recently used session, not the oldest, and audits it', async () => {
    const first = await newUser(t.server, 'limit', 'device-1');
    await sleep(3);
    const second = await loginAs(t.server, first.username, first.password, 'device-2');
    await sleep(3);
    const third = await loginAs(t.server, first.username, first.password, 'device-3');
    await sleep(3);
    // The first device refreshes: now the second is the least recently used.
    const refreshed = await refreshWith(t.server, first.refreshToken).expect(200);
    await sleep(3);

    const fourth = await loginAs(t.server, first.username, first.password, 'device-4');

    await expectRefreshTokenDead(t.server, second.refreshToken, 'the evicted session’s refresh token');
    await expectAccessTokenDies(t.server, second.accessToken, 'the evicted session’s access token');
    await expectAccessTokenWorks(t.server, refreshed.body.access_token as string, 'the recently used first session');
    await expectAccessTokenWorks(t.server, third.accessToken, 'the third session');
    expect(await sessionIds(fourth.accessToken)).toEqual([first.sid, third.sid, fourth.sid].sort());

    const [latest] = await auditOf(fourth.accessToken);
    expect(latest).toMatchObject({
      type: 'session_evicted',
      sessionId: second.sid,
      detail: { bySessionId: fourth.sid },
    });
  });

  it('holds through the password grant and many logins: never more than the limit live', async () => {
    const user = await newUser(t.server, 'many');
    const logins: Login[] = [user];
    for (let i = 0; i < 6; i++) logins.push(await loginAs(t.server, user.username, user.password));
    const token = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', username: user.username, password: user.password })
      .expect(200);

    // The newest two cookie logins and the grant survive; everything before them was evicted.
    const grantSid = decodeJwt(token.body.access_token as string).payload.sid as string;
    expect(await sessionIds(token.body.access_token as string)).toEqual(
      [...logins.slice(-2).map((l) => l.sid), grantSid].sort(),
    );
    for (const old of logins.slice(0, -2)) await expectRefreshTokenDead(t.server, old.refreshToken);
    const evicted = (await auditOf(token.body.access_token as string)).filter((e) => e.type === 'session_evicted');
    expect(evicted.map((e) => e.sessionId).sort()).toEqual(
      logins
        .slice(0, -2)
        .map((l) => l.sid)
        .sort(),
    );
  });

  it('does not count sessions that already ended', async () => {
    const user = await newUser(t.server, 'ended');
    const second = await loginAs(t.server, user.username, user.password);
    const third = await loginAs(t.server, user.username, user.password);
    await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${user.refreshToken}`).expect(204);
    // Three logins, one of them logged out: the fourth fits without evicting anyone.
    const fourth = await loginAs(t.server, user.username, user.password);
    await expectAccessTokenWorks(t.server, second.accessToken);
    expect(await sessionIds(fourth.accessToken)).toEqual([second.sid, third.sid, fourth.sid].sort());
    expect((await auditOf(fourth.accessToken)).map((e) => e.type)).not.toContain('session_evicted');
  });
});

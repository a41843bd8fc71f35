import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { expectErrorBody, refreshCookie, register, sleep, uniqueUsername } from '../utils/http.js';
import { bearer, expectNoneOf, loginAs, revokeAtEndpoint, tokenMaterialIn, type Login } from './security-helpers.js';

const UA = 'audit-agent/1.0';
const PASSWORD = 'first passphrase!';
const NEW_PASSWORD = 'second passphrase!';
const WRONG = ['wrong guess one', 'wrong guess two', 'wrong guess three'];

interface AuditItem {
  id: string;
  type: string;
  createdAt: string;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}

interface AuditPage {
  items: AuditItem[];
  next: string | null;
}

describe('GET /auth/audit (e2e)', () => {
  let t: TestApp;
  /** Every secret the scripted history handled; none may appear in any audit response. */
  const secrets: string[] = [PASSWORD, NEW_PASSWORD, ...WRONG];
  /** The scripted history's expected events, newest first. */
  let expected: Array<{ type: string; sessionId: string | null; detail: Record<string, unknown> | null }>;
  let reader: Login;

  const page = async (accessToken: string, query = ''): Promise<AuditPage> => {
    const response = await bearer(t.server, 'get', `/auth/audit${query}`, accessToken).set('User-Agent', UA);
    expect(response.status).toBe(200);
    expectNoneOf(response.text, secrets);
    return response.body as AuditPage;
  };

  const allEvents = async (accessToken: string) => (await page(accessToken, '?limit=100')).items;

  // Each step is a separate request a few ms after the previous one, so event times are distinct
  // and "newest first" has exactly one right answer.
  const step = async <T>(action: () => Promise<T>): Promise<T> => {
    const result = await action();
    await sleep(3);
    return result;
  };

  const login = (username: string, password: string) => step(() => loginAs(t.server, username, password, UA));
  const failLogin = (username: string, password: string) =>
    step(() => request(t.server).post('/auth/login').set('User-Agent', UA).send({ username, password }));

  beforeAll(async () => {
    t = await createTestApp({
      REFRESH_REUSE_GRACE: '0',
      LOGIN_MAX_FAILURES_PER_USER: '3',
      LOGIN_MAX_FAILURES_PER_IP: '1000',
    });

    const { username } = await register(t.server, uniqueUsername('audited'), PASSWORD);

    const s1 = await login(username, PASSWORD);
    expect((await failLogin(username, WRONG[0])).status).toBe(401);
    const rotated = await step(() =>
      request(t.server).post('/auth/refresh').set('User-Agent', UA).set('Cookie', `refresh_token=${s1.refreshToken}`),
    );
    expect(rotated.status).toBe(200);
    // REFRESH_REUSE_GRACE=0: replaying the used token is reuse, and revokes s1.
    const replay = await step(() =>
      request(t.server).post('/auth/refresh').set('User-Agent', UA).set('Cookie', `refresh_token=${s1.refreshToken}`),
    );
    expect(replay.status).toBe(401);

    const s2 = await login(username, PASSWORD);
    const s3 = await login(username, PASSWORD);
    await step(() =>
      bearer(t.server, 'delete', `/auth/sessions/${s3.sid}`, s2.accessToken).set('User-Agent', UA).expect(204),
    );
    await step(() =>
      bearer(t.server, 'post', '/auth/password', s2.accessToken)
        .set('User-Agent', UA)
        .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
        .expect(204),
    );
    await step(() =>
      request(t.server)
        .post('/auth/logout')
        .set('User-Agent', UA)
        .set('Cookie', `refresh_token=${s2.refreshToken}`)
        .expect(204),
    );

    const s4 = await login(username, NEW_PASSWORD);
    await step(() => bearer(t.server, 'post', '/auth/logout-all', s4.accessToken).set('User-Agent', UA).expect(204));

    reader = await login(username, NEW_PASSWORD);
    expect((await failLogin(username, WRONG[1])).status).toBe(401);
    expect((await failLogin(username, WRONG[2])).status).toBe(401);
    // Third failure reached LOGIN_MAX_FAILURES_PER_USER: even the right password is throttled now.
    expect((await failLogin(username, NEW_PASSWORD)).status).toBe(429);

    for (const s of [s1, s2, s3, s4, reader]) secrets.push(s.accessToken, s.refreshToken);
    secrets.push(refreshCookie(rotated)!, rotated.body.access_token as string);

    expected = [
      {
        type: 'login_throttled',
        sessionId: null,
        detail: { retryAfter: expect.any(Number), count: 1, distinctIps: 1, ipSample: '127.0.0.1' },
      },
      { type: 'login_failure', sessionId: null, detail: null },
      { type: 'login_failure', sessionId: null, detail: null },
      { type: 'login_success', sessionId: reader.sid, detail: null },
      { type: 'logout_all', sessionId: s4.sid, detail: { sessionsRevoked: 1 } },
      { type: 'login_success', sessionId: s4.sid, detail: null },
      { type: 'logout', sessionId: s2.sid, detail: null },
      { type: 'password_changed', sessionId: s2.sid, detail: { otherSessionsRevoked: 0 } },
      { type: 'session_revoked', sessionId: s3.sid, detail: { bySessionId: s2.sid } },
      { type: 'login_success', sessionId: s3.sid, detail: null },
      { type: 'login_success', sessionId: s2.sid, detail: null },
      { type: 'refresh_token_reuse', sessionId: s1.sid, detail: { sessionRevoked: true } },
      // The successful refresh before it is no event of its own: the session's last use records it.
      { type: 'login_failure', sessionId: null, detail: null },
      { type: 'login_success', sessionId: s1.sid, detail: null },
    ];
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists the account’s events newest first, with type, session and detail', async () => {
    const items = await allEvents(reader.accessToken);
    expect(items.map(({ type, sessionId, detail }) => ({ type, sessionId, detail }))).toEqual(expected);
  });

  it('gives every event exactly the documented fields, with client ip and user agent', async () => {
    const items = await allEvents(reader.accessToken);
    const times = items.map((e) => Date.parse(e.createdAt));
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['createdAt', 'detail', 'id', 'ip', 'sessionId', 'type', 'userAgent']);
      expect(item).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: expect.any(String),
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        sessionId: item.sessionId === null ? null : expect.stringMatching(/^[0-9a-f-]{36}$/),
        ip: expect.stringMatching(/127\.0\.0\.1$/),
        userAgent: UA,
        detail: item.detail === null ? null : expect.any(Object),
      });
    }
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(new Set(items.map((e) => e.id)).size).toBe(items.length);
  });

  it('keeps tokens and passwords out of every event', async () => {
    const response = await bearer(t.server, 'get', '/auth/audit?limit=100', reader.accessToken);
    expect(tokenMaterialIn(response.body)).toEqual([]);
    expectNoneOf(response.text, secrets);
    for (const item of (response.body as AuditPage).items) {
      for (const [key, value] of Object.entries(item.detail ?? {})) {
        expect({ key, value: typeof value }).toEqual({
          key,
          value: expect.stringMatching(/^(number|boolean|string)$/),
        });
        expect(key).not.toMatch(/token|password|secret|hash/i);
      }
    }
  });

  it('walks every event with ?limit=2 and the next cursor, in order, without duplicates', async () => {
    const all = (await allEvents(reader.accessToken)).map((e) => e.id);
    const walked: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const current: AuditPage = await page(reader.accessToken, query);
      expect(current.items.length).toBeLessThanOrEqual(2);
      expect(current.items.length).toBeGreaterThan(0);
      walked.push(...current.items.map((e) => e.id));
      cursor = current.next;
      pages += 1;
      expect(pages).toBeLessThanOrEqual(all.length);
    } while (cursor);
    expect(walked).toEqual(all);
    expect(new Set(walked).size).toBe(walked.length);
    expect(pages).toBe(Math.ceil(all.length / 2));
  });

  it('pages correctly through events that share one timestamp (the cursor breaks ties by id)', async () => {
    const { username } = await register(t.server, uniqueUsername('ties'), PASSWORD);
    const user = await loginAs(t.server, username, PASSWORD, UA);
    // HTTP cannot make events land in the same millisecond on demand, so these are written directly.
    const at = Date.now() - 60_000;
    const tied = Array.from({ length: 7 }, () => randomUUID());
    const dataSource = t.app.get(DataSource);
    const p = dataSource.options.type === 'postgres' ? ['$1', '$2', '$3', '$4'] : ['?', '?', '?', '?'];
    for (const id of tied) {
      await dataSource.query(
        `INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at) VALUES (${p[0]}, ${p[1]}, NULL, ${p[2]}, NULL, NULL, NULL, ${p[3]})`,
        [id, user.sub, 'login_failure', at],
      );
    }
    const all = (await allEvents(user.accessToken)).map((e) => e.id);
    expect(all).toEqual(expect.arrayContaining(tied));
    expect(all).toHaveLength(tied.length + 1);

    for (const limit of [1, 2, 3]) {
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const current: AuditPage = await page(
          user.accessToken,
          `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        walked.push(...current.items.map((e) => e.id));
        cursor = current.next;
        expect(walked.length).toBeLessThanOrEqual(all.length);
      } while (cursor);
      expect({ limit, walked }).toEqual({ limit, walked: all });
    }
  });

  it('defaults to 20 items and returns next: null on the last page', async () => {
    const first = await page(reader.accessToken);
    expect(first.items).toHaveLength(expected.length);
    expect(first.next).toBeNull();
  });

  it.each([
    ['limit=0', '?limit=0'],
    ['limit=101', '?limit=101'],
    ['limit=abc', '?limit=abc'],
    ['limit=-1', '?limit=-1'],
    ['limit=1.5', '?limit=1.5'],
    ['a repeated limit', '?limit=1&limit=2'],
    ['a garbage cursor', '?cursor=garbage'],
    ['a cursor of punctuation', `?cursor=${encodeURIComponent('!!!!')}`],
    ['a cursor without an id', `?cursor=${Buffer.from('1700000000000').toString('base64url')}`],
    ['a cursor with a non-numeric time', `?cursor=${Buffer.from('yesterday:abc').toString('base64url')}`],
    ['an over-long cursor', `?cursor=${'A'.repeat(300)}`],
    ['an unknown parameter (e.g. someone else’s userId)', '?userId=00000000-0000-0000-0000-000000000000'],
  ])('answers 400 for %s', async (_label, query) => {
    const response = await bearer(t.server, 'get', `/auth/audit${query}`, reader.accessToken);
    expectErrorBody(response, 400, 'Bad Request');
  });

  it('requires a bearer token', async () => {
    expectErrorBody(await request(t.server).get('/auth/audit'), 401, 'Unauthorized');
  });

  it('never shows one user’s events to another, nor events for unknown usernames to anyone', async () => {
    const mine = await allEvents(reader.accessToken);
    const { username } = await register(t.server, uniqueUsername('neighbour'), PASSWORD);
    const other = await loginAs(t.server, username, PASSWORD, 'neighbour-agent');
    await request(t.server)
      .post('/auth/login')
      .set('User-Agent', 'neighbour-agent')
      .send({ username, password: WRONG[0] })
      .expect(401);
    await request(t.server)
      .post('/auth/login')
      .set('User-Agent', 'ghost-agent')
      .send({ username: uniqueUsername('ghost'), password: WRONG[0] })
      .expect(401);

    const theirs = await allEvents(other.accessToken);
    expect(theirs.map((e) => e.type)).toEqual(['login_failure', 'login_success']);
    expect(theirs.every((e) => e.userAgent === 'neighbour-agent')).toBe(true);
    const mineIds = new Set(mine.map((e) => e.id));
    expect(theirs.filter((e) => mineIds.has(e.id))).toEqual([]);

    const mineAfter = await allEvents(reader.accessToken);
    expect(mineAfter.map((e) => e.id)).toEqual(mine.map((e) => e.id));

    // The reader's cursor, replayed by the neighbour, still pages only the neighbour's events.
    const firstPage = await page(reader.accessToken, '?limit=1');
    const borrowed = await page(other.accessToken, `?limit=100&cursor=${encodeURIComponent(firstPage.next!)}`);
    expect(borrowed.items.filter((e) => mineIds.has(e.id))).toEqual([]);
  });

  it('records POST /auth/revoke as session_revoked for the token’s owner only', async () => {
    const { username } = await register(t.server, uniqueUsername('revoked'), PASSWORD);
    const victim = await loginAs(t.server, username, PASSWORD);
    const keeper = await loginAs(t.server, username, PASSWORD);
    await revokeAtEndpoint(t.server, victim.refreshToken).expect(200);

    const [latest] = await allEvents(keeper.accessToken);
    expect(latest).toMatchObject({
      type: 'session_revoked',
      sessionId: victim.sid,
      detail: { via: 'revocation_endpoint' },
    });
    expect((await allEvents(reader.accessToken)).map((e) => e.sessionId)).not.toContain(victim.sid);
  });
});

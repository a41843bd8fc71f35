import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuditPurgeTask } from '../../src/audit/audit-purge.task.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, register, uniqueUsername } from '../utils/http.js';
import { bearer, loginAs, refreshWith } from './security-helpers.js';

const WRONG = 'wrong password!';
/** What an attacker puts in every request: the longest User-Agent we would otherwise store. */
const LONG_UA = `flood/${'x'.repeat(506)}`;
const DAY_MS = 86_400_000;

interface AuditItem {
  type: string;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * Issue 10 item 4: refused logins do not fill the disk and the victim's audit log. One
 * login_throttled row per username and throttle window, whatever the number of addresses,
 * carrying a count, the number of distinct addresses and a sample of them; User-Agents
 * truncated; routine refreshes not audited; old events purged after AUDIT_RETENTION, with their
 * address lists.
 */
describe('audit volume under refused logins (e2e)', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const rowCount = async () =>
    Number((await t!.app.get(DataSource).query('SELECT COUNT(*) AS n FROM audit_events'))[0].n);
  const sourceCount = async () =>
    Number((await t!.app.get(DataSource).query('SELECT COUNT(*) AS n FROM audit_event_sources'))[0].n);

  const attempt = (username: string, password = WRONG, userAgent = LONG_UA) =>
    request(t!.server).post('/auth/login').set('User-Agent', userAgent).send({ username, password });

  /** `total` requests, `parallel` at a time; returns how many got each status. */
  async function flood(
    total: number,
    parallel: number,
    send: (i: number) => request.Test,
  ): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {};
    for (let sent = 0; sent < total; sent += parallel) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(parallel, total - sent) }, (_, i) => send(sent + i)),
      );
      for (const r of batch) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
    return statuses;
  }

  const eventsOf = async (accessToken: string) =>
    (await bearer(t!.server, 'get', '/auth/audit?limit=100', accessToken).expect(200)).body.items as AuditItem[];

  it('adds at most 2 rows for 1,000 refused logins against one username', async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '2' });
    const { username } = await register(t.server, uniqueUsername('victim'));
    expect((await attempt(username)).status).toBe(401);
    expect((await attempt(username)).status).toBe(401);
    const before = await rowCount();

    // In parallel batches: on PostgreSQL, concurrent refusals race for the same row.
    expect(await flood(1000, 25, () => attempt(username))).toEqual({ 429: 1000 });

    expect((await rowCount()) - before).toBeLessThanOrEqual(2);
  });

  it('shows the victim one counted login_throttled event with the User-Agent cut to 256 characters', async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '2' });
    const { username } = await register(t.server, uniqueUsername('victim'));
    // The victim's own session, opened before the attack, to read the log with.
    const victim = await loginAs(t.server, username);
    for (let i = 0; i < 2; i++) expect((await attempt(username)).status).toBe(401);
    expect(await flood(300, 20, () => attempt(username))).toEqual({ 429: 300 });

    const events = await eventsOf(victim.accessToken);
    expect(events.filter((e) => e.type !== 'login_throttled').map((e) => e.type)).toEqual([
      'login_failure',
      'login_failure',
      'login_success',
    ]);
    // One row, or two if the run straddled the boundary of a throttle window.
    const throttled = events.filter((e) => e.type === 'login_throttled');
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(throttled.length).toBeLessThanOrEqual(2);
    expect(throttled.reduce((n, e) => n + Number(e.detail?.count), 0)).toBe(300);
    expect(throttled[0].detail).toEqual({
      retryAfter: expect.any(Number),
      count: expect.any(Number),
      distinctIps: 1,
      ipSample: '127.0.0.1',
    });
    for (const event of events.filter((e) => e.type !== 'login_success')) {
      expect(event.userAgent).toBe(LONG_UA.slice(0, 256));
    }
  });

  it('adds at most 2 rows for 1,000 refused logins against one username from 200 addresses, counting and sampling them', async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '2', TRUST_PROXY: 'true' });
    const { username } = await register(t.server, uniqueUsername('victim'));
    const victim = await loginAs(t.server, username);
    for (let i = 0; i < 2; i++) expect((await attempt(username)).status).toBe(401);
    const before = await rowCount();
    const sourcesBefore = await sourceCount();

    // 200 IPv4 addresses, and IPv6 addresses spread over one /64 (which count as one).
    const address = (i: number) =>
      i % 5 === 4 ? `2001:db8:77:1:${i.toString(16)}::1` : `198.51.${Math.floor(i / 250)}.${i % 250}`;
    const addresses = new Set(
      Array.from({ length: 1000 }, (_, i) => (i % 5 === 4 ? '2001:db8:77:1::/64' : address(i % 250))),
    );
    expect(await flood(1000, 25, (i) => attempt(username).set('X-Forwarded-For', address(i % 250)))).toEqual({
      429: 1000,
    });

    expect((await rowCount()) - before).toBeLessThanOrEqual(2);
    const throttled = (await eventsOf(victim.accessToken)).filter((e) => e.type === 'login_throttled');
    expect(throttled.reduce((n, e) => n + Number(e.detail?.count), 0)).toBe(1000);
    // One row per window: each lists its own addresses (both rows if the run straddled a boundary).
    const distinct = throttled.map((e) => Number(e.detail?.distinctIps));
    expect(Math.max(...distinct)).toBeLessThanOrEqual(addresses.size);
    expect(distinct.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(addresses.size);
    for (const event of throttled) {
      const sample = String(event.detail?.ipSample).split(',');
      expect(sample.length).toBeLessThanOrEqual(10);
      for (const ip of sample) expect(addresses.has(ip)).toBe(true);
    }
    expect((await sourceCount()) - sourcesBefore).toBe(distinct.reduce((a, b) => a + b, 0));
  });

  it('counts at most 1,000 addresses per row (the sources listed stop there too)', async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '1', TRUST_PROXY: 'true' });
    const { username } = await register(t.server, uniqueUsername('victim'));
    const victim = await loginAs(t.server, username);
    expect((await attempt(username)).status).toBe(401);
    // 1,100 distinct addresses, from TEST-NET blocks.
    const address = (i: number) => `10.${Math.floor(i / 250)}.${i % 250}.1`;
    expect(await flood(1100, 25, (i) => attempt(username).set('X-Forwarded-For', address(i)))).toEqual({ 429: 1100 });
    const throttled = (await eventsOf(victim.accessToken)).filter((e) => e.type === 'login_throttled');
    for (const event of throttled) expect(Number(event.detail?.distinctIps)).toBeLessThanOrEqual(1000);
    expect(await sourceCount()).toBeLessThanOrEqual(1000 * throttled.length);
    expect(throttled.reduce((n, e) => n + Number(e.detail?.count), 0)).toBe(1100);
  });

  it('adds at most 2 rows when a blocked address sprays made-up usernames', async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_IP: '3' });
    for (let i = 0; i < 3; i++) expect((await attempt(uniqueUsername('ghost'))).status).toBe(401);
    const before = await rowCount();
    expect(await flood(300, 25, () => attempt(uniqueUsername('ghost')))).toEqual({ 429: 300 });
    expect((await rowCount()) - before).toBeLessThanOrEqual(2);
  });

  it('keeps one row per username: each attacked account still sees its own refusals', async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '1', LOGIN_MAX_FAILURES_PER_IP: '1000' });
    const a = await register(t.server, uniqueUsername('alice'));
    const b = await register(t.server, uniqueUsername('bob'));
    const [sessionA, sessionB] = [await loginAs(t.server, a.username), await loginAs(t.server, b.username)];
    for (const { username } of [a, b]) expect((await attempt(username)).status).toBe(401);
    expect(await flood(40, 10, (i) => attempt(i % 2 ? a.username : b.username))).toEqual({ 429: 40 });

    for (const session of [sessionA, sessionB]) {
      const throttled = (await eventsOf(session.accessToken)).filter((e) => e.type === 'login_throttled');
      expect(throttled.reduce((n, e) => n + Number(e.detail?.count), 0)).toBe(20);
    }
  });

  it('does not audit routine refreshes (the session’s last use records them), but still logins and reuse', async () => {
    t = await createTestApp({ REFRESH_REUSE_GRACE: '0' });
    const { username } = await register(t.server, uniqueUsername('refresher'));
    const session = await loginAs(t.server, username);
    let token = session.refreshToken;
    const used: string[] = [];
    for (let i = 0; i < 5; i++) {
      const refreshed = await refreshWith(t.server, token).expect(200);
      used.push(token);
      token = /refresh_token=([^;]+)/.exec(String(refreshed.headers['set-cookie']))![1];
    }
    const other = await loginAs(t.server, username);
    expect((await eventsOf(other.accessToken)).map((e) => e.type)).toEqual(['login_success', 'login_success']);
    const sessions = (await bearer(t.server, 'get', '/auth/sessions', other.accessToken).expect(200)).body as Array<{
      id: string;
      createdAt: string;
      lastUsedAt: string;
    }>;
    const refreshed = sessions.find((s) => s.id === session.sid)!;
    expect(Date.parse(refreshed.lastUsedAt)).toBeGreaterThan(Date.parse(refreshed.createdAt));

    await refreshWith(t.server, used[0]).expect(401);
    expect((await eventsOf(other.accessToken)).map((e) => e.type)).toEqual([
      'refresh_token_reuse',
      'login_success',
      'login_success',
    ]);
  });

  describe('AUDIT_RETENTION', () => {
    async function insertEvents(count: number, createdAt: number, userId: string): Promise<void> {
      const dataSource = t!.app.get(DataSource);
      const p = dataSource.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
      for (let i = 0; i < count; i += 100) {
        const rows = Array.from({ length: Math.min(100, count - i) }, () => [
          randomUUID(),
          userId,
          'login_failure',
          createdAt,
        ]);
        const values = rows.map(
          (_, r) => `(${p(r * 4 + 1)}, ${p(r * 4 + 2)}, NULL, ${p(r * 4 + 3)}, NULL, NULL, NULL, ${p(r * 4 + 4)})`,
        );
        await dataSource.query(
          `INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at) VALUES ${values.join(', ')}`,
          rows.flat(),
        );
      }
    }

    it('purges events older than the retention in the hourly task, in batches, and keeps newer ones', async () => {
      t = await createTestApp({ AUDIT_RETENTION: '30d' });
      const { username } = await register(t.server, uniqueUsername('retained'));
      const session = await loginAs(t.server, username);
      await insertEvents(2500, Date.now() - 31 * DAY_MS, session.sub);
      await insertEvents(3, Date.now() - 29 * DAY_MS, session.sub);
      expect(await rowCount()).toBe(2504);

      await t.app.get(AuditPurgeTask).purge();

      expect(await rowCount()).toBe(4);
      expect((await eventsOf(session.accessToken)).map((e) => e.type)).toEqual([
        'login_success',
        'login_failure',
        'login_failure',
        'login_failure',
      ]);
    });

    it('purges the address list (audit_event_sources) of a purged login_throttled row with it, and keeps a newer row’s', async () => {
      t = await createTestApp({ AUDIT_RETENTION: '30d', LOGIN_MAX_FAILURES_PER_USER: '1', TRUST_PROXY: 'true' });
      const { username } = await register(t.server, uniqueUsername('retained'));
      const session = await loginAs(t.server, username);
      expect((await attempt(username)).status).toBe(401);
      for (let i = 0; i < 30; i++)
        expect((await attempt(username).set('X-Forwarded-For', `203.0.113.${i}`)).status).toBe(429);
      expect(await sourceCount()).toBe(30);
      const dataSource = t.app.get(DataSource);
      // That row ages past the retention; a second one, made by a later window's refusals, does not.
      await dataSource.query(
        `UPDATE audit_events SET created_at = ${Date.now() - 31 * DAY_MS} WHERE type = 'login_throttled'`,
      );
      const newer = 'x'.repeat(43);
      await dataSource.query(
        `INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences, distinct_ips, ip_sample)
         VALUES ('${randomUUID()}', '${session.sub}', NULL, 'login_throttled', NULL, NULL, NULL, ${Date.now()}, '${newer}', 2, 2, '192.0.2.1,192.0.2.2')`,
      );
      await dataSource.query(
        `INSERT INTO audit_event_sources (dedupe_key, source) VALUES ('${newer}', '192.0.2.1'), ('${newer}', '192.0.2.2')`,
      );

      await t.app.get(AuditPurgeTask).purge();

      expect(await sourceCount()).toBe(2);
      const throttled = (await eventsOf(session.accessToken)).filter((e) => e.type === 'login_throttled');
      expect(throttled.map((e) => e.detail)).toEqual([{ count: 2, distinctIps: 2, ipSample: '192.0.2.1,192.0.2.2' }]);
    });

    it('defaults to 90 days', async () => {
      t = await createTestApp();
      const { username } = await register(t.server, uniqueUsername('retained'));
      const session = await loginAs(t.server, username, DEFAULT_PASSWORD);
      await insertEvents(2, Date.now() - 91 * DAY_MS, session.sub);
      await insertEvents(1, Date.now() - 89 * DAY_MS, session.sub);
      await t.app.get(AuditPurgeTask).purge();
      expect(await rowCount()).toBe(2);
    });
  });
});

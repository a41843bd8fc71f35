import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { AuthServerClient } from '../resource-server/src/auth-server-client.js';
import { RevocationFeed } from '../resource-server/src/revocation-feed.js';
import { RevocationList } from '../resource-server/src/revocation-list.js';
import { UserAdministrationService } from '../src/authz/user-administration.service.js';
import { ClientsService } from '../src/clients/clients.service.js';
import { RevocationEventRepository } from '../src/revocations/revocation-event.repository.js';
import { MAX_STREAMS_PER_CLIENT, RevocationFeedService } from '../src/revocations/revocation-feed.service.js';
import { RevocationPurgeTask } from '../src/revocations/revocation-purge.task.js';
import { SIGNING_MARGIN_S } from '../src/revocations/revocation-horizon.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { DEFAULT_PASSWORD, decodeJwt, login, refresh, sleep, waitFor } from './utils/http.js';
import { basicAuth, FeedStream, listen } from './utils/revocation-feed-client.js';

const TTL = 900;
const CLI = { via: 'cli' } as const;

interface Item {
  id: string;
  sid?: string;
  sub: string;
  notBefore?: number;
  until: number;
}

let t: TestApp;
let baseUrl: string;
let auth: string;

function poll(since?: string) {
  const query = since === undefined ? '' : `?since=${encodeURIComponent(since)}`;
  return request(t.server).get(`/auth/revocations${query}`).set('Authorization', auth);
}

/** Every entry after `cursor`, page after page, and the cursor to ask from next. */
async function entriesAfter(cursor: string): Promise<{ items: Item[]; next: string }> {
  const items: Item[] = [];
  let next = cursor;
  for (;;) {
    const page = await poll(next).expect(200);
    items.push(...(page.body.items as Item[]));
    next = page.body.next as string;
    if (!page.body.items.length) return { items, next };
  }
}

/** The cursor after everything there is now. */
async function headCursor(): Promise<string> {
  return (await entriesAfter('0')).next;
}

const claims = (accessToken: string) =>
  decodeJwt(accessToken).payload as { sid: string; sub: string; exp: number; iat: number };

/** The entry of a revoked session: its `until` covers the token's `exp`, and not by much more than the signing margin. */
function expectSessionEntry(item: Item | undefined, accessToken: string): void {
  const { sid, sub, exp } = claims(accessToken);
  expect(item).toEqual({ id: expect.stringMatching(/^\d+$/), sid, sub, until: expect.any(Number) });
  expect(item!.until).toBeGreaterThanOrEqual(exp);
  expect(item!.until).toBeLessThanOrEqual(exp + SIGNING_MARGIN_S + 2);
}

describe('GET /auth/revocations: the revocation feed (e2e)', () => {
  beforeAll(async () => {
    t = await createTestApp({ ACCESS_TOKEN_TTL: `${TTL}s`, REFRESH_REUSE_GRACE: '0', MAX_SESSIONS_PER_USER: '3' });
    const { client, secret } = await t.app.get(ClientsService).create('orders api', CLI);
    auth = basicAuth(client.id, secret);
    baseUrl = await listen(t.server);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('client authentication', () => {
    it('refuses no credentials and wrong ones with 401 invalid_client and a Basic challenge, in both forms', async () => {
      for (const authorization of [undefined, basicAuth('nobody', 'nothing'), `${auth.slice(0, -4)}AAAA`]) {
        for (const accept of ['application/json', 'text/event-stream']) {
          const req = request(t.server).get('/auth/revocations').set('Accept', accept);
          const response = await (authorization ? req.set('Authorization', authorization) : req).expect(401);
          expect(response.body).toMatchObject({ error: 'invalid_client' });
          expect(response.headers['www-authenticate']).toMatch(/^Basic realm="/);
        }
      }
    });

    it('refuses the access token of a user: the feed is for clients', async () => {
      const { accessToken } = await login(t.server);
      await request(t.server).get('/auth/revocations').set('Authorization', `Bearer ${accessToken}`).expect(401);
    });
  });

  describe('polling form', () => {
    it('answers {items, next} with no-store; next is the newest cursor when there is nothing more', async () => {
      const { refreshToken, accessToken } = await login(t.server);
      const before = await headCursor();
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${refreshToken}`).expect(204);
      const page = await poll(before).expect(200);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['content-type']).toMatch(/^application\/json/);
      expect(page.body.items).toHaveLength(1);
      expectSessionEntry(page.body.items[0], accessToken);
      expect(page.body.next).toBe(page.body.items[0].id);
      const empty = await poll(page.body.next).expect(200);
      expect(empty.body).toEqual({ items: [], next: page.body.next });
    });

    it('without since: every entry still in force, oldest first', async () => {
      const { items } = await entriesAfter('0');
      const first = await poll().expect(200);
      expect(first.body.items).toEqual(items.slice(0, first.body.items.length));
      const ids = items.map((item) => Number(item.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    });

    it('answers a malformed cursor with 400, never 500', async () => {
      for (const since of ['', 'abc', '-1', '1.5', '1e3', '0x10', '9'.repeat(16), ' 1']) {
        const response = await poll(since).expect(400);
        expect(response.body.message).toMatch(/since must be a cursor/);
      }
      await request(t.server).get('/auth/revocations?since=1&since=2').set('Authorization', auth).expect(400);
      const stream = await request(t.server)
        .get('/auth/revocations')
        .set('Authorization', auth)
        .set('Accept', 'text/event-stream')
        .set('Last-Event-ID', 'nope')
        .expect(400);
      expect(stream.body.message).toMatch(/Last-Event-ID must be a cursor/);
    });

    it('answers HEAD with the polling form, never a stream', async () => {
      const head = await request(t.server)
        .head('/auth/revocations')
        .set('Authorization', auth)
        .set('Accept', 'text/event-stream')
        .expect(200);
      expect(head.headers['content-type']).toMatch(/^application\/json/);
      expect(t.app.get(RevocationFeedService).openStreams).toBe(0);
    });

    it('takes a cursor beyond every id (another database, a restored backup) as no cursor: from the start', async () => {
      const all = await poll('0').expect(200);
      const future = await poll('999999999999').expect(200);
      expect(future.body).toEqual(all.body);
    });
  });

  describe('every revocation path emits its entry', () => {
    it('logout', async () => {
      const { refreshToken, accessToken } = await login(t.server);
      const cursor = await headCursor();
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${refreshToken}`).expect(204);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(1);
      expectSessionEntry(items[0], accessToken);
    });

    it('logout-all: one entry per session', async () => {
      const first = await login(t.server);
      const second = await login(t.server, first.username);
      const cursor = await headCursor();
      await request(t.server).post('/auth/logout-all').set('Authorization', `Bearer ${first.accessToken}`).expect(204);
      const { items } = await entriesAfter(cursor);
      expect(items.map((item) => item.sid).sort()).toEqual(
        [claims(first.accessToken).sid, claims(second.accessToken).sid].sort(),
      );
      for (const session of [first, second])
        expectSessionEntry(
          items.find((item) => item.sid === claims(session.accessToken).sid),
          session.accessToken,
        );
    });

    it('revoking one of your sessions (DELETE /auth/sessions/:id)', async () => {
      const mine = await login(t.server);
      const other = await login(t.server, mine.username);
      const cursor = await headCursor();
      await request(t.server)
        .delete(`/auth/sessions/${claims(other.accessToken).sid}`)
        .set('Authorization', `Bearer ${mine.accessToken}`)
        .expect(204);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(1);
      expectSessionEntry(items[0], other.accessToken);
    });

    it('refresh-token reuse', async () => {
      const { refreshToken, accessToken } = await login(t.server);
      const rotated = await refresh(t.server, refreshToken).expect(200);
      const cursor = await headCursor();
      await refresh(t.server, refreshToken).expect(401);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(1);
      // The newest token of the session is covered too.
      expectSessionEntry(items[0], rotated.body.access_token as string);
      expect(items[0].sid).toBe(claims(accessToken).sid);
    });

    it('POST /auth/revoke, with a refresh token and with an access token', async () => {
      const byRefresh = await login(t.server);
      const byAccess = await login(t.server);
      const cursor = await headCursor();
      await request(t.server).post('/auth/revoke').type('form').send({ token: byRefresh.refreshToken }).expect(200);
      await request(t.server).post('/auth/revoke').type('form').send({ token: byAccess.accessToken }).expect(200);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(2);
      expectSessionEntry(items[0], byRefresh.accessToken);
      expectSessionEntry(items[1], byAccess.accessToken);
    });

    it('password change: the other sessions, not the one that changed it', async () => {
      const changer = await login(t.server);
      const other = await login(t.server, changer.username);
      const cursor = await headCursor();
      const changed = await request(t.server)
        .post('/auth/password')
        .set('Authorization', `Bearer ${changer.accessToken}`)
        .set('Cookie', `refresh_token=${changer.refreshToken}`)
        .send({ currentPassword: DEFAULT_PASSWORD, newPassword: 'another good password' });
      expect(changed.status).toBeLessThan(300);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(1);
      expectSessionEntry(items[0], other.accessToken);
    });

    it('MAX_SESSIONS_PER_USER eviction: the least recently used session', async () => {
      const oldest = await login(t.server);
      await login(t.server, oldest.username);
      await login(t.server, oldest.username);
      const cursor = await headCursor();
      await login(t.server, oldest.username);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(1);
      expectSessionEntry(items[0], oldest.accessToken);
    });

    it('role change: a user cut-off covering every token issued before it', async () => {
      const { username, accessToken } = await login(t.server);
      const cursor = await headCursor();
      const before = Date.now();
      await t.app.get(UserAdministrationService).grant(username, 'support', CLI);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(1);
      const { sub, iat, exp } = claims(accessToken);
      const notBefore = Math.floor(before / 1000) + 1;
      expect(items[0]).toEqual({
        id: expect.any(String),
        sub,
        notBefore: expect.any(Number),
        until: expect.any(Number),
      });
      expect(items[0].notBefore).toBeGreaterThanOrEqual(notBefore);
      expect(items[0].notBefore).toBeGreaterThan(iat);
      expect(items[0].until).toBe(items[0].notBefore! - 1 + TTL + SIGNING_MARGIN_S);
      expect(items[0].until).toBeGreaterThanOrEqual(exp);
    });

    it('disable: every session, and a cut-off', async () => {
      const first = await login(t.server);
      const second = await login(t.server, first.username);
      const cursor = await headCursor();
      await t.app.get(UserAdministrationService).disable(first.username, CLI);
      const { items } = await entriesAfter(cursor);
      const sessions = items.filter((item) => item.sid);
      const cutOffs = items.filter((item) => !item.sid);
      expect(sessions.map((item) => item.sid).sort()).toEqual(
        [claims(first.accessToken).sid, claims(second.accessToken).sid].sort(),
      );
      expect(cutOffs).toEqual([
        {
          id: expect.any(String),
          sub: claims(first.accessToken).sub,
          notBefore: expect.any(Number),
          until: expect.any(Number),
        },
      ]);
    });

    it('nothing for a revocation that changed nothing (a session already revoked)', async () => {
      const { refreshToken } = await login(t.server);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${refreshToken}`).expect(204);
      const cursor = await headCursor();
      await request(t.server).post('/auth/revoke').type('form').send({ token: refreshToken }).expect(200);
      expect((await entriesAfter(cursor)).items).toEqual([]);
    });
  });

  describe('Server-Sent Events', () => {
    it('streams the backfill, then live entries within a second, with a comment at least every second', async () => {
      const revoked = await login(t.server);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${revoked.refreshToken}`).expect(204);
      const { items } = await entriesAfter('0');

      const stream = await FeedStream.open(baseUrl, auth);
      try {
        expect(stream.status).toBe(200);
        expect(stream.header('content-type')).toMatch(/^text\/event-stream/);
        expect(stream.header('cache-control')).toBe('no-store');
        expect(stream.header('x-content-type-options')).toBe('nosniff');
        // Backfill: every entry still in force, in order, in the contract's shape.
        await stream.until((s) => s.events.length >= items.length);
        expect(stream.events.map((e) => e.id)).toEqual(items.map((item) => item.id));
        for (const [i, event] of stream.events.entries()) {
          const { id, ...data } = items[i];
          expect(event).toEqual({ id, type: 'revoked', data });
        }

        const live = await login(t.server);
        await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${live.refreshToken}`).expect(204);
        // The 1 s bar is measured by the CI suites (test:multi, test:resource-servers); npm test runs on
        // busy machines too, so here it only has to happen.
        const event = await stream.nth(items.length + 1, 10_000);
        expect(event.data).toMatchObject({ sid: claims(live.accessToken).sid, sub: claims(live.accessToken).sub });
        expect(Number(event.id)).toBeGreaterThan(Number(items.at(-1)?.id ?? 0));

        // Heartbeat: bytes keep coming on a silent feed.
        const comments = stream.comments;
        const gaps: number[] = [];
        let last = stream.lastByteAt;
        const watchUntil = Date.now() + 2500;
        while (Date.now() < watchUntil) {
          await sleep(50);
          if (stream.lastByteAt !== last) {
            gaps.push(stream.lastByteAt - last);
            last = stream.lastByteAt;
          }
        }
        expect(stream.comments).toBeGreaterThanOrEqual(comments + 2);
        // A comment every 500 ms; the bar (at least one a second) is timed in test:multi. Here a
        // generous bound, for busy machines: what matters is that the silence never grows.
        expect(Math.max(...gaps)).toBeLessThan(3000);
        expect(stream.ended).toBe(false);
      } finally {
        await stream.close();
      }
    });

    it('resumes after Last-Event-ID, or after ?since=, with nothing before it', async () => {
      const a = await login(t.server);
      const b = await login(t.server);
      const cursor = await headCursor();
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${a.refreshToken}`).expect(204);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${b.refreshToken}`).expect(204);
      const { items } = await entriesAfter(cursor);
      expect(items).toHaveLength(2);

      for (const options of [
        { lastEventId: items[0].id },
        { since: items[0].id },
        { lastEventId: items[0].id, since: '0' },
      ]) {
        const stream = await FeedStream.open(baseUrl, auth, options);
        try {
          const first = await stream.nth(1);
          expect(first.id).toBe(items[1].id);
          expect(first.data.sid).toBe(claims(b.accessToken).sid);
          await stream.until((s) => s.comments > 0);
          expect(stream.events).toHaveLength(1);
        } finally {
          await stream.close();
        }
      }
    });

    it('loses nothing between backfill and live: revocations racing the connection arrive once each, in order', async () => {
      const users = await Promise.all(Array.from({ length: 6 }, () => login(t.server)));
      const cursor = await headCursor();
      const logouts = users.map(async (user, i) => {
        await sleep(i * 15);
        await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${user.refreshToken}`).expect(204);
      });
      const stream = await FeedStream.open(baseUrl, auth, { lastEventId: cursor });
      try {
        await Promise.all(logouts);
        await stream.nth(users.length);
        await sleep(600);
        const ids = stream.events.map((event) => Number(event.id));
        expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
        expect(stream.events.map((event) => event.data.sid).sort()).toEqual(
          users.map((user) => claims(user.accessToken).sid).sort(),
        );
      } finally {
        await stream.close();
      }
    });

    it(`caps open streams per client at ${MAX_STREAMS_PER_CLIENT} (429), and frees the slot when one closes`, async () => {
      const feed = t.app.get(RevocationFeedService);
      const streams: FeedStream[] = [];
      try {
        for (let i = 0; i < MAX_STREAMS_PER_CLIENT; i++) streams.push(await FeedStream.open(baseUrl, auth));
        expect(streams.every((s) => s.status === 200)).toBe(true);
        const refused = await FeedStream.open(baseUrl, auth);
        expect(refused.status).toBe(429);
        expect(refused.header('retry-after')).toMatch(/^\d+$/);
        // Another client is not affected.
        const { client, secret } = await t.app.get(ClientsService).create('billing api', CLI);
        const other = await FeedStream.open(baseUrl, basicAuth(client.id, secret));
        expect(other.status).toBe(200);
        streams.push(other);
        await streams.shift()!.close();
        await waitFor(() => feed.openStreams === MAX_STREAMS_PER_CLIENT);
        const again = await FeedStream.open(baseUrl, auth);
        expect(again.status).toBe(200);
        streams.push(again);
      } finally {
        await Promise.all(streams.map((s) => s.close()));
      }
      await waitFor(() => feed.openStreams === 0);
    });
  });

  describe('expiry', () => {
    it('the purge deletes entries past their until, keeps the newest id, and backfills leave expired ones out', async () => {
      const events = t.app.get(RevocationEventRepository);
      const head = Number(await headCursor());
      const now = Date.now();
      const farFuture = now + (TTL + SIGNING_MARGIN_S + 10) * 1000;
      expect((await events.findAfter(0, 1000, Math.floor(farFuture / 1000))).length).toBe(0);
      const purged = await t.app.get(RevocationPurgeTask).purgeAt(farFuture);
      expect(purged).toBeGreaterThan(0);
      expect(await events.head()).toBe(head);
      expect((await events.findAfter(0, 1000)).map((event) => event.id)).toEqual([head]);
      // The newest id stays a valid cursor: nothing is replayed from the start.
      const page = await poll(String(head)).expect(200);
      expect(page.body).toEqual({ items: [], next: String(head) });
    });
  });
});

describe('the resource-server kit against the feed (e2e)', () => {
  beforeAll(async () => {
    t = await createTestApp({ ACCESS_TOKEN_TTL: `${TTL}s` });
    baseUrl = await listen(t.server);
  });
  afterAll(async () => {
    // The kit's fetch keeps pooled sockets of its own, which Node's close does not always count as
    // idle (one connected but never used); the suites above close with open streams of ours.
    t.server.closeAllConnections();
    await t.close();
  });

  it.each(['sse', 'poll'] as const)(
    'follows the feed (%s): the backfill before it reports synced, then each revocation within a second',
    async (transport) => {
      const before = await login(t.server);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${before.refreshToken}`).expect(204);
      const { client, secret } = await t.app.get(ClientsService).create(`kit ${transport}`, CLI);
      const list = new RevocationList();
      const logs: string[] = [];
      let synced = false;
      const feed = new RevocationFeed(new AuthServerClient(baseUrl, client.id, secret, 2000), list, {
        transport,
        // Generous, for busy machines: a poll that answers late must not count as a lost feed here.
        maxStalenessMs: 5000,
        log: (message) => logs.push(message),
        onSynced: () => (synced = true),
        onClientAuthenticationError: (error) => logs.push(error.message),
      });
      feed.start();
      try {
        await waitFor(() => synced);
        const old = claims(before.accessToken);
        expect(list.isRevoked(old.sid, old.sub, old.iat)).toBe(true);

        const live = await login(t.server);
        const { sid, sub, iat } = claims(live.accessToken);
        expect(list.isRevoked(sid, sub, iat)).toBe(false);
        await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${live.refreshToken}`).expect(204);
        // The 1 s bar is measured by the CI suites (test:multi, test:resource-servers); npm test runs on
        // busy machines too, so here it only has to happen.
        await waitFor(() => list.isRevoked(sid, sub, iat), 10_000);

        const cut = await login(t.server);
        await t.app.get(UserAdministrationService).grant(cut.username, 'support', CLI);
        const token = claims(cut.accessToken);
        await waitFor(() => list.isRevoked('another-session', token.sub, token.iat), 10_000);
        expect(feed.isFresh()).toBe(true);
        expect(logs).toEqual([]);
      } finally {
        await feed.stop();
      }
    },
  );
});

describe('the revocation feed at shutdown (e2e)', () => {
  it('app.close() ends open streams instead of waiting for them', async () => {
    const app = await createTestApp();
    const { client, secret } = await app.app.get(ClientsService).create('orders api', CLI);
    const url = await listen(app.server);
    const stream = await FeedStream.open(url, basicAuth(client.id, secret));
    expect(stream.status).toBe(200);
    await stream.until((s) => s.comments > 0);
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(10_000);
    await stream.closed();
    expect(stream.ended).toBe(true);
  });
});

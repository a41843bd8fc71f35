import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { KeysService } from '../src/keys/keys.service.js';
import { createTestApp, tempSqliteUrl, type TestApp } from './utils/create-test-app.js';
import { DEFAULT_PASSWORD, login, logout, me, refresh, refreshCookie, sleep, uniqueUsername } from './utils/http.js';
import { PG_MODE } from './utils/test-database.js';

/**
 * Another process (`npm run keys:rotate`, a `sqlite3` shell) holding SQLite's write lock: a second
 * better-sqlite3 connection on the same file runs BEGIN IMMEDIATE and releases when told. It lives
 * in this process, so a write that blocked the event loop would also keep it from ever releasing.
 */
class LockHolder {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.exec('BEGIN IMMEDIATE');
  }

  release(): void {
    if (!this.db.open) return;
    this.db.exec('ROLLBACK');
    this.db.close();
  }
}

/** Starts a supertest request now (supertest sends only once awaited). */
const start = (req: PromiseLike<request.Response>) => Promise.resolve(req);

const fileOf = (url: string) => url.slice('sqlite:'.length);

(PG_MODE ? describe.skip : describe)('SQLite write lock held by another process (e2e)', () => {
  let holder: LockHolder | undefined;
  afterEach(() => holder?.release());

  describe('released within DATABASE_BUSY_TIMEOUT', () => {
    const db = tempSqliteUrl();
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp({ DATABASE_URL: db.url, ACCESS_TOKEN_TTL: '5m' });
    });
    afterAll(async () => {
      await t?.close();
      await db.cleanup();
    });

    it('serves reads while writes wait without blocking; every write succeeds once the lock is released', async () => {
      const alice = await login(t.server);
      const bob = await login(t.server);
      const carol = await login(t.server);
      const keys = t.app.get(KeysService);
      const oldKid = keys.currentSigningKey().kid;
      const newcomer = uniqueUsername('busy');

      holder = new LockHolder(fileOf(db.url));
      // One write of each kind the app makes while serving.
      const writes = {
        register: start(
          request(t.server).post('/auth/register').send({ username: newcomer, password: DEFAULT_PASSWORD }),
        ), // TypeORM insert
        login: start(
          request(t.server).post('/auth/login').send({ username: alice.username, password: alice.password }),
        ), // UnitOfWork.commit + audit insert
        refresh: start(refresh(t.server, bob.refreshToken)), // rotation: UnitOfWork.commit
        logout: start(logout(t.server, carol.refreshToken)), // TypeORM update
        rotate: keys.rotate().then((key) => key.kid), // key insert + retire update, then the reload
      };
      await sleep(300);

      // Reads are answered while the lock is still held: JWKS, /auth/me, and a key reload (unknown kid).
      await request(t.server).get('/.well-known/jwks.json').expect(200);
      await me(t.server, alice.accessToken).expect(200);
      await expect(keys.verificationKey(randomUUID(), t.config.auth.jwtAlg)).resolves.toBeUndefined();

      holder.release();
      const [registered, loggedIn, refreshed, loggedOut, newKid] = await Promise.all([
        writes.register,
        writes.login,
        writes.refresh,
        writes.logout,
        writes.rotate,
      ]);
      expect([registered.status, loggedIn.status, refreshed.status, loggedOut.status]).toEqual([201, 200, 200, 204]);

      // Each took effect.
      await request(t.server).post('/auth/login').send({ username: newcomer, password: DEFAULT_PASSWORD }).expect(200);
      await refresh(t.server, refreshCookie(refreshed)!).expect(200);
      await refresh(t.server, carol.refreshToken).expect(401);
      expect(newKid).not.toBe(oldKid);
      expect(keys.currentSigningKey().kid).toBe(newKid);
      const events = await t.app
        .get(DataSource)
        .query('SELECT type FROM audit_events WHERE user_id = (SELECT id FROM users WHERE username = ?)', [
          alice.username,
        ]);
      expect((events as Array<{ type: string }>).filter((e) => e.type === 'login_success')).toHaveLength(2);
    });
  });

  describe('held past DATABASE_BUSY_TIMEOUT=1s', () => {
    const db = tempSqliteUrl();
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp({ DATABASE_URL: db.url, DATABASE_BUSY_TIMEOUT: '1s', ACCESS_TOKEN_TTL: '5m' });
    });
    afterAll(async () => {
      await t?.close();
      await db.cleanup();
    });

    it('answers 503 + Retry-After (never 500), and nothing is stored half-way', async () => {
      const alice = await login(t.server);
      const bob = await login(t.server);
      const carol = await login(t.server);
      const dataSource = t.app.get(DataSource);
      const count = async (table: string) =>
        Number((await dataSource.query<Array<{ n: number }>>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
      const before = {
        users: await count('users'),
        sessions: await count('sessions'),
        tokens: await count('refresh_tokens'),
        keys: await count('signing_keys'),
      };
      const newcomer = uniqueUsername('busy');

      holder = new LockHolder(fileOf(db.url));
      const responses = await Promise.all([
        start(request(t.server).post('/auth/register').send({ username: newcomer, password: DEFAULT_PASSWORD })),
        start(request(t.server).post('/auth/login').send({ username: alice.username, password: alice.password })),
        start(refresh(t.server, bob.refreshToken)),
        start(logout(t.server, carol.refreshToken)),
        start(
          request(t.server)
            .post('/auth/token')
            .type('form')
            .send({ grant_type: 'refresh_token', refresh_token: alice.refreshToken }),
        ),
      ]);
      const rotation = await t.app
        .get(KeysService)
        .rotate()
        .then(
          () => 'rotated',
          (error: Error) => error.name,
        );
      // Still held: everything above gave up on its own, after DATABASE_BUSY_TIMEOUT.
      for (const response of responses) {
        expect({ status: response.status, retryAfter: response.headers['retry-after'] }).toEqual({
          status: 503,
          retryAfter: '1',
        });
        expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
        expect(response.text).not.toMatch(/SQLITE|at .*\.js/);
      }
      expect(rotation).toBe('DatabaseBusyError');
      holder.release();

      // Nothing happened: no user, session, token or key row; the tokens were neither rotated nor revoked.
      expect({
        users: await count('users'),
        sessions: await count('sessions'),
        tokens: await count('refresh_tokens'),
        keys: await count('signing_keys'),
      }).toEqual(before);
      await refresh(t.server, bob.refreshToken).expect(200);
      await refresh(t.server, carol.refreshToken).expect(200);
      await refresh(t.server, alice.refreshToken).expect(200);
      await request(t.server)
        .post('/auth/register')
        .send({ username: newcomer, password: DEFAULT_PASSWORD })
        .expect(201);
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { refreshCookie } from '../utils/http.js';
import { expectAccessTokenWorks, newUser, refreshWith, type Login } from './security-helpers.js';

/**
 * Property: whatever arrives (body, content type, Authorization, cookies, query, path), the
 * service answers without a 5xx and never hands out a token. The only token holders are the
 * fixtures below, and no live refresh token is ever put in front of the fuzzer.
 */

/** Runs per route; a property covering several routes runs this many times each. */
const RUNS_PER_ROUTE = 100;
const FUZZ_TIMEOUT_MS = 60_000;

type Method = 'get' | 'post' | 'delete';

interface FuzzRequest {
  method: Method;
  path: string;
  body?: string;
  contentType?: string;
  authorization?: string;
  cookie?: string;
}

/** What a header value may hold without Node's HTTP client refusing to send it. */
const HEADER_SAFE = /^[\t\x20-\x7e]*$/;
const headerSafe = (arb: fc.Arbitrary<string>) => arb.filter((value) => HEADER_SAFE.test(value));

const base64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
const base64urlString = (minLength: number, maxLength: number) =>
  fc.string({ unit: base64urlChar, minLength, maxLength });
/** Exactly the shape of a refresh token, so it passes the well-formedness check and reaches the database. */
const refreshShaped = base64urlString(43, 43);
const jwtShaped = fc
  .tuple(base64urlString(1, 60), base64urlString(1, 120), base64urlString(0, 90))
  .map(([h, p, s]) => `eyJ${h}.eyJ${p}.${s}`);

const jsonValue = fc.anything({ maxDepth: 4 }).map((value) => {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
});

describe('fuzzing every route (e2e, fast-check)', () => {
  let t: TestApp;
  /** A live session, used only as the Bearer of routes that cannot end it. */
  let live: Login;
  /** Tokens of sessions that were logged out: known to the database, but dead. */
  let deadRefresh: string[];
  let deadAccess: string[];

  beforeAll(async () => {
    // Throttling would turn most login attempts into 429 early on; fuzz the paths behind it too.
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_IP: '1000000', LOGIN_MAX_FAILURES_PER_USER: '1000000' });
    live = await newUser(t.server, 'fuzzlive');

    const loggedOut = await newUser(t.server, 'fuzzdead');
    const rotated = await refreshWith(t.server, loggedOut.refreshToken).expect(200);
    await request(t.server)
      .post('/auth/logout')
      .set('Cookie', `refresh_token=${refreshCookie(rotated)}`)
      .expect(204);
    deadRefresh = [loggedOut.refreshToken, refreshCookie(rotated)!];
    deadAccess = [loggedOut.accessToken, rotated.body.access_token as string];
  });
  afterAll(async () => {
    await t.close();
  });

  // ---- arbitraries that need the fixtures ----

  const body = () =>
    fc.oneof(
      fc.constant(''),
      fc.json(),
      jsonValue,
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 80 }),
      // Form-encoded, with repeated keys now and then.
      fc
        .array(
          fc.tuple(fc.constantFrom('username', 'password', 'grant_type', 'refresh_token', 'token', 'x'), fc.string()),
          { maxLength: 6 },
        )
        .map((pairs) => new URLSearchParams(pairs).toString()),
      // Shaped like the real DTOs, with wrong types and edge values mixed in, to get past parsing.
      fc
        .record(
          {
            username: fc.oneof(fc.string({ maxLength: 70 }), fc.anything({ maxDepth: 2 }), fc.constant(live.username)),
            password: fc.oneof(fc.string({ maxLength: 140 }), fc.anything({ maxDepth: 2 })),
            grant_type: fc.oneof(
              fc.constantFrom('password', 'refresh_token', 'client_credentials', ''),
              fc.anything({ maxDepth: 1 }),
            ),
            refresh_token: fc.oneof(
              refreshShaped,
              fc.constantFrom(...deadRefresh),
              fc.string(),
              fc.array(refreshShaped, { maxLength: 2 }),
            ),
            token: fc.oneof(refreshShaped, fc.constantFrom(...deadRefresh, ...deadAccess), jwtShaped, fc.string()),
            token_type_hint: fc.string(),
            currentPassword: fc.oneof(fc.string({ maxLength: 140 }), fc.integer()),
            newPassword: fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.constant(null)),
            __proto__: fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
      // Deep nesting, for the body-depth guard and validation recursion.
      fc.integer({ min: 1, max: 60 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
      fc.integer({ min: 1, max: 60 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
    );

  const contentType = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded; charset=iso-8859-1',
      'text/plain',
      'text/html',
      'multipart/form-data; boundary=xyz',
      'application/xml',
      'application/octet-stream',
      'application/merge-patch+json',
      'application/jsonx',
      'json',
      '',
      ';',
    ),
    headerSafe(fc.string({ maxLength: 40 })),
  );

  /** Authorization headers that are never a live token. */
  const foreignAuthorization = () =>
    fc.oneof(
      fc.constant(undefined),
      headerSafe(fc.string({ maxLength: 60 })),
      headerSafe(fc.string({ maxLength: 60 })).map((s) => `Bearer ${s}`),
      jwtShaped.map((s) => `Bearer ${s}`),
      refreshShaped.map((s) => `Bearer ${s}`),
      fc.constantFrom(...deadAccess, ...deadRefresh).map((s) => `Bearer ${s}`),
      // A live token with one character changed: never valid.
      fc.nat({ max: live.accessToken.length - 1 }).map((i) => {
        const c = live.accessToken[i] === 'A' ? 'B' : 'A';
        return `Bearer ${live.accessToken.slice(0, i)}${c}${live.accessToken.slice(i + 1)}`;
      }),
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer x',
        'Basic dXNlcjpwYXNz',
        'Bearer a.b.c',
        `Bearer ${'A'.repeat(3000)}`,
      ),
    );

  const cookie = () =>
    fc.oneof(
      fc.constant(undefined),
      headerSafe(fc.string({ maxLength: 80 })),
      refreshShaped.map((s) => `refresh_token=${s}`),
      fc.constantFrom(...deadRefresh).map((s) => `refresh_token=${s}`),
      headerSafe(fc.string({ maxLength: 60 })).map((s) => `refresh_token=${s}`),
      fc
        .tuple(refreshShaped, fc.constantFrom(...deadRefresh))
        .map(([a, b]) => `refresh_token=${a}; refresh_token=${b}`),
      fc.constantFrom('refresh_token=', 'refresh_token=%', 'refresh_token=%E0%A4%A', 'refresh_token="quoted"', '=;=;'),
    );

  // ---- sending and checking ----

  const send = (r: FuzzRequest) => {
    const req = request(t.server)[r.method](r.path);
    if (r.authorization !== undefined) req.set('Authorization', r.authorization);
    if (r.cookie !== undefined) req.set('Cookie', r.cookie);
    if (r.contentType !== undefined) req.set('Content-Type', r.contentType);
    return r.body === undefined || (r.body === '' && r.contentType === undefined) ? req : req.send(r.body);
  };

  /** Routes that may legitimately answer 2xx to a stranger. */
  const OPEN_SUCCESS: Record<string, number[]> = {
    '/auth/register': [201],
    '/auth/logout': [204],
    '/auth/revoke': [200],
  };

  const check = async (r: FuzzRequest, { liveBearer = false } = {}) => {
    const response = await send(r);
    const context = { ...r, status: response.status, response: response.text.slice(0, 300) };
    if (response.status >= 500) throw new Error(`5xx: ${JSON.stringify(context)}`);
    if (/"(access_token|refresh_token)"\s*:/.test(response.text))
      throw new Error(`token in body: ${JSON.stringify(context)}`);
    const issued = refreshCookie(response);
    if (issued) throw new Error(`refresh cookie issued: ${JSON.stringify(context)}`);
    const path = r.path.split('?')[0];
    if (!liveBearer && response.status < 300 && !(OPEN_SUCCESS[path] ?? []).includes(response.status)) {
      throw new Error(`unexpected success: ${JSON.stringify(context)}`);
    }
    if (path === '/auth/register' && response.status === 201) {
      expect(Object.keys(response.body).sort()).toEqual(['createdAt', 'id', 'username']);
    }
  };

  const options = (routes: number) => ({ numRuns: RUNS_PER_ROUTE * routes, endOnFailure: true });

  it(
    'public POST routes: register, login, refresh, logout, token, revoke',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(
            '/auth/register',
            '/auth/login',
            '/auth/refresh',
            '/auth/logout',
            '/auth/token',
            '/auth/revoke',
          ),
          body(),
          contentType,
          foreignAuthorization(),
          cookie(),
          async (path, b, ct, authorization, c) =>
            check({ method: 'post', path, body: b, contentType: ct, authorization, cookie: c }),
        ),
        options(6),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'bearer POST routes without a live token: password, logout-all',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/auth/password', '/auth/logout-all'),
          body(),
          contentType,
          foreignAuthorization(),
          cookie(),
          async (path, b, ct, authorization, c) => {
            await check({ method: 'post', path, body: b, contentType: ct, authorization, cookie: c });
          },
        ),
        options(2),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  const queryValue = fc.oneof(
    fc.integer({ min: -5, max: 200 }).map(String),
    fc.double().map(String),
    fc.string({ maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc
      .tuple(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 15 })), fc.string({ maxLength: 40 }))
      .map(([at, id]) => Buffer.from(`${at}:${id}`).toString('base64url')),
    base64urlString(0, 250),
  );

  it(
    'GET routes: me, sessions, audit with random limit and cursor, with and without a live token',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/auth/me', '/auth/sessions', '/auth/audit'),
          fc.option(queryValue, { nil: undefined }),
          fc.option(queryValue, { nil: undefined }),
          fc.oneof(foreignAuthorization(), fc.constant(`Bearer ${live.accessToken}`)),
          cookie(),
          async (route, limit, cursor, authorization, c) => {
            const query = new URLSearchParams();
            if (limit !== undefined) query.set('limit', limit);
            if (cursor !== undefined) query.set('cursor', cursor);
            const path = route === '/auth/audit' && query.size ? `${route}?${query.toString()}` : route;
            await check(
              { method: 'get', path, authorization, cookie: c },
              { liveBearer: authorization === `Bearer ${live.accessToken}` },
            );
          },
        ),
        options(3),
      );
      await expectAccessTokenWorks(t.server, live.accessToken, 'live token after GET fuzzing');
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'DELETE /auth/sessions/<random>, and POST /auth/password with a live token and a random body',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ maxLength: 110 }),
            fc.string({ unit: 'binary', maxLength: 30 }),
            fc.uuid(),
            fc.constantFrom('..', '.', '%00', '*', "' OR 1=1 --"),
          ),
          body(),
          contentType,
          fc.oneof(foreignAuthorization(), fc.constant(`Bearer ${live.accessToken}`)),
          fc.boolean(),
          async (id, b, ct, authorization, deleteRoute) => {
            const liveBearer = authorization === `Bearer ${live.accessToken}`;
            if (deleteRoute) {
              await check(
                {
                  method: 'delete',
                  path: `/auth/sessions/${encodeURIComponent(id)}`,
                  body: b,
                  contentType: ct,
                  authorization,
                },
                { liveBearer },
              );
            } else {
              await check(
                {
                  method: 'post',
                  path: '/auth/password',
                  body: b,
                  contentType: ct,
                  authorization: `Bearer ${live.accessToken}`,
                },
                { liveBearer: true },
              );
            }
          },
        ),
        options(2),
      );
      // Nothing the fuzzer sent revoked the live session or changed its password.
      await expectAccessTokenWorks(t.server, live.accessToken, 'live token after DELETE/password fuzzing');
      await request(t.server)
        .post('/auth/login')
        .send({ username: live.username, password: live.password })
        .expect(200);
    },
    FUZZ_TIMEOUT_MS,
  );

  it('keeps dead sessions dead through all of it', async () => {
    for (const token of deadRefresh) {
      const response = await refreshWith(t.server, token);
      expect(response.status).toBe(401);
    }
    for (const token of deadAccess) {
      expect((await request(t.server).get('/auth/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    }
  });
});

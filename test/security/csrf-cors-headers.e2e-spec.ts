import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { expectErrorBody, refreshCookie } from '../utils/http.js';
import { expectAccessTokenWorks, newUser, refreshWith } from './security-helpers.js';

const APP_ORIGIN = 'https://app.example';
const EVIL_ORIGIN = 'https://evil.example';

type CookieRoute = '/auth/refresh' | '/auth/logout';

/** GET with a request target supertest would not send as it is (e.g. `*auth/me`). */
async function rawGet(server: Server, target: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: target }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
      })
      .on('error', reject);
  });
}

describe('CSRF defence, CORS and security headers (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ CORS_ORIGINS: APP_ORIGIN });
  });
  afterAll(async () => {
    await t.close();
  });

  const withCookie = (route: CookieRoute, refreshToken: string, headers: Record<string, string>) => {
    const req = request(t.server).post(route).set('Cookie', `refresh_token=${refreshToken}`);
    for (const [name, value] of Object.entries(headers)) req.set(name, value);
    return req;
  };

  /** 2xx for the route: 200 with a new cookie for refresh, 204 for logout. */
  const expectAccepted = (route: CookieRoute, response: request.Response) => {
    if (route === '/auth/refresh') {
      expect(response.status).toBe(200);
      expect(refreshCookie(response)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } else {
      expect(response.status).toBe(204);
    }
  };

  describe.each<CookieRoute>(['/auth/refresh', '/auth/logout'])('POST %s', (route) => {
    it.each<[string, Record<string, string>]>([
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
      ['Origin: https://evil.example', { Origin: EVIL_ORIGIN }],
      ['Origin: null (sandboxed frame, data: URL)', { Origin: 'null' }],
      ['an Origin that merely starts with an allowed one', { Origin: `${APP_ORIGIN}.evil.example` }],
      ['an allowed origin on another scheme', { Origin: 'http://app.example' }],
      ['an allowed Origin but Sec-Fetch-Site: cross-site', { Origin: APP_ORIGIN, 'Sec-Fetch-Site': 'cross-site' }],
      ['Sec-Fetch-Site: same-origin with a foreign Origin', { 'Sec-Fetch-Site': 'same-origin', Origin: EVIL_ORIGIN }],
    ])('refuses %s with 403, and the session is untouched', async (_label, headers) => {
      const user = await newUser(t.server, 'csrf');
      const response = await withCookie(route, user.refreshToken, headers);
      expectErrorBody(response, 403, 'Forbidden');
      expect(refreshCookie(response)).toBeUndefined();
      expect(response.body).not.toHaveProperty('access_token');

      // The refused request neither used up the token nor logged the session out.
      await expectAccessTokenWorks(t.server, user.accessToken);
      await refreshWith(t.server, user.refreshToken).expect(200);
    });

    it.each<[string, Record<string, string>]>([
      ['an Origin listed in CORS_ORIGINS', { Origin: APP_ORIGIN }],
      ['a listed Origin with Sec-Fetch-Site: same-site', { Origin: APP_ORIGIN, 'Sec-Fetch-Site': 'same-site' }],
      ['no Origin and no Sec-Fetch-Site (not a browser)', {}],
      ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
      ['Sec-Fetch-Site: none (typed into the address bar)', { 'Sec-Fetch-Site': 'none' }],
      ['the issuer’s own origin', { Origin: 'http://issuer.test' }],
    ])('allows %s', async (_label, headers) => {
      const user = await newUser(t.server, 'csrf');
      expectAccepted(route, await withCookie(route, user.refreshToken, headers));
    });
  });

  describe('POST /auth/login (login CSRF)', () => {
    it.each<[string, Record<string, string>]>([
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
      ['Origin: https://evil.example', { Origin: EVIL_ORIGIN }],
    ])(
      'refuses %s with 403 and sets no cookie: a foreign page cannot log the browser into its account',
      async (_label, headers) => {
        const user = await newUser(t.server, 'logincsrf');
        const req = request(t.server).post('/auth/login').send({ username: user.username, password: user.password });
        for (const [name, value] of Object.entries(headers)) req.set(name, value);
        const response = await req;
        expectErrorBody(response, 403, 'Forbidden');
        expect(refreshCookie(response)).toBeUndefined();
        expect(response.body).not.toHaveProperty('access_token');
      },
    );

    it('allows a login from a configured origin and from non-browser clients', async () => {
      const user = await newUser(t.server, 'logincsrf');
      const body = { username: user.username, password: user.password };
      await request(t.server).post('/auth/login').set('Origin', APP_ORIGIN).send(body).expect(200);
      await request(t.server).post('/auth/login').send(body).expect(200);
    });
  });

  describe('CORS', () => {
    const preflight = (origin: string, path = '/auth/refresh') =>
      request(t.server)
        .options(path)
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'content-type');

    it('answers a preflight from a configured origin with that origin and credentials', async () => {
      for (const path of ['/auth/refresh', '/auth/logout', '/auth/token', '/auth/login']) {
        const response = await preflight(APP_ORIGIN, path);
        expect(response.status).toBeLessThan(300);
        expect(response.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
        expect(response.headers['access-control-allow-credentials']).toBe('true');
        expect(response.headers['access-control-allow-methods']).toContain('POST');
        expect(response.headers.vary ?? '').toMatch(/origin/i);
        // Answered by the CORS request hook, before ours: the security headers come from onSend.
        expect(response.headers['x-content-type-options']).toBe('nosniff');
        expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      }
    });

    it('gives a preflight from any other origin no Access-Control-Allow-Origin', async () => {
      for (const origin of [EVIL_ORIGIN, 'null', `${APP_ORIGIN}.evil.example`, 'http://app.example']) {
        const response = await preflight(origin);
        // (@fastify/cors still sends Allow-Credentials; without Allow-Origin browsers refuse the response anyway.)
        expect({ origin, acao: response.headers['access-control-allow-origin'] }).toEqual({ origin, acao: undefined });
      }
    });

    it('echoes only a configured origin on actual responses, never *', async () => {
      const user = await newUser(t.server, 'cors');
      const allowed = await request(t.server)
        .get('/auth/me')
        .set('Origin', APP_ORIGIN)
        .set('Authorization', `Bearer ${user.accessToken}`);
      expect(allowed.status).toBe(200);
      expect(allowed.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');

      const foreign = await request(t.server)
        .get('/auth/me')
        .set('Origin', EVIL_ORIGIN)
        .set('Authorization', `Bearer ${user.accessToken}`);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('security headers', () => {
    const expectHelmetHeaders = (response: request.Response, label: string) => {
      const h = response.headers;
      expect({ label, nosniff: h['x-content-type-options'] }).toEqual({ label, nosniff: 'nosniff' });
      expect({ label, csp: typeof h['content-security-policy'] }).toEqual({ label, csp: 'string' });
      expect(h['content-security-policy']).toContain("default-src 'self'");
      expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
      expect({ label, xfo: h['x-frame-options'] }).toEqual({
        label,
        xfo: expect.stringMatching(/^(DENY|SAMEORIGIN)$/),
      });
      expect({ label, poweredBy: h['x-powered-by'] }).toEqual({ label, poweredBy: undefined });
    };

    it('sets helmet headers and no X-Powered-By on successes, errors and unknown routes', async () => {
      const user = await newUser(t.server, 'headers');
      const responses: Array<[string, request.Response]> = [
        [
          'login',
          await request(t.server).post('/auth/login').send({ username: user.username, password: user.password }),
        ],
        ['me', await request(t.server).get('/auth/me').set('Authorization', `Bearer ${user.accessToken}`)],
        ['me 401', await request(t.server).get('/auth/me')],
        ['login 400', await request(t.server).post('/auth/login').send({})],
        ['refresh 401', await request(t.server).post('/auth/refresh')],
        ['token 400', await request(t.server).post('/auth/token').type('form').send({ grant_type: 'nope' })],
        ['jwks', await request(t.server).get('/.well-known/jwks.json')],
        ['unknown route 404', await request(t.server).get('/definitely/not/here')],
      ];
      for (const [label, response] of responses) expectHelmetHeaders(response, label);

      // A request target no middleware path can match: Nest's adapter answers it before our hook.
      const unroutable = await rawGet(t.server, '*auth/me');
      expect(unroutable.status).toBe(404);
      expectHelmetHeaders(unroutable as unknown as request.Response, 'unroutable target 404');
    });

    it("sends helmet's document-only headers on HTML documents, not on JSON answers", async () => {
      const documentOnly = [
        'cross-origin-opener-policy',
        'origin-agent-cluster',
        'x-dns-prefetch-control',
        'x-download-options',
        'x-permitted-cross-domain-policies',
        'x-xss-protection',
      ];
      const user = await newUser(t.server, 'dochdr');
      const json = [
        ['me', await request(t.server).get('/auth/me').set('Authorization', `Bearer ${user.accessToken}`)],
        ['me 401', await request(t.server).get('/auth/me')],
        ['jwks', await request(t.server).get('/.well-known/jwks.json')],
        ['unknown route 404', await request(t.server).get('/definitely/not/here')],
      ] as const;
      for (const [label, response] of json) {
        expect({ label, type: response.headers['content-type'] }).toEqual({
          label,
          type: expect.stringMatching(/^application\/json/),
        });
        for (const name of documentOnly) expect({ label, [name]: response.headers[name] }).toEqual({ label });
        // What protects every response stays on JSON too.
        expect({ label, corp: response.headers['cross-origin-resource-policy'] }).toEqual({
          label,
          corp: 'same-origin',
        });
        expect({ label, referrer: response.headers['referrer-policy'] }).toEqual({ label, referrer: 'no-referrer' });
      }
      for (const path of ['/', '/docs']) {
        const page = await request(t.server).get(path).expect(200);
        expect(page.headers['content-type']).toMatch(/^text\/html/);
        expectHelmetHeaders(page, path);
        for (const name of documentOnly)
          expect({ path, [name]: typeof page.headers[name] }).toEqual({ path, [name]: 'string' });
        expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
        expect(page.headers['x-xss-protection']).toBe('0');
      }
    });

    it('marks every response that carries a token Cache-Control: no-store', async () => {
      const user = await newUser(t.server, 'nostore');
      const login = await request(t.server)
        .post('/auth/login')
        .send({ username: user.username, password: user.password });
      const refreshed = await refreshWith(t.server, refreshCookie(login)!);
      const passwordGrant = await request(t.server)
        .post('/auth/token')
        .type('form')
        .send({ grant_type: 'password', username: user.username, password: user.password });
      const refreshGrant = await request(t.server)
        .post('/auth/token')
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: passwordGrant.body.refresh_token });

      for (const [label, response] of [
        ['login', login],
        ['refresh', refreshed],
        ['token (password)', passwordGrant],
        ['token (refresh_token)', refreshGrant],
      ] as const) {
        expect({ label, status: response.status }).toEqual({ label, status: 200 });
        expect({ label, cacheControl: response.headers['cache-control'] }).toEqual({ label, cacheControl: 'no-store' });
      }
    });

    it('marks refresh and token error responses no-store too', async () => {
      const failedRefresh = await request(t.server)
        .post('/auth/refresh')
        .set('Cookie', `refresh_token=${'A'.repeat(43)}`);
      expect(failedRefresh.status).toBe(401);
      expect(failedRefresh.headers['cache-control']).toBe('no-store');
      const failedGrant = await request(t.server)
        .post('/auth/token')
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: 'A'.repeat(43) });
      expect(failedGrant.status).toBe(400);
      expect(failedGrant.headers['cache-control']).toBe('no-store');
    });

    it('sets the refresh cookie HttpOnly, SameSite=Strict, Path=/auth', async () => {
      const user = await newUser(t.server, 'cookie');
      const response = await request(t.server)
        .post('/auth/login')
        .send({ username: user.username, password: user.password });
      const header = ([] as string[])
        .concat(response.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('refresh_token='))!;
      expect(header).toMatch(/;\s*HttpOnly/i);
      expect(header).toMatch(/;\s*SameSite=Strict/i);
      expect(header).toMatch(/;\s*Path=\/auth(;|$)/);
      expect(header).not.toMatch(/;\s*Domain=/i);
    });
  });
});

describe('CORS with no CORS_ORIGINS (e2e)', () => {
  let closed: TestApp;

  beforeAll(async () => {
    closed = await createTestApp();
  });
  afterAll(async () => {
    await closed.close();
  });

  it('gives no browser any CORS header, on preflights or responses', async () => {
    for (const origin of [APP_ORIGIN, EVIL_ORIGIN, 'null']) {
      const pre = await request(closed.server)
        .options('/auth/refresh')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST');
      // No OPTIONS route: a wrong method for the path, 405 with `Allow: POST`.
      expect({
        origin,
        status: pre.status,
        cors: Object.keys(pre.headers).filter((h) => h.startsWith('access-control-')),
      }).toEqual({
        origin,
        status: 405,
        cors: [],
      });
      const jwks = await request(closed.server).get('/.well-known/jwks.json').set('Origin', origin).expect(200);
      expect(Object.keys(jwks.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { sessionRow } from '../utils/db.js';
import {
  decodeJwt,
  expectRefreshCookieCleared,
  login,
  me,
  refresh,
  refreshCookie,
  register,
  sleep,
} from '../utils/http.js';

const ISSUER = 'http://issuer.test';
const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/;

type Body = Record<string, unknown>;

function expectNoStore(response: request.Response): void {
  expect({ cacheControl: response.headers['cache-control'], pragma: response.headers.pragma }).toEqual({
    cacheControl: 'no-store',
    pragma: 'no-cache',
  });
}

/** RFC 6749 §5.2: 400, exactly `{error, error_description}`, not cacheable. */
function expectOAuthError(response: request.Response, error: string): void {
  expect({ status: response.status, body: response.body }).toEqual({
    status: 400,
    body: { error, error_description: expect.any(String) },
  });
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expectNoStore(response);
}

/** RFC 6749 §5.1 success: the token pair, not cacheable. */
function expectTokenResponse(
  response: request.Response,
  expiresIn = 3600,
): { access_token: string; refresh_token: string } {
  expect({ status: response.status, body: response.body }).toEqual({
    status: 200,
    body: {
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: expiresIn,
      refresh_token: expect.stringMatching(REFRESH_TOKEN),
    },
  });
  expectNoStore(response);
  // The token endpoint hands the refresh token to the client in the body, never as a cookie too.
  expect(response.headers['set-cookie']).toBeUndefined();
  return response.body as { access_token: string; refresh_token: string };
}

describe('OAuth endpoints: /auth/token, /auth/revoke, metadata (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const tokenForm = (body: Body | string) => request(t.server).post('/auth/token').type('form').send(body);
  const tokenJson = (body: Body) => request(t.server).post('/auth/token').send(body);
  const revokeForm = (body: Body | string) => request(t.server).post('/auth/revoke').type('form').send(body);
  const passwordGrant = async () => {
    const user = await register(t.server);
    const response = await tokenForm({ grant_type: 'password', ...user });
    return { user, ...expectTokenResponse(response) };
  };

  describe('POST /auth/token', () => {
    it('accepts the password grant form-encoded; the access token works on /auth/me', async () => {
      const { user, access_token } = await passwordGrant();
      expect((await me(t.server, access_token).expect(200)).body).toEqual({
        id: expect.any(String),
        username: user.username,
        roles: [],
      });
    });

    it('accepts the password grant as JSON, with client_id accepted and ignored', async () => {
      const user = await register(t.server);
      const response = await tokenJson({ grant_type: 'password', ...user, client_id: 'spa' });
      const { access_token } = expectTokenResponse(response);
      expect(decodeJwt(access_token).payload.iss).toBe(ISSUER);
    });

    it('answers a scope outside ALLOWED_SCOPES (unset here) with invalid_scope', async () => {
      const user = await register(t.server);
      expectOAuthError(await tokenJson({ grant_type: 'password', ...user, scope: 'anything' }), 'invalid_scope');
    });

    it('rotates with the refresh_token grant, form and JSON, within one session', async () => {
      const first = await passwordGrant();
      const second = expectTokenResponse(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
      );
      const third = expectTokenResponse(
        await tokenJson({ grant_type: 'refresh_token', refresh_token: second.refresh_token }),
      );
      expect(new Set([first.refresh_token, second.refresh_token, third.refresh_token]).size).toBe(3);
      const sid = (token: string) => decodeJwt(token).payload.sid;
      expect(sid(second.access_token)).toBe(sid(first.access_token));
      expect(sid(third.access_token)).toBe(sid(first.access_token));
    });

    it('answers a missing grant_type, or an empty body, with invalid_request', async () => {
      expectOAuthError(await tokenForm({ refresh_token: 'x' }), 'invalid_request');
      expectOAuthError(await tokenJson({}), 'invalid_request');
      expectOAuthError(await request(t.server).post('/auth/token'), 'invalid_request');
    });

    it('answers a repeated parameter with invalid_request (RFC 6749 §3.2)', async () => {
      const { refresh_token } = await passwordGrant();
      const repeated = await tokenForm(
        `grant_type=refresh_token&refresh_token=${refresh_token}&refresh_token=${refresh_token}`,
      );
      expectOAuthError(repeated, 'invalid_request');
      expect(repeated.body.error_description).toContain('refresh_token');
      expectOAuthError(
        await tokenForm('grant_type=refresh_token&grant_type=password&refresh_token=a'),
        'invalid_request',
      );
      expectOAuthError(
        await tokenJson({ grant_type: 'refresh_token', refresh_token: [refresh_token, refresh_token] }),
        'invalid_request',
      );
      // Rejected before any rotation: the token is still good.
      expectTokenResponse(await tokenForm({ grant_type: 'refresh_token', refresh_token }));
    });

    it('answers non-string JSON parameters and missing grant parameters with invalid_request', async () => {
      expectOAuthError(await tokenJson({ grant_type: 'password', username: 42, password: 'x' }), 'invalid_request');
      expectOAuthError(await tokenJson({ grant_type: { toString: 'password' } }), 'invalid_request');
      expectOAuthError(await tokenForm({ grant_type: 'password', username: 'someone' }), 'invalid_request');
      expectOAuthError(await tokenForm({ grant_type: 'refresh_token' }), 'invalid_request');
    });

    it('answers a body it cannot read (bad JSON, other media type) with invalid_request', async () => {
      const badJson = await request(t.server)
        .post('/auth/token')
        .set('Content-Type', 'application/json')
        .send('{"grant_type":');
      expectOAuthError(badJson, 'invalid_request');
      const badJsonWithQuery = await request(t.server)
        .post('/auth/token?x=1')
        .set('Content-Type', 'application/json')
        .send('{');
      expectOAuthError(badJsonWithQuery, 'invalid_request');
      const plain = await request(t.server)
        .post('/auth/token')
        .set('Content-Type', 'text/plain')
        .send('grant_type=password');
      expectOAuthError(plain, 'invalid_request');
    });

    it('answers unknown grant types with unsupported_grant_type', async () => {
      for (const grant_type of [
        'client_credentials',
        'authorization_code',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
      ]) {
        expectOAuthError(await tokenForm({ grant_type }), 'unsupported_grant_type');
      }
    });

    it('answers a wrong password and an unknown user alike with invalid_grant', async () => {
      const { username } = await register(t.server);
      const wrong = await tokenForm({ grant_type: 'password', username, password: 'not the password' });
      const unknown = await tokenForm({
        grant_type: 'password',
        username: `${username}-nobody`,
        password: 'not the password',
      });
      expectOAuthError(wrong, 'invalid_grant');
      expectOAuthError(unknown, 'invalid_grant');
      expect(unknown.body).toEqual(wrong.body);
    });

    it('answers unknown and malformed refresh tokens with invalid_grant', async () => {
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: 'A'.repeat(43) }),
        'invalid_grant',
      );
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }),
        'invalid_grant',
      );
    });

    it('answers a revoked refresh token with invalid_grant', async () => {
      const { refresh_token } = await passwordGrant();
      await revokeForm({ token: refresh_token }).expect(200);
      expectOAuthError(await tokenForm({ grant_type: 'refresh_token', refresh_token }), 'invalid_grant');
    });

    it('replays within the grace window return the same successor; reuse after that is invalid_grant and revokes the session', async () => {
      const first = await passwordGrant();
      const second = expectTokenResponse(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
      );
      // A retry after a lost response (default grace 10 s): the same successor again.
      const retry = expectTokenResponse(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
      );
      expect(retry.refresh_token).toBe(second.refresh_token);

      const third = expectTokenResponse(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: second.refresh_token }),
      );
      // `first` now has a grandchild: presenting it is reuse, whatever the grace window.
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
        'invalid_grant',
      );
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: third.refresh_token }),
        'invalid_grant',
      );
      const session = await sessionRow(t, decodeJwt(first.access_token).payload.sid as string);
      expect(session).toMatchObject({ revoked_at: expect.any(Number), revoked_reason: 'refresh_token_reuse' });
    });
  });

  describe('GET /.well-known/oauth-authorization-server', () => {
    it('describes the endpoints (RFC 8414) and is cacheable', async () => {
      const response = await request(t.server).get('/.well-known/oauth-authorization-server').expect(200);
      expect(response.headers['cache-control']).toMatch(/max-age=[1-9]\d*/);
      expect(response.body).toEqual({
        issuer: ISSUER,
        token_endpoint: `${ISSUER}/auth/token`,
        revocation_endpoint: `${ISSUER}/auth/revoke`,
        jwks_uri: `${ISSUER}/.well-known/jwks.json`,
        grant_types_supported: expect.arrayContaining(['refresh_token', 'password']),
        token_endpoint_auth_methods_supported: ['none'],
        revocation_endpoint_auth_methods_supported: ['none'],
        introspection_endpoint: `${ISSUER}/auth/introspect`,
        introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
        response_types_supported: expect.any(Array),
        service_documentation: `${ISSUER}/docs`,
      });
      expect(response.body.grant_types_supported).toHaveLength(2);
      // Only keys that RFC 8414 defines (or that we documented above) appear.
      expect(Object.keys(response.body).sort()).toEqual(
        [
          'issuer',
          'token_endpoint',
          'revocation_endpoint',
          'jwks_uri',
          'grant_types_supported',
          'token_endpoint_auth_methods_supported',
          'introspection_endpoint',
          'introspection_endpoint_auth_methods_supported',
          'revocation_endpoint_auth_methods_supported',
          'response_types_supported',
          'service_documentation',
        ].sort(),
      );
    });
  });

  describe('POST /auth/revoke (RFC 7009)', () => {
    it('answers 200 for unknown and malformed tokens, without caching', async () => {
      for (const token of ['A'.repeat(43), 'garbage', 'a.b.c']) {
        const response = await revokeForm({ token });
        expect(response.status).toBe(200);
        expectNoStore(response);
      }
    });

    it('answers a missing token parameter with invalid_request', async () => {
      expectOAuthError(await revokeForm({ token_type_hint: 'refresh_token' }), 'invalid_request');
      expectOAuthError(await request(t.server).post('/auth/revoke').send({}), 'invalid_request');
      expectOAuthError(await revokeForm('token=a&token=b'), 'invalid_request');
    });

    it('revokes the whole session of a refresh token: the sibling cookie token then gets 401 on /auth/refresh', async () => {
      const { refreshToken: original, accessToken } = await login(t.server);
      const rotated = await refresh(t.server, original).expect(200);
      const current = refreshCookie(rotated)!;

      // Revoke with the older, already used token of the same session.
      const response = await revokeForm({ token: original, token_type_hint: 'refresh_token' });
      expect(response.status).toBe(200);
      expectNoStore(response);

      const denied = await refresh(t.server, current).expect(401);
      expectRefreshCookieCleared(denied);
      // RFC 7009 §2.1: the access tokens of the revoked session stop working too.
      await me(t.server, accessToken).expect(401);
      await me(t.server, rotated.body.access_token as string).expect(401);
      const session = await sessionRow(t, decodeJwt(accessToken).payload.sid as string);
      expect(session).toMatchObject({ revoked_at: expect.any(Number), revoked_reason: 'revoked' });
      // Idempotent.
      await revokeForm({ token: current }).expect(200);
    });

    it('accepts JSON, and revokes the session of an access token too', async () => {
      const viaRefresh = await passwordGrant();
      await request(t.server).post('/auth/revoke').send({ token: viaRefresh.refresh_token }).expect(200);
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: viaRefresh.refresh_token }),
        'invalid_grant',
      );

      const viaAccess = await passwordGrant();
      await revokeForm({ token: viaAccess.access_token, token_type_hint: 'access_token' }).expect(200);
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: viaAccess.refresh_token }),
        'invalid_grant',
      );
    });
  });

  describe('one session implementation behind both flows', () => {
    it('a refresh token from /auth/token works as the /auth/refresh cookie, and the next one back on /auth/token', async () => {
      const fromToken = await passwordGrant();
      const viaCookie = await refresh(t.server, fromToken.refresh_token).expect(200);
      const cookieToken = refreshCookie(viaCookie)!;
      expect(cookieToken).toMatch(REFRESH_TOKEN);
      const back = expectTokenResponse(await tokenForm({ grant_type: 'refresh_token', refresh_token: cookieToken }));
      expect(decodeJwt(back.access_token).payload.sid).toBe(decodeJwt(fromToken.access_token).payload.sid);

      // Reuse detection spans both: the first token, now a grandparent, revokes the session.
      expectOAuthError(
        await tokenForm({ grant_type: 'refresh_token', refresh_token: fromToken.refresh_token }),
        'invalid_grant',
      );
      await refresh(t.server, back.refresh_token).expect(401);
    });

    it('a refresh cookie from /auth/login works on /auth/token', async () => {
      const { refreshToken, accessToken } = await login(t.server);
      const pair = expectTokenResponse(await tokenForm({ grant_type: 'refresh_token', refresh_token: refreshToken }));
      expect(decodeJwt(pair.access_token).payload.sid).toBe(decodeJwt(accessToken).payload.sid);
      await me(t.server, pair.access_token).expect(200);
    });
  });
});

describe('OAuth endpoints with REFRESH_TOKEN_TTL=1s (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ REFRESH_TOKEN_TTL: '1s' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers an expired refresh token with invalid_grant (and 401 on the cookie flow)', async () => {
    const user = await register(t.server);
    const response = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', ...user });
    const { refresh_token } = expectTokenResponse(response);
    await sleep(1100);
    expectOAuthError(
      await request(t.server).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token }),
      'invalid_grant',
    );
    await refresh(t.server, refresh_token).expect(401);
  });
});

describe('OAuth endpoints with PASSWORD_GRANT_ENABLED=false (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ PASSWORD_GRANT_ENABLED: 'false' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses the password grant with unsupported_grant_type, even with valid credentials', async () => {
    const user = await register(t.server);
    const response = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', ...user });
    expectOAuthError(response, 'unsupported_grant_type');
  });

  it('lists only refresh_token in the metadata', async () => {
    const response = await request(t.server).get('/.well-known/oauth-authorization-server').expect(200);
    expect(response.body.grant_types_supported).toEqual(['refresh_token']);
  });

  it('still serves the refresh_token grant for cookie-flow sessions', async () => {
    const { refreshToken } = await login(t.server);
    expectTokenResponse(
      await request(t.server)
        .post('/auth/token')
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    );
  });
});

describe('OAuth endpoints under login throttling (LOGIN_MAX_FAILURES_PER_USER=2) (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '2' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('throttles the password grant like /auth/login, with Retry-After, no-store, and an error code OAuth clients can read', async () => {
    const user = await register(t.server);
    const grant = (password: string) =>
      request(t.server)
        .post('/auth/token')
        .type('form')
        .send({ grant_type: 'password', username: user.username, password });
    expectOAuthError(await grant('wrong 1'), 'invalid_grant');
    expectOAuthError(await grant('wrong 2'), 'invalid_grant');

    // Blocked now, even with the right password: the grant must not be a way around the login throttle.
    const blocked = await grant(user.password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expectNoStore(blocked);
    // OAuth clients (openid-client, oauth4webapi, …) read any `error` member of a token-endpoint
    // error body as an RFC 6749 error code: it must be one (Appendix A.7: 1*NQSCHAR, no spaces),
    // with the human text in error_description.
    expect(blocked.body).toEqual({
      error: expect.stringMatching(/^[\x21\x23-\x5B\x5D-\x7E]+$/),
      error_description: expect.any(String),
    });

    // The same endpoint reached through a percent-encoded path answers in the same shape.
    const encoded = await request(t.server)
      .post('/auth/%74oken')
      .type('form')
      .send({ grant_type: 'password', username: user.username, password: user.password });
    expect({ status: encoded.status, body: encoded.body }).toEqual({ status: 429, body: blocked.body });
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import request from 'supertest';
import { Scopes } from '../src/auth/scopes/scopes.decorator.js';
import { CurrentUser, type AccessTokenPrincipal } from '../src/auth/decorators/current-user.decorator.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { sessionRow } from './utils/db.js';
import { decodeJwt, expectErrorBody, refresh, refreshCookie, register } from './utils/http.js';

/** A module a team adds to the monolith: routes guarded by @Scopes(), on a class and a handler. */
@Controller('notes')
@Scopes('notes:read')
class NotesController {
  @Get()
  list(@CurrentUser() principal: AccessTokenPrincipal) {
    return { owner: principal.userId, scopes: principal.scopes };
  }

  @Get('drafts')
  @Scopes('notes:write')
  drafts() {
    return [];
  }
}

@Module({ controllers: [NotesController] })
class NotesModule {}

const ALLOWED = 'notes:read notes:write profile';

describe('Scopes (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ ALLOWED_SCOPES: ALLOWED, REFRESH_REUSE_GRACE: '0' }, { imports: [NotesModule] });
  });
  afterAll(async () => {
    await t.close();
  });

  async function cookieLogin(scope?: string) {
    const user = await register(t.server);
    const response = await request(t.server)
      .post('/auth/login')
      .send({ ...user, ...(scope === undefined ? {} : { scope }) });
    return { user, response, refreshToken: refreshCookie(response), accessToken: response.body.access_token as string };
  }

  async function passwordGrant(scope?: string) {
    const user = await register(t.server);
    return request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', ...user, ...(scope === undefined ? {} : { scope }) });
  }

  function refreshGrant(refreshToken: string, scope?: string) {
    return request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: refreshToken, ...(scope === undefined ? {} : { scope }) });
  }

  function claims(accessToken: string) {
    return decodeJwt(accessToken).payload;
  }

  describe('/auth/login', () => {
    it('grants the scope asked for, normalised, on the token, the response and the session', async () => {
      const { response, accessToken } = await cookieLogin(' profile  notes:read profile');
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 3600,
        scope: 'notes:read profile',
      });
      expect(claims(accessToken).scope).toBe('notes:read profile');
      expect((await sessionRow(t, claims(accessToken).sid as string))?.scope).toBe('notes:read profile');
    });

    it('grants nothing without scope: no scope in the token, the response or the session', async () => {
      for (const scope of [undefined, '', '   ']) {
        const { response, accessToken } = await cookieLogin(scope);
        expect(response.status).toBe(200);
        expect(response.body).not.toHaveProperty('scope');
        expect(claims(accessToken)).not.toHaveProperty('scope');
        expect((await sessionRow(t, claims(accessToken).sid as string))?.scope).toBeNull();
      }
    });

    it('answers 400 with a clear message for a scope outside ALLOWED_SCOPES, before the password is checked', async () => {
      const user = await register(t.server);
      const response = await request(t.server)
        .post('/auth/login')
        .send({ ...user, password: 'wrong password', scope: 'notes:read admin' });
      expectErrorBody(response, 400, 'Bad Request');
      expect(response.body.message).toBe('Scope "admin" is not allowed on this server');
      expect(refreshCookie(response)).toBeUndefined();
    });

    it('answers 400 for a malformed scope token or a scope that is not a string', async () => {
      const user = await register(t.server);
      const quoted = await request(t.server)
        .post('/auth/login')
        .send({ ...user, scope: 'notes:"read"' });
      expectErrorBody(quoted, 400, 'Bad Request');
      expect(quoted.body.message).toContain('not a valid scope token');
      const array = await request(t.server)
        .post('/auth/login')
        .send({ ...user, scope: ['notes:read'] });
      expectErrorBody(array, 400, 'Bad Request');
      // JSON null is no scope asked for, as an absent field is (not a 500).
      const nothing = await request(t.server)
        .post('/auth/login')
        .send({ ...user, scope: null });
      expect(nothing.status).toBe(200);
      expect(nothing.body.scope).toBeUndefined();
    });
  });

  describe('/auth/token grant_type=password', () => {
    it('grants the scope asked for and says so in the response', async () => {
      const response = await passwordGrant('notes:write notes:read');
      expect(response.status).toBe(200);
      expect(response.body.scope).toBe('notes:read notes:write');
      expect(claims(response.body.access_token as string).scope).toBe('notes:read notes:write');
    });

    it('grants nothing without scope', async () => {
      const response = await passwordGrant();
      expect(response.status).toBe(200);
      expect(response.body).not.toHaveProperty('scope');
      expect(claims(response.body.access_token as string)).not.toHaveProperty('scope');
    });

    it('answers invalid_scope (RFC 6749 §5.2) for a scope outside ALLOWED_SCOPES', async () => {
      const response = await passwordGrant('notes:read openid');
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: 'invalid_scope', error_description: expect.stringContaining('openid') });
      expect(response.headers['cache-control']).toBe('no-store');
    });
  });

  describe('/auth/token grant_type=refresh_token', () => {
    it("without scope: the session's whole grant", async () => {
      const login = await passwordGrant('notes:read notes:write');
      const response = await refreshGrant(login.body.refresh_token as string);
      expect(response.status).toBe(200);
      expect(response.body.scope).toBe('notes:read notes:write');
      expect(claims(response.body.access_token as string).scope).toBe('notes:read notes:write');
    });

    it('with scope: an access token for that subset; the session keeps its whole grant', async () => {
      const login = await passwordGrant('notes:read notes:write profile');
      const narrowed = await refreshGrant(login.body.refresh_token as string, 'notes:read');
      expect(narrowed.status).toBe(200);
      expect(narrowed.body.scope).toBe('notes:read');
      expect(claims(narrowed.body.access_token as string).scope).toBe('notes:read');
      const sid = claims(narrowed.body.access_token as string).sid as string;
      expect((await sessionRow(t, sid))?.scope).toBe('notes:read notes:write profile');

      const whole = await refreshGrant(narrowed.body.refresh_token as string);
      expect(whole.status).toBe(200);
      expect(whole.body.scope).toBe('notes:read notes:write profile');
    });

    it('refuses a scope beyond the grant with invalid_scope, and the refresh token stays usable', async () => {
      const login = await passwordGrant('notes:read');
      const refreshToken = login.body.refresh_token as string;
      const beyond = await refreshGrant(refreshToken, 'notes:read notes:write');
      expect(beyond.status).toBe(400);
      expect(beyond.body).toEqual({ error: 'invalid_scope', error_description: expect.any(String) });

      // Not used up, not taken for reuse (the grace window is 0 here): it still refreshes once.
      const retried = await refreshGrant(refreshToken);
      expect(retried.status).toBe(200);
      expect(retried.body.scope).toBe('notes:read');
    });

    it('refuses any scope for a session granted none, and one outside ALLOWED_SCOPES', async () => {
      const login = await passwordGrant();
      const refreshToken = login.body.refresh_token as string;
      expect((await refreshGrant(refreshToken, 'notes:read')).body.error).toBe('invalid_scope');
      expect((await refreshGrant(refreshToken, 'admin')).body.error).toBe('invalid_scope');
      const plain = await refreshGrant(refreshToken);
      expect(plain.status).toBe(200);
      expect(plain.body).not.toHaveProperty('scope');
    });

    it('still answers invalid_grant for a bad refresh token, whatever the scope', async () => {
      const response = await refreshGrant('A'.repeat(43), 'notes:read');
      expect(response.body.error).toBe('invalid_grant');
    });
  });

  describe('/auth/refresh (cookie)', () => {
    it('always gets the whole grant, even after a narrowed token-endpoint refresh', async () => {
      const { refreshToken } = await cookieLogin('notes:read notes:write');
      const narrowed = await refreshGrant(refreshToken!, 'notes:read');
      expect(narrowed.body.scope).toBe('notes:read');

      const response = await refresh(t.server, narrowed.body.refresh_token as string);
      expect(response.status).toBe(200);
      expect(response.body.scope).toBe('notes:read notes:write');
      expect(claims(response.body.access_token as string).scope).toBe('notes:read notes:write');
    });

    it('carries no scope for a session granted none', async () => {
      const { refreshToken } = await cookieLogin();
      const response = await refresh(t.server, refreshToken!);
      expect(response.status).toBe(200);
      expect(response.body).not.toHaveProperty('scope');
    });
  });

  describe('@Scopes() guard', () => {
    it('lets a token with the scope through, with its scopes on the principal', async () => {
      const { accessToken } = await cookieLogin('notes:read');
      const response = await request(t.server).get('/notes').auth(accessToken, { type: 'bearer' });
      expect(response.status).toBe(200);
      expect(response.body.scopes).toEqual(['notes:read']);
      // Again with the same token: verified once, then served from the verified-token cache.
      for (let i = 0; i < 2; i++) {
        const again = await request(t.server).get('/notes').auth(accessToken, { type: 'bearer' });
        expect(again.status).toBe(200);
        expect(again.body.scopes).toEqual(['notes:read']);
      }
    });

    it('answers 403 insufficient_scope with the RFC 6750 challenge naming the scope required', async () => {
      const { accessToken } = await cookieLogin('profile');
      const response = await request(t.server).get('/notes').auth(accessToken, { type: 'bearer' });
      expectErrorBody(response, 403, 'Forbidden');
      expect(response.headers['www-authenticate']).toBe(
        'Bearer realm="nest-token-auth", error="insufficient_scope", error_description="The access token lacks a required scope: notes:read", scope="notes:read"',
      );
    });

    it('requires the scopes of the class and of the handler', async () => {
      const readOnly = await cookieLogin('notes:read');
      const denied = await request(t.server).get('/notes/drafts').auth(readOnly.accessToken, { type: 'bearer' });
      expect(denied.status).toBe(403);
      expect(denied.headers['www-authenticate']).toContain('scope="notes:read notes:write"');

      const both = await cookieLogin('notes:write notes:read');
      await request(t.server).get('/notes/drafts').auth(both.accessToken, { type: 'bearer' }).expect(200);
    });

    it('a token granted nothing gets 403; no token still gets the 401 challenge', async () => {
      const { accessToken } = await cookieLogin();
      const denied = await request(t.server).get('/notes').auth(accessToken, { type: 'bearer' });
      expect(denied.status).toBe(403);
      expect(denied.headers['www-authenticate']).toContain('error="insufficient_scope"');
      const anonymous = await request(t.server).get('/notes');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="nest-token-auth"');
    });

    it('a narrowed access token loses what it left out', async () => {
      const login = await passwordGrant('notes:read profile');
      const narrowed = await refreshGrant(login.body.refresh_token as string, 'profile');
      const response = await request(t.server)
        .get('/notes')
        .auth(narrowed.body.access_token as string, { type: 'bearer' });
      expect(response.status).toBe(403);
    });
  });

  it('lists ALLOWED_SCOPES as scopes_supported in the server metadata', async () => {
    const response = await request(t.server).get('/.well-known/oauth-authorization-server').expect(200);
    expect(response.body.scopes_supported).toEqual(['notes:read', 'notes:write', 'profile']);
  });
});

describe('Scopes (e2e, ALLOWED_SCOPES unset)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses every scope and lists none in the metadata', async () => {
    const user = await register(t.server);
    const login = await request(t.server)
      .post('/auth/login')
      .send({ ...user, scope: 'notes:read' });
    expectErrorBody(login, 400, 'Bad Request');
    const grant = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', ...user, scope: 'notes:read' });
    expect(grant.body.error).toBe('invalid_scope');
    const metadata = await request(t.server).get('/.well-known/oauth-authorization-server').expect(200);
    expect(metadata.body).not.toHaveProperty('scopes_supported');
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuthService } from '../src/auth/auth.service.js';
import { CurrentUser, type AccessTokenPrincipal } from '../src/auth/decorators/current-user.decorator.js';
import { Roles } from '../src/authz/roles.decorator.js';
import { UserAdministrationService } from '../src/authz/user-administration.service.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { DEFAULT_PASSWORD, decodeJwt, login, me, refresh, refreshCookie, register } from './utils/http.js';

/** A route of a module a team adds to the monolith, for admins only. */
@Controller('reports')
class ReportsController {
  @Get()
  @Roles('admin')
  list(@CurrentUser() user: AccessTokenPrincipal) {
    return { for: user.username };
  }

  @Get('shared')
  @Roles('auditor', 'admin')
  shared() {
    return { ok: true };
  }
}

@Module({ controllers: [ReportsController] })
class ReportsModule {}

const CLI = { via: 'cli' } as const;
const CHALLENGE = /^Bearer realm="nest-token-auth", error="insufficient_scope", error_description="[^"]+"$/;

let t: TestApp;
let admin: UserAdministrationService;

async function auditTypes(userId: string): Promise<Array<{ type: string; detail: unknown }>> {
  const rows = await t.app
    .get(DataSource)
    .query<Array<{ type: string; detail: string | null }>>(
      'SELECT type, detail FROM audit_events WHERE user_id = $1 ORDER BY created_at, id'.replace(
        '$1',
        t.config.database.type === 'postgres' ? '$1' : '?',
      ),
      [userId],
    );
  return rows.map((row) => ({ type: row.type, detail: row.detail === null ? null : JSON.parse(row.detail) }));
}

function tokenGrant(body: Record<string, string>) {
  return request(t.server).post('/auth/token').type('form').send(body);
}

describe('roles in access tokens and @Roles() (e2e)', () => {
  beforeAll(async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '3' }, { imports: [ReportsModule] });
    admin = t.app.get(UserAdministrationService);
  });
  afterAll(async () => {
    await t.close();
  });

  it('carries roles ([] when none), auth_time and amr in tokens from login, cookie refresh and both /auth/token grants', async () => {
    const { username, accessToken, refreshToken } = await login(t.server);
    const first = decodeJwt(accessToken).payload;
    expect(first).toMatchObject({ roles: [], amr: ['pwd'], auth_time: expect.any(Number) });
    expect(first.auth_time as number).toBeLessThanOrEqual(first.iat as number);

    await admin.grant(username, 'support', CLI);
    await admin.grant(username, 'admin', CLI);
    const refreshed = await refresh(t.server, refreshToken).expect(200);
    const viaCookie = decodeJwt(refreshed.body.access_token as string).payload;
    // A refresh keeps the session's login time and reads the roles anew.
    expect(viaCookie).toMatchObject({ roles: ['admin', 'support'], auth_time: first.auth_time, amr: ['pwd'] });

    const password = await tokenGrant({ grant_type: 'password', username, password: DEFAULT_PASSWORD }).expect(200);
    const viaPassword = decodeJwt(password.body.access_token as string).payload;
    expect(viaPassword).toMatchObject({ roles: ['admin', 'support'], amr: ['pwd'] });
    expect(viaPassword.sid).not.toBe(first.sid);

    await admin.revoke(username, 'support', CLI);
    const grant = await tokenGrant({
      grant_type: 'refresh_token',
      refresh_token: password.body.refresh_token as string,
    }).expect(200);
    const viaGrant = decodeJwt(grant.body.access_token as string).payload;
    expect(viaGrant).toMatchObject({ roles: ['admin'], auth_time: viaPassword.auth_time, amr: ['pwd'] });
    expect((await me(t.server, grant.body.access_token as string).expect(200)).body.roles).toEqual(['admin']);
  });

  it('answers 401 without a token, 403 insufficient_scope without the role, 200 with it; a change arrives at the next refresh', async () => {
    await request(t.server).get('/reports').expect(401);
    const { username, accessToken, refreshToken } = await login(t.server);
    const refused = await request(t.server).get('/reports').set('Authorization', `Bearer ${accessToken}`).expect(403);
    expect(refused.headers['www-authenticate']).toMatch(CHALLENGE);
    expect(refused.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'The access token does not grant access to this resource',
    });

    await admin.grant(username, 'admin', CLI);
    // The change cuts off the tokens already issued (their roles are stale): 401, not 403.
    const cutOff = await request(t.server).get('/reports').set('Authorization', `Bearer ${accessToken}`).expect(401);
    expect(cutOff.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    // The client's next refresh, right after the change, carries the new role and is not cut off.
    const next = await refresh(t.server, refreshToken).expect(200);
    const withRole = next.body.access_token as string;
    await request(t.server)
      .get('/reports')
      .set('Authorization', `Bearer ${withRole}`)
      .expect(200)
      .expect({ for: username });
    // One of several roles is enough.
    await request(t.server).get('/reports/shared').set('Authorization', `Bearer ${withRole}`).expect(200);

    await admin.revoke(username, 'admin', CLI);
    const after = await refresh(t.server, refreshCookie(next)!).expect(200);
    await request(t.server)
      .get('/reports')
      .set('Authorization', `Bearer ${after.body.access_token as string}`)
      .expect(403);
  });

  it('cuts off every older access token of the user (not of others) at a role change; tokens issued after it pass', async () => {
    const { username, accessToken, refreshToken } = await login(t.server);
    const second = await tokenGrant({ grant_type: 'password', username, password: DEFAULT_PASSWORD }).expect(200);
    const bystander = await login(t.server);
    const userId = decodeJwt(accessToken).payload.sub as string;

    await admin.grant(username, 'auditor', CLI);
    // Both sessions' tokens predate the change; the bystander's are not the user's.
    for (const token of [accessToken, second.body.access_token as string]) {
      const refused = await me(t.server, token).expect(401);
      expect(refused.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    }
    await me(t.server, bystander.accessToken).expect(200);

    // The sessions live on: each refresh right after the change gets a token at or after the cut-off.
    const cutOff = (await auditTypes(userId)).find((row) => row.type === 'tokens_cut_off')!.detail as {
      notBefore: number;
    };
    const viaCookie = await refresh(t.server, refreshToken).expect(200);
    const viaGrant = await tokenGrant({
      grant_type: 'refresh_token',
      refresh_token: second.body.refresh_token as string,
    }).expect(200);
    for (const token of [viaCookie.body.access_token as string, viaGrant.body.access_token as string]) {
      expect(decodeJwt(token).payload.iat as number).toBeGreaterThanOrEqual(cutOff.notBefore);
      expect((await me(t.server, token).expect(200)).body.roles).toEqual(['auditor']);
    }
    // A new login after the change is not cut off either.
    await me(t.server, (await login(t.server, username)).accessToken).expect(200);
  });

  it('cuts nothing off for a change that changes nothing', async () => {
    const { username, accessToken } = await login(t.server);
    await admin.grant(username, 'auditor', CLI);
    const fresh = await login(t.server, username);
    await expect(admin.grant(username, 'auditor', CLI)).resolves.toBe(false);
    await expect(admin.revoke(username, 'support', CLI)).resolves.toBe(false);
    await me(t.server, accessToken).expect(401);
    await me(t.server, fresh.accessToken).expect(200);
  });

  it('documents @Roles() routes with their 403 in the OpenAPI document', async () => {
    const doc = (await request(t.server).get('/docs-json').expect(200)).body as {
      paths: Record<string, { get: { responses: Record<string, { headers?: object }> } }>;
      components: { schemas: Record<string, { required?: string[]; properties: Record<string, unknown> }> };
    };
    const responses = doc.paths['/reports'].get.responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['401', '403']));
    expect(responses['403'].headers).toHaveProperty('WWW-Authenticate');
    expect(doc.components.schemas.MeResponseDto.required).toContain('roles');
    expect(doc.components.schemas.MeResponseDto.properties.roles).toMatchObject({ type: 'array' });
  });

  it('audits grants and revocations with the role, and no row for a change that changes nothing', async () => {
    const { username } = await register(t.server);
    const userId = (await admin.list()).find((user) => user.username === username)!.id;
    await expect(admin.grant(username, 'admin', CLI)).resolves.toBe(true);
    await expect(admin.grant(username, 'admin', CLI)).resolves.toBe(false);
    await expect(admin.revoke(username, 'admin', CLI)).resolves.toBe(true);
    await expect(admin.revoke(username, 'admin', CLI)).resolves.toBe(false);
    const cutOff = (reason: string) => ({
      type: 'tokens_cut_off',
      detail: { notBefore: expect.any(Number) as unknown as number, reason, via: 'cli' },
    });
    // A change and its cut-off share a timestamp: their order is not defined.
    const rows = await auditTypes(userId);
    expect(rows).toHaveLength(4);
    expect(rows).toEqual(
      expect.arrayContaining([
        { type: 'role_granted', detail: { role: 'admin', via: 'cli' } },
        cutOff('role_granted'),
        { type: 'role_revoked', detail: { role: 'admin', via: 'cli' } },
        cutOff('role_revoked'),
      ]),
    );
  });
});

describe('disabled users (e2e)', () => {
  beforeAll(async () => {
    t = await createTestApp({ LOGIN_MAX_FAILURES_PER_USER: '3' });
    admin = t.app.get(UserAdministrationService);
  });
  afterAll(async () => {
    await t.close();
  });

  it('revokes every session: refresh answers 401 and access tokens stop working', async () => {
    const { username, accessToken, refreshToken } = await login(t.server);
    const other = await tokenGrant({ grant_type: 'password', username, password: DEFAULT_PASSWORD }).expect(200);
    await expect(admin.disable(username, CLI)).resolves.toBe(true);
    await refresh(t.server, refreshToken).expect(401);
    await tokenGrant({ grant_type: 'refresh_token', refresh_token: other.body.refresh_token as string }).expect(400);
    await me(t.server, accessToken).expect(401);
  });

  it('answers the right password with 403 "This account is disabled", a wrong one with the usual 401', async () => {
    const { username } = await register(t.server);
    await admin.disable(username, CLI);
    const refused = await request(t.server)
      .post('/auth/login')
      .send({ username, password: DEFAULT_PASSWORD })
      .expect(403);
    expect(refused.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'This account is disabled' });
    expect(refreshCookie(refused)).toBeUndefined();
    const wrong = await request(t.server)
      .post('/auth/login')
      .send({ username, password: 'not the password' })
      .expect(401);
    expect(wrong.body.message).toBe('Invalid username or password');
  });

  it('creates no session for a login whose password was checked before the account was disabled', async () => {
    const { username } = await register(t.server);
    const auth = t.app.get(AuthService);
    const user = await auth.verifyLogin(username, DEFAULT_PASSWORD, {});
    expect(user).not.toBeNull();
    await admin.disable(username, CLI);
    await expect(auth.login(user!, {})).resolves.toBeNull();
  });

  it('answers the password grant with 400 invalid_grant "account disabled"', async () => {
    const { username } = await register(t.server);
    await admin.disable(username, CLI);
    const response = await tokenGrant({ grant_type: 'password', username, password: DEFAULT_PASSWORD }).expect(400);
    expect(response.body).toEqual({ error: 'invalid_grant', error_description: 'account disabled' });
    const wrong = await tokenGrant({ grant_type: 'password', username, password: 'not the password' }).expect(400);
    expect(wrong.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid username or password' });
  });

  it('still counts attempts toward the throttle (LOGIN_MAX_FAILURES_PER_USER=3)', async () => {
    const { username } = await register(t.server);
    await admin.disable(username, CLI);
    for (let i = 0; i < 3; i++)
      await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }).expect(403);
    await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }).expect(429);
  });

  it('lets the account log in again once enabled; both changes are audited', async () => {
    const { username } = await login(t.server);
    const userId = (await admin.list()).find((user) => user.username === username)!.id;
    await admin.disable(username, CLI);
    await expect(admin.disable(username, CLI)).resolves.toBe(false);
    expect((await admin.list()).find((user) => user.id === userId)!.disabledAt).toEqual(expect.any(Number));
    await expect(admin.enable(username, CLI)).resolves.toBe(true);
    await expect(admin.enable(username, CLI)).resolves.toBe(false);
    await login(t.server, username);
    const events = (await auditTypes(userId)).filter((event) => event.type.startsWith('user_'));
    expect(events).toEqual([
      { type: 'user_disabled', detail: { sessionsRevoked: 1, via: 'cli' } },
      { type: 'user_enabled', detail: { via: 'cli' } },
    ]);
  });
});

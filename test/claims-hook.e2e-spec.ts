import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable, Logger, Module } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuditEvent } from '../src/audit/audit-event.entity.js';
import {
  ACCESS_TOKEN_CLAIMS,
  type AccessTokenClaimsContext,
  type AccessTokenClaimsProvider,
} from '../src/auth/claims/access-token-claims.provider.js';
import { UserAdministrationService } from '../src/authz/user-administration.service.js';
import { ProjectsModule } from '../src/example/projects.module.js';
import { Session } from '../src/sessions/session.entity.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import {
  DEFAULT_PASSWORD,
  decodeJwt,
  expectNoStackTrace,
  login,
  refresh,
  refreshCookie,
  register,
} from './utils/http.js';

const ROOT = join(import.meta.dirname, '..');
/** The README's "Adding your own module" shows these files whole; this suite runs them. */
const EXAMPLE_FILES = [
  'src/example/projects.controller.ts',
  'src/example/project-claims.provider.ts',
  'src/example/projects.module.ts',
];
const CHALLENGE = /^Bearer realm="nest-token-auth", error="insufficient_scope"/;
const GENERIC_500 = { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
/** What the misbehaving provider says when it throws: the client must never see it. */
const SECRET_DETAIL = 'billing backend at 10.0.0.7 refused key sk_live_123';

type Mode = 'ok' | 'reserved' | 'throws';

/**
 * A second team's provider beside the README's, whose behaviour a test switches: the claims it
 * adds echo the context, `reserved` sets `sub`, `throws` throws.
 */
@Injectable()
class SwitchableClaimsProvider implements AccessTokenClaimsProvider {
  static mode: Mode = 'ok';

  async claims({ user, session, grant, scopes }: AccessTokenClaimsContext) {
    if (SwitchableClaimsProvider.mode === 'throws') throw new Error(SECRET_DETAIL);
    return {
      tenant: `tenant-of-${user.username}`,
      ctx: { grant, sid: session.id, sessionScopes: session.scopes, scopes, roles: user.roles },
      ...(SwitchableClaimsProvider.mode === 'reserved' ? { sub: 'someone-else' } : {}),
    };
  }
}

@Module({ providers: [{ provide: ACCESS_TOKEN_CLAIMS, useClass: SwitchableClaimsProvider }] })
class BillingModule {}

let t: TestApp;
let admin: UserAdministrationService;
let logged: jest.SpiedFunction<Logger['error']>;

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const claimsOf = (token: string) => decodeJwt(token).payload;
const tokenGrant = (body: Record<string, string>) => request(t.server).post('/auth/token').type('form').send(body);

async function sessionsOf(username: string): Promise<Session[]> {
  const userId = (await admin.list()).find((user) => user.username === username)!.id;
  return t.app
    .get(DataSource)
    .getRepository(Session)
    .find({ where: { userId }, order: { createdAt: 'ASC' } });
}

async function auditTypesOf(username: string): Promise<string[]> {
  const userId = (await admin.list()).find((user) => user.username === username)!.id;
  const rows = await t.app.get(DataSource).getRepository(AuditEvent).find({ where: { userId } });
  return rows.map((row) => row.type);
}

/** The error lines logged since the test began, as text. */
function errorLines(): string[] {
  return logged.mock.calls.map(([message]) => (typeof message === 'string' ? message : JSON.stringify(message)));
}

/** Exactly one line, from AccessTokenClaims, saying what happened; no stack logged by the filter. */
function expectOneLogLine(grant: string, problem: string): void {
  const lines = errorLines();
  expect(lines).toHaveLength(1);
  const entry = logged.mock.calls[0][0] as Record<string, unknown>;
  expect(entry).toMatchObject({ event: 'access_token_refused', grant, sessionRevoked: true });
  expect(entry.msg).toBe(
    `Access token not issued (${grant} grant): claims provider BillingModule/SwitchableClaimsProvider ${problem}; session revoked`,
  );
  expect(String(entry.msg)).not.toContain('\n');
}

/** The bare 500 every server error gets: nothing of the provider's, no cookie, no token. */
function expectGeneric500(response: request.Response): void {
  expect(response.status).toBe(500);
  expect(response.body).toEqual(GENERIC_500);
  expectNoStackTrace(response.text);
  for (const leak of ['BillingModule', 'Switchable', 'sub', 'reserved', 'claim', SECRET_DETAIL])
    expect(response.text).not.toContain(leak);
  expect(refreshCookie(response)).toBeUndefined();
}

describe('access-token claims providers (e2e)', () => {
  beforeAll(async () => {
    t = await createTestApp(
      { ALLOWED_SCOPES: 'projects:read projects:write', MAX_SESSIONS_PER_USER: '1' },
      { imports: [ProjectsModule, BillingModule] },
    );
    admin = t.app.get(UserAdministrationService);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    SwitchableClaimsProvider.mode = 'ok';
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    logged.mockRestore();
  });

  describe('README "Adding your own module"', () => {
    it('shows each file of src/example/ whole, as the code this suite runs', () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const section = readme.slice(readme.indexOf('\n## Adding your own module\n'));
      expect(section.startsWith('\n## Adding your own module\n')).toBe(true);
      const end = section.indexOf('\n## ', 1);
      const body = end === -1 ? section : section.slice(0, end);
      for (const file of EXAMPLE_FILES) {
        const code = readFileSync(join(ROOT, file), 'utf8');
        expect({ file, shown: body.includes(`\`${file}\`:\n\n\`\`\`ts\n${code}\`\`\`\n`) }).toEqual({
          file,
          shown: true,
        });
      }
    });

    it("carries the module's claim in every token, and its route wants the role: 401, 403, then 200 after a refresh", async () => {
      await request(t.server).get('/projects').expect(401);
      const { username, accessToken, refreshToken } = await login(t.server);
      expect(claimsOf(accessToken)).toMatchObject({ project_role: 'member', roles: [] });
      const refused = await request(t.server).get('/projects').set(bearer(accessToken)).expect(403);
      expect(refused.headers['www-authenticate']).toMatch(CHALLENGE);

      await admin.grant(username, 'project-lead', { via: 'cli' });
      const next = await refresh(t.server, refreshToken).expect(200);
      const lead = next.body.access_token as string;
      expect(claimsOf(lead)).toMatchObject({ project_role: 'lead', roles: ['project-lead'] });
      await request(t.server)
        .get('/projects')
        .set(bearer(lead))
        .expect(200)
        .expect({ lead: username, roles: ['project-lead'] });
    });
  });

  it('merges the claims of every module into tokens from login, both /auth/token grants and the cookie refresh', async () => {
    const { username, accessToken, refreshToken } = await login(t.server);
    const first = claimsOf(accessToken);
    expect(first).toMatchObject({
      project_role: 'member',
      tenant: `tenant-of-${username}`,
      ctx: { grant: 'password', sid: first.sid, sessionScopes: [], scopes: [], roles: [] },
      sub: expect.any(String),
      amr: ['pwd'],
    });
    expect(first.sub).not.toBe('someone-else');

    const viaCookie = claimsOf((await refresh(t.server, refreshToken).expect(200)).body.access_token as string);
    expect(viaCookie).toMatchObject({ project_role: 'member', tenant: `tenant-of-${username}` });
    expect(viaCookie.ctx).toMatchObject({ grant: 'refresh_token', sid: first.sid });

    const password = await tokenGrant({
      grant_type: 'password',
      username,
      password: DEFAULT_PASSWORD,
      scope: 'projects:read projects:write',
    }).expect(200);
    expect(claimsOf(password.body.access_token as string)).toMatchObject({
      tenant: `tenant-of-${username}`,
      scope: 'projects:read projects:write',
      ctx: { grant: 'password', scopes: ['projects:read', 'projects:write'] },
    });
    const narrowed = await tokenGrant({
      grant_type: 'refresh_token',
      refresh_token: password.body.refresh_token as string,
      scope: 'projects:read',
    }).expect(200);
    expect(claimsOf(narrowed.body.access_token as string)).toMatchObject({
      project_role: 'member',
      scope: 'projects:read',
      ctx: { grant: 'refresh_token', sessionScopes: ['projects:read', 'projects:write'], scopes: ['projects:read'] },
    });
    expect(errorLines()).toEqual([]);
  });

  describe('a provider that sets a registered claim, or throws', () => {
    it.each<[Mode, string]>([
      ['reserved', 'set the reserved claim "sub"'],
      ['throws', `threw: Error: ${SECRET_DETAIL}`],
    ])('%s at login: a bare 500, one log line, and no session left behind', async (mode, problem) => {
      const { username } = await register(t.server);
      // One live session already, and MAX_SESSIONS_PER_USER=1: a refused login must not have
      // evicted it for a session that never reached the client.
      const before = await login(t.server, username);
      SwitchableClaimsProvider.mode = mode;

      expectGeneric500(await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }));
      expectOneLogLine('password', problem);
      const viaGrant = await tokenGrant({ grant_type: 'password', username, password: DEFAULT_PASSWORD });
      expectGeneric500(viaGrant);
      expect(viaGrant.body.refresh_token).toBeUndefined();

      const sessions = await sessionsOf(username);
      expect(sessions).toHaveLength(3);
      expect(sessions.map((session) => session.revokedReason)).toEqual([
        null,
        'claims_provider_failed',
        'claims_provider_failed',
      ]);
      expect(sessions[0].id).toBe(claimsOf(before.accessToken).sid);
      // The refused logins are no successes in the user's audit log.
      expect((await auditTypesOf(username)).filter((type) => type === 'login_success')).toHaveLength(1);

      SwitchableClaimsProvider.mode = 'ok';
      await login(t.server, username);
    });

    it.each<[Mode, string]>([
      ['reserved', 'set the reserved claim "sub"'],
      ['throws', `threw: Error: ${SECRET_DETAIL}`],
    ])('%s at refresh: a bare 500, one log line, the session revoked (a retry is 401)', async (mode, problem) => {
      const { username, accessToken, refreshToken } = await login(t.server);
      SwitchableClaimsProvider.mode = mode;

      expectGeneric500(await refresh(t.server, refreshToken));
      expectOneLogLine('refresh_token', problem);
      const [session] = await sessionsOf(username);
      expect(session).toMatchObject({ id: claimsOf(accessToken).sid, revokedReason: 'claims_provider_failed' });

      // Within the grace window a lost answer may be retried: not this one, the session is over.
      SwitchableClaimsProvider.mode = 'ok';
      await refresh(t.server, refreshToken).expect(401);
    });

    it('refused at grant_type=refresh_token too, with the same bare 500', async () => {
      const { username } = await register(t.server);
      const pair = await tokenGrant({ grant_type: 'password', username, password: DEFAULT_PASSWORD }).expect(200);
      SwitchableClaimsProvider.mode = 'reserved';
      const refused = await tokenGrant({
        grant_type: 'refresh_token',
        refresh_token: pair.body.refresh_token as string,
      });
      expectGeneric500(refused);
      expectOneLogLine('refresh_token', 'set the reserved claim "sub"');
      SwitchableClaimsProvider.mode = 'ok';
      await tokenGrant({ grant_type: 'refresh_token', refresh_token: pair.body.refresh_token as string }).expect(400);
    });
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { compileSrc } from './utils/compile-src.js';
import { runNodeScript, type ScriptRun } from './utils/run-node-script.js';
import { createTestApp, tempSqliteUrl, type TestApp } from './utils/create-test-app.js';
import { DEFAULT_PASSWORD, decodeJwt, login, meUntil, refresh, register } from './utils/http.js';

let compiled: Awaited<ReturnType<typeof compileSrc>>;
let database: ReturnType<typeof tempSqliteUrl>;
let t: TestApp;

const ENV = {
  NODE_ENV: 'test',
  JWT_ISSUER: 'http://issuer.test',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  REGISTER_MAX_PER_IP: '1000000',
  LOGIN_MAX_PER_IP: '1000000',
};

/** `npm run users -- …` as an operator runs it beside the server: its own process, the same database. */
function users(...args: string[]): Promise<ScriptRun> {
  return runNodeScript(join(compiled.dir, 'src', 'cli', 'users.js'), args, {
    cwd: compiled.dir,
    env: { ...ENV, DATABASE_URL: database.url },
  });
}

async function auditRows(userId: string): Promise<Array<{ type: string; detail: string | null }>> {
  const placeholder = t.config.database.type === 'postgres' ? '$1' : '?';
  return t.app
    .get(DataSource)
    .query(
      `SELECT type, detail FROM audit_events WHERE user_id = ${placeholder} AND type NOT LIKE 'login%' ORDER BY created_at, id`,
      [userId],
    );
}

describe("npm run users (the operator CLI, spawned against a running app's database)", () => {
  beforeAll(async () => {
    compiled = await compileSrc();
    database = tempSqliteUrl();
    t = await createTestApp({ DATABASE_URL: database.url });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await database?.cleanup();
    compiled?.cleanup();
  });

  it('grants a role that the next refresh carries; revokes it; lists users with roles and state; audits each change', async () => {
    const { username, accessToken, refreshToken } = await login(t.server);
    const granted = await users('grant', username, 'admin');
    expect(granted).toEqual({
      status: 0,
      stdout: `Granted admin to ${username}; their older access tokens stop working within a second, the next refresh carries it\n`,
      stderr: '',
    });
    // Another process made the change: the server reads the cut-off within a second.
    // Within 750 ms (the session-state cache); timed in the CI suites, here it only has to happen.
    expect((await meUntil(t.server, accessToken, 401, 10_000)).status).toBe(401);
    const next = await refresh(t.server, refreshToken).expect(200);
    const claims = decodeJwt(next.body.access_token as string).payload;
    expect(claims.roles).toEqual(['admin']);

    expect((await users('grant', username, 'admin')).stdout).toBe(`${username} already has admin\n`);
    await users('grant', username, 'support');
    const listed = await users('list');
    expect(listed.status).toBe(0);
    const line = listed.stdout.split('\n').find((l) => l.split('\t')[1] === username);
    expect(line).toBe(`${claims.sub as string}\t${username}\tadmin,support\tactive`);

    const revoked = await users('revoke', username, 'support');
    expect(revoked.stdout).toBe(
      `Revoked support from ${username}; their older access tokens stop working within a second, the next refresh drops it\n`,
    );
    expect((await users('revoke', username, 'support')).stdout).toBe(`${username} does not have support\n`);

    const rows = await auditRows(claims.sub as string);
    const cutOff = (reason: string) => [
      'tokens_cut_off',
      { notBefore: expect.any(Number) as unknown as number, reason, via: 'cli' },
    ];
    // A change and its cut-off share a timestamp: their order is not defined.
    const audited = rows.map((row) => [row.type, JSON.parse(row.detail!)]);
    expect(audited).toHaveLength(6);
    expect(audited).toEqual(
      expect.arrayContaining([
        ['role_granted', { role: 'admin', via: 'cli' }],
        ['role_granted', { role: 'support', via: 'cli' }],
        ['role_revoked', { role: 'support', via: 'cli' }],
      ]),
    );
    expect(audited.filter(([type]) => type === 'tokens_cut_off')).toEqual([
      cutOff('role_granted'),
      cutOff('role_granted'),
      cutOff('role_revoked'),
    ]);
  });

  it('disables an account (its sessions revoked, login 403) and enables it again', async () => {
    const { username, refreshToken } = await login(t.server);
    const disabled = await users('disable', username);
    expect(disabled).toEqual({
      status: 0,
      stdout: `Disabled ${username}; all their sessions are revoked\n`,
      stderr: '',
    });
    // The revocation is in the database: the refresh token is refused.
    await refresh(t.server, refreshToken).expect(401);
    await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }).expect(403);
    const listed = await users('list');
    const line = listed.stdout.split('\n').find((l) => l.split('\t')[1] === username)!;
    expect(line.split('\t').slice(2)).toEqual(['-', expect.stringMatching(/^disabled since \d{4}-\d\d-\d\dT/)]);

    expect(await users('enable', username)).toEqual({ status: 0, stdout: `Enabled ${username}\n`, stderr: '' });
    expect((await users('enable', username)).stdout).toBe(`${username} is not disabled\n`);
    await login(t.server, username);
  });

  it('refuses an unknown user, a bad role name and a bad command line with one line on stderr and exit 1', async () => {
    const { username } = await register(t.server);
    const cases: Array<[string[], string]> = [
      [['grant', 'nobody-here', 'admin'], 'No user named "nobody-here"'],
      [['disable', 'nobody-here'], 'No user named "nobody-here"'],
      [['grant', username, 'Admin'], 'Invalid role name "Admin": it must match /^[a-z][a-z0-9_-]{0,31}$/'],
      [
        ['revoke', username, 'a'.repeat(33)],
        `Invalid role name "${'a'.repeat(33)}": it must match /^[a-z][a-z0-9_-]{0,31}$/`,
      ],
      [
        ['grant', username],
        'Usage: npm run users -- list | grant <username> <role> | revoke <username> <role> | disable <username> | enable <username>',
      ],
      [
        ['promote', username],
        'Usage: npm run users -- list | grant <username> <role> | revoke <username> <role> | disable <username> | enable <username>',
      ],
      [
        [],
        'Usage: npm run users -- list | grant <username> <role> | revoke <username> <role> | disable <username> | enable <username>',
      ],
    ];
    for (const [args, message] of cases) {
      expect({ args, ...(await users(...args)) }).toEqual({ args, status: 1, stdout: '', stderr: `${message}\n` });
    }
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { UserAdministrationService } from '../src/authz/user-administration.service.js';
import type { ApiClient } from '../src/clients/api-client.entity.js';
import { AuthenticatedClient, ClientAuth } from '../src/clients/client-auth.decorator.js';
import { ClientsModule } from '../src/clients/clients.module.js';
import { compileSrc } from './utils/compile-src.js';
import { runNodeScript, type ScriptRun } from './utils/run-node-script.js';
import { createTestApp, tempSqliteUrl, type TestApp } from './utils/create-test-app.js';
import { login } from './utils/http.js';

/** A route for clients in a module of its own, as the revocation feed is: @ClientAuth() from ClientsModule. */
@Controller('client-whoami')
class WhoAmIController {
  @Get()
  @ClientAuth()
  whoami(@AuthenticatedClient() client: ApiClient) {
    return { client_id: client.id, name: client.name };
  }
}

@Module({ imports: [ClientsModule], controllers: [WhoAmIController] })
class WhoAmIModule {}

const USAGE = 'Usage: npm run clients -- create <name> | list | delete <client_id>';
const ENV = {
  NODE_ENV: 'test',
  JWT_ISSUER: 'http://issuer.test',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  REGISTER_MAX_PER_IP: '1000000',
  LOGIN_MAX_PER_IP: '1000000',
};

let compiled: Awaited<ReturnType<typeof compileSrc>>;
let database: ReturnType<typeof tempSqliteUrl>;
let t: TestApp;

/** `npm run clients -- …` as an operator runs it beside the server: its own process, the same database. */
function clients(...args: string[]): Promise<ScriptRun> {
  return runNodeScript(join(compiled.dir, 'src', 'cli', 'clients.js'), args, {
    cwd: compiled.dir,
    env: { ...ENV, DATABASE_URL: database.url },
  });
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** Whether the server takes these client credentials (introspection answers 200, not 401). */
async function authenticates(id: string, secret: string): Promise<boolean> {
  const response = await request(t.server)
    .post('/auth/introspect')
    .set('Authorization', basic(id, secret))
    .type('form')
    .send({ token: 'x' });
  expect([200, 401]).toContain(response.status);
  return response.status === 200;
}

function sql(text: string): string {
  let n = 0;
  return t.config.database.type === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text;
}

async function clientAudit(clientId: string): Promise<Array<{ type: string; userId: string | null; detail: unknown }>> {
  const rows = await t.app
    .get(DataSource)
    .query<Array<{ type: string; user_id: string | null; detail: string }>>(
      sql(`SELECT type, user_id, detail FROM audit_events WHERE type LIKE 'client_%' ORDER BY created_at, id`),
    );
  return rows
    .map((row) => ({ type: row.type, userId: row.user_id, detail: JSON.parse(row.detail) as { clientId: string } }))
    .filter((row) => row.detail.clientId === clientId);
}

/** Every stored value of the clients table, as text. */
async function storedClientRows(): Promise<string> {
  return JSON.stringify(await t.app.get(DataSource).query('SELECT * FROM clients'));
}

describe('resource-server clients: npm run clients and /admin/clients (e2e)', () => {
  beforeAll(async () => {
    compiled = await compileSrc();
    database = tempSqliteUrl();
    t = await createTestApp({ DATABASE_URL: database.url }, { imports: [WhoAmIModule] });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await database?.cleanup();
    compiled?.cleanup();
  });

  describe("npm run clients (spawned against the running app's database)", () => {
    it('creates a client: two lines, client_id and client_secret; the secret authenticates and is stored only hashed', async () => {
      const created = await clients('create', 'orders api');
      expect(created.status).toBe(0);
      expect(created.stderr).toBe('');
      expect(created.stdout).toMatch(/^client_id=[A-Za-z0-9_-]{22}\nclient_secret=[A-Za-z0-9_-]{43}\n$/);
      const [id, secret] = created.stdout
        .trim()
        .split('\n')
        .map((line) => line.slice(line.indexOf('=') + 1));
      expect(await authenticates(id, secret)).toBe(true);
      expect(await authenticates(id, `${secret}x`)).toBe(false);

      const stored = await storedClientRows();
      expect(stored).toContain(id);
      expect(stored).not.toContain(secret);

      expect(await clientAudit(id)).toEqual([
        { type: 'client_created', userId: null, detail: { clientId: id, name: 'orders api', via: 'cli' } },
      ]);
    });

    it('lists clients (id, name, creation time) without secrets, and deletes one: its secret stops working at once', async () => {
      const created = await clients('create', 'billing');
      const [id, secret] = created.stdout
        .trim()
        .split('\n')
        .map((line) => line.slice(line.indexOf('=') + 1));
      const listed = await clients('list');
      expect(listed.status).toBe(0);
      expect(listed.stdout).not.toContain(secret);
      const line = listed.stdout.split('\n').find((l) => l.startsWith(`${id}\t`));
      expect(line?.split('\t')).toEqual([id, 'billing', expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/)]);

      expect(await clients('delete', id)).toEqual({
        status: 0,
        stdout: `Deleted client ${id}; its secret no longer authenticates\n`,
        stderr: '',
      });
      expect(await authenticates(id, secret)).toBe(false);
      expect((await clients('list')).stdout).not.toContain(id);
      expect((await clientAudit(id)).map((row) => row.type)).toEqual(['client_created', 'client_deleted']);
    });

    it('refuses an unknown client, a bad name and a bad command line with one line on stderr and exit 1', async () => {
      const cases: Array<[string[], string]> = [
        [['delete', 'no-such-client'], 'No client "no-such-client"'],
        [['create', ' '], 'A client name must be 1 to 100 characters without control characters'],
        [['create', 'x'.repeat(101)], 'A client name must be 1 to 100 characters without control characters'],
        [['create', 'tab\there'], 'A client name must be 1 to 100 characters without control characters'],
        [['create'], USAGE],
        [['create', 'a', 'b'], USAGE],
        [['delete'], USAGE],
        [['rotate', 'x'], USAGE],
        [[], USAGE],
      ];
      for (const [args, message] of cases) {
        expect({ args, ...(await clients(...args)) }).toEqual({ args, status: 1, stdout: '', stderr: `${message}\n` });
      }
    });
  });

  describe('/admin/clients', () => {
    let admin: { token: string; userId: string };
    let user: string;

    beforeAll(async () => {
      const operator = await login(t.server);
      await t.app.get(UserAdministrationService).grant(operator.username, 'admin', { via: 'cli' });
      const session = await login(t.server, operator.username);
      const sub = JSON.parse(Buffer.from(session.accessToken.split('.')[1], 'base64url').toString()) as { sub: string };
      admin = { token: session.accessToken, userId: sub.sub };
      user = (await login(t.server)).accessToken;
    });

    const as = (token: string, req: request.Test) => req.set('Authorization', `Bearer ${token}`);

    it('POST creates a client: 201 {client_id, client_secret, name, createdAt}, no-store; the secret works; audited', async () => {
      const response = await as(admin.token, request(t.server).post('/admin/clients'))
        .send({ name: 'inventory' })
        .expect(201);
      expect(response.body).toEqual({
        client_id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        name: 'inventory',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      });
      expect(response.headers['cache-control']).toBe('no-store');
      const { client_id: id, client_secret: secret } = response.body as { client_id: string; client_secret: string };
      expect(await authenticates(id, secret)).toBe(true);
      expect(await storedClientRows()).not.toContain(secret);
      expect(await clientAudit(id)).toEqual([
        { type: 'client_created', userId: admin.userId, detail: { clientId: id, name: 'inventory', via: 'api' } },
      ]);
    });

    it('GET lists clients without any secret', async () => {
      const created = await as(admin.token, request(t.server).post('/admin/clients')).send({ name: 'shipping' });
      const listed = await as(admin.token, request(t.server).get('/admin/clients')).expect(200);
      expect(listed.body).toContainEqual({
        client_id: created.body.client_id,
        name: 'shipping',
        createdAt: created.body.createdAt,
      });
      expect(JSON.stringify(listed.body)).not.toContain(created.body.client_secret);
      expect(JSON.stringify(listed.body)).not.toMatch(/secret/i);
    });

    it('DELETE answers 204, then 404; the secret stops working at once; audited', async () => {
      const created = await as(admin.token, request(t.server).post('/admin/clients')).send({ name: 'doomed' });
      const { client_id: id, client_secret: secret } = created.body as { client_id: string; client_secret: string };
      await as(admin.token, request(t.server).delete(`/admin/clients/${id}`)).expect(204);
      expect(await authenticates(id, secret)).toBe(false);
      const again = await as(admin.token, request(t.server).delete(`/admin/clients/${id}`)).expect(404);
      expect(again.body.message).toBe('Client not found');
      await as(admin.token, request(t.server).delete(`/admin/clients/${'x'.repeat(100)}`)).expect(404);
      expect((await clientAudit(id)).map((row) => [row.type, row.userId])).toEqual([
        ['client_created', admin.userId],
        ['client_deleted', admin.userId],
      ]);
    });

    it('refuses invalid names with 400', async () => {
      for (const body of [
        {},
        { name: '' },
        { name: ' ' },
        { name: 'x'.repeat(101) },
        { name: 'a\u0000b' },
        { name: 7 },
      ]) {
        const response = await as(admin.token, request(t.server).post('/admin/clients')).send(body);
        expect({ body, status: response.status }).toEqual({ body, status: 400 });
      }
    });

    it('is for admins only: 401 without a token, 403 for a user without the role', async () => {
      await request(t.server).get('/admin/clients').expect(401);
      await request(t.server).post('/admin/clients').send({ name: 'x' }).expect(401);
      await request(t.server).delete('/admin/clients/x').expect(401);
      await as(user, request(t.server).get('/admin/clients')).expect(403);
      await as(user, request(t.server).post('/admin/clients')).send({ name: 'x' }).expect(403);
      await as(user, request(t.server).delete('/admin/clients/x')).expect(403);
    });

    it("@ClientAuth() in another module: the handler gets the client from @AuthenticatedClient(); users' tokens are refused", async () => {
      const created = await as(admin.token, request(t.server).post('/admin/clients')).send({ name: 'feed reader' });
      const { client_id: id, client_secret: secret } = created.body as { client_id: string; client_secret: string };
      const response = await request(t.server)
        .get('/client-whoami')
        .set('Authorization', basic(id, secret))
        .expect(200);
      expect(response.body).toEqual({ client_id: id, name: 'feed reader' });
      const refused = await as(admin.token, request(t.server).get('/client-whoami')).expect(401);
      expect(refused.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(refused.headers['www-authenticate']).toMatch(/^Basic realm=/);
    });

    it('client credentials are no admin token: Basic on /admin/clients is a 401', async () => {
      const created = await as(admin.token, request(t.server).post('/admin/clients')).send({ name: 'sneaky' });
      await request(t.server)
        .get('/admin/clients')
        .set('Authorization', basic(created.body.client_id as string, created.body.client_secret as string))
        .expect(401);
    });
  });
});

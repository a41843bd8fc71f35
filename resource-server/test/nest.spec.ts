import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Inject, Module, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { ClientAuthenticationError, type TokenVerifier } from '../src/index.js';
import {
  Principal,
  Public,
  ResourceServerGuard,
  ResourceServerModule,
  Roles,
  Scopes,
  TOKEN_VERIFIER,
} from '../src/nest/index.js';
import { FakeAuthServer, rejectionOf } from './fake-auth-server.js';

@Controller()
class OpenController {
  @Public()
  @Get('health')
  health() {
    return { ok: true };
  }

  @Get('me')
  me(@Principal() caller: Principal) {
    return { sub: caller.sub, roles: caller.roles };
  }

  @Get('my-session')
  session(@Principal('sid') sid: string) {
    return { sid };
  }
}

@Roles('admin')
@Controller('admin')
class AdminController {
  constructor(@Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier) {}

  @Get('stats')
  stats() {
    return { admin: true, verifierInjected: typeof this.verifier.verify === 'function' };
  }

  // The handler's @Roles replaces the controller's.
  @Roles('support', 'admin')
  @Get('tickets')
  tickets() {
    return { tickets: [] };
  }
}

@Scopes('orders:read')
@Controller('orders')
class OrdersController {
  @Get()
  list() {
    return { orders: [] };
  }

  // The handler's @Scopes add to the controller's: both are needed.
  @Scopes('orders:write')
  @Get('write')
  write() {
    return { written: true };
  }
}

describe('ResourceServerModule (Nest, Fastify adapter)', () => {
  let fake: FakeAuthServer;
  let app: NestFastifyApplication;

  const get = async (url: string, token?: string) => {
    const res = await app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.statusCode, headers: res.headers, body: res.json<unknown>() };
  };

  beforeAll(async () => {
    fake = await FakeAuthServer.start();
    @Module({
      imports: [ResourceServerModule.forRoot({ ...fake.verifierOptions(), resource: 'https://api.test' })],
      controllers: [OpenController, AdminController, OrdersController],
    })
    class ApiModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ApiModule] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('protects every route by default, with the RFC 6750 answer and header', async () => {
    const res = await get('/me');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'A Bearer access token is required' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer resource_metadata="https://api.test/.well-known/oauth-protected-resource"',
    );

    const expired = await get('/me', await fake.sign({}, { expiresIn: -60 }));
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('@Public() opens a route', async () => {
    expect(await get('/health')).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('@Principal() hands over the caller, or one of its fields', async () => {
    const token = await fake.sign({ sub: 'u1', sid: 's1', roles: ['viewer'] });
    expect((await get('/me', token)).body).toEqual({ sub: 'u1', roles: ['viewer'] });
    expect((await get('/my-session', token)).body).toEqual({ sid: 's1' });
  });

  it('@Roles(): at least one; a handler’s list replaces the controller’s', async () => {
    const admin = await fake.sign({ roles: ['admin'] });
    const support = await fake.sign({ roles: ['support'] });
    expect(await get('/admin/stats', admin)).toMatchObject({
      status: 200,
      body: { admin: true, verifierInjected: true },
    });
    const refused = await get('/admin/stats', support);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'insufficient_scope' });
    expect(refused.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect((await get('/admin/tickets', support)).status).toBe(200);
  });

  it('@Scopes(): all of them; a handler’s add to the controller’s', async () => {
    const reader = await fake.sign({ scope: 'orders:read' });
    const writer = await fake.sign({ scope: 'orders:write' });
    const both = await fake.sign({ scope: 'orders:read orders:write' });
    expect((await get('/orders', reader)).status).toBe(200);
    expect((await get('/orders/write', reader)).status).toBe(403);
    expect((await get('/orders/write', writer)).status).toBe(403);
    const ok = await get('/orders/write', both);
    expect(ok.status).toBe(200);
    const refused = await get('/orders/write', reader);
    expect(refused.headers['www-authenticate']).toContain('scope="orders:read orders:write"');
  });

  it('refuses a revoked session at once', async () => {
    const token = await fake.sign({ sid: 'nest-revoked' });
    expect((await get('/me', token)).status).toBe(200);
    fake.revokeSession('nest-revoked');
    const deadline = Date.now() + 5000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await get('/me', token)).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(status).toBe(401);
  });

  it('serves the RFC 9728 metadata without a token', async () => {
    expect(await get('/.well-known/oauth-protected-resource')).toMatchObject({
      status: 200,
      body: {
        resource: 'https://api.test',
        authorization_servers: [fake.issuer],
        bearer_methods_supported: ['header'],
      },
    });
  });

  it('refuses non-HTTP contexts (WebSockets, RPC) unless @Public(), since it cannot read their credentials', async () => {
    const guard = new ResourceServerGuard(new Reflector(), app.get<TokenVerifier>(TOKEN_VERIFIER));
    const context = (handler: (...args: never[]) => unknown) =>
      ({
        getType: () => 'ws',
        getHandler: () => handler,
        getClass: () => OpenController,
      }) as unknown as ExecutionContext;
    await expect(guard.canActivate(context(OpenController.prototype.me))).resolves.toBe(false);
    await expect(guard.canActivate(context(OpenController.prototype.health))).resolves.toBe(true);
  });

  it('fails start-up with the client-authentication error when the secret is wrong', async () => {
    @Module({ imports: [ResourceServerModule.forRoot({ ...fake.verifierOptions(), clientSecret: 'wrong' })] })
    class BadModule {}
    const error = await rejectionOf(Test.createTestingModule({ imports: [BadModule] }).compile());
    expect(error).toBeInstanceOf(ClientAuthenticationError);
  });
});

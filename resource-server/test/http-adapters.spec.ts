import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import request from 'supertest';
import {
  bearerAuth,
  createTokenVerifier,
  fastifyBearerAuth,
  protectedResourceHandler,
  protectedResourceMetadataPath,
  type AuthenticatedRequest,
  type TokenVerifier,
} from '../src/index.js';
import { FakeAuthServer } from './fake-auth-server.js';

const RESOURCE = 'https://api.test/orders';
const METADATA_URL = 'https://api.test/.well-known/oauth-protected-resource/orders';

/** The same routes on Express and on Fastify, checked by the same table. */
interface Target {
  name: string;
  get(
    path: string,
    authorization?: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }>;
}

describe('bearerAuth (Express) and fastifyBearerAuth', () => {
  let fake: FakeAuthServer;
  let verifier: TokenVerifier;
  let fastify: FastifyInstance;
  let app: express.Express;
  let tokens: Record<'plain' | 'editor' | 'reader' | 'readerWriter' | 'expired', string>;

  beforeAll(async () => {
    fake = await FakeAuthServer.start();
    verifier = createTokenVerifier({
      ...fake.verifierOptions(),
      resource: RESOURCE,
      scopesSupported: ['orders:read', 'orders:write'],
    });
    await verifier.ready();
    tokens = {
      plain: await fake.sign({ sub: 'plain' }),
      editor: await fake.sign({ sub: 'editor', roles: ['editor'] }),
      reader: await fake.sign({ sub: 'reader', scope: 'orders:read' }),
      readerWriter: await fake.sign({ sub: 'rw', scope: 'orders:write orders:read profile' }),
      expired: await fake.sign({}, { expiresIn: -60 }),
    };

    app = express();
    app.get(protectedResourceMetadataPath(RESOURCE), protectedResourceHandler(verifier));
    app.get('/me', bearerAuth(verifier), (req, res) => {
      res.json({ sub: (req as AuthenticatedRequest).auth!.sub });
    });
    app.get('/staff', bearerAuth(verifier, { roles: ['admin', 'editor'] }), (req, res) => {
      res.json({ sub: (req as AuthenticatedRequest).auth!.sub });
    });
    app.get('/orders', bearerAuth(verifier, { scopes: ['orders:read', 'orders:write'] }), (req, res) => {
      res.json({ sub: (req as AuthenticatedRequest).auth!.sub });
    });

    fastify = Fastify();
    fastify.decorateRequest('auth', null);
    fastify.get(protectedResourceMetadataPath(RESOURCE), async () => verifier.resourceMetadata);
    fastify.register(async (scoped) => {
      scoped.addHook('onRequest', fastifyBearerAuth(verifier));
      scoped.get('/me', async (req) => ({ sub: (req as unknown as AuthenticatedRequest).auth!.sub }));
      scoped.get('/staff', { onRequest: fastifyBearerAuth(verifier, { roles: ['admin', 'editor'] }) }, async (req) => ({
        sub: (req as unknown as AuthenticatedRequest).auth!.sub,
      }));
      scoped.get(
        '/orders',
        { onRequest: fastifyBearerAuth(verifier, { scopes: ['orders:read', 'orders:write'] }) },
        async (req) => ({
          sub: (req as unknown as AuthenticatedRequest).auth!.sub,
        }),
      );
    });
    await fastify.ready();
  });
  afterAll(async () => {
    await fastify?.close();
    await verifier?.close();
    await fake?.close();
  });

  const targets: Target[] = [
    {
      name: 'Express',
      async get(path, authorization) {
        const req = request(app).get(path);
        if (authorization !== undefined) req.set('Authorization', authorization);
        const res = await req;
        return { status: res.status, headers: res.headers, body: res.body };
      },
    },
    {
      name: 'Fastify',
      async get(path, authorization) {
        const res = await fastify.inject({
          method: 'GET',
          url: path,
          headers: authorization === undefined ? {} : { authorization },
        });
        return { status: res.statusCode, headers: res.headers, body: res.json() };
      },
    },
  ];

  for (const target of targets) {
    describe(target.name, () => {
      it('lets a valid token through and hands the route the principal', async () => {
        const res = await target.get('/me', `Bearer ${tokens.plain}`);
        expect([res.status, res.body]).toEqual([200, { sub: 'plain' }]);
        // The scheme is case-insensitive (RFC 6750 §2.1 via RFC 9110).
        expect((await target.get('/me', `bearer ${tokens.plain}`)).status).toBe(200);
      });

      it('answers 401 with a bare challenge (no error code) when there is no token, per RFC 6750 §3.1', async () => {
        for (const authorization of [undefined, `Basic ${Buffer.from('a:b').toString('base64')}`]) {
          const res = await target.get('/me', authorization);
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toBe(`Bearer resource_metadata="${METADATA_URL}"`);
          expect(res.body).toEqual({ error: 'invalid_token', error_description: 'A Bearer access token is required' });
          expect(res.headers['cache-control']).toBe('no-store');
        }
      });

      it('answers 401 invalid_token for an expired, forged or malformed token', async () => {
        for (const [token, description] of [
          [tokens.expired, 'The access token expired'],
          [`${tokens.plain.slice(0, -4)}AAAA`, 'The access token is invalid'],
          ['not a token', 'The access token is malformed'],
        ]) {
          const res = await target.get('/me', `Bearer ${token}`);
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toBe(
            `Bearer error="invalid_token", error_description="${description}", resource_metadata="${METADATA_URL}"`,
          );
          expect(res.body).toEqual({ error: 'invalid_token', error_description: description });
        }
      });

      it('roles: needs at least one of them, else 403 insufficient_scope', async () => {
        expect((await target.get('/staff', `Bearer ${tokens.editor}`)).body).toEqual({ sub: 'editor' });
        const res = await target.get('/staff', `Bearer ${tokens.plain}`);
        expect(res.status).toBe(403);
        expect(res.headers['www-authenticate']).toBe(
          'Bearer error="insufficient_scope", error_description="The access token lacks a required role (one of: admin, editor)", ' +
            `resource_metadata="${METADATA_URL}"`,
        );
        expect(res.body).toEqual({
          error: 'insufficient_scope',
          error_description: 'The access token lacks a required role (one of: admin, editor)',
        });
      });

      it('scopes: needs all of them, else 403 with error="insufficient_scope" and the scope it needs', async () => {
        expect((await target.get('/orders', `Bearer ${tokens.readerWriter}`)).body).toEqual({ sub: 'rw' });
        const res = await target.get('/orders', `Bearer ${tokens.reader}`);
        expect(res.status).toBe(403);
        expect(res.headers['www-authenticate']).toBe(
          'Bearer error="insufficient_scope", error_description="The access token lacks a required scope (all of: orders:read orders:write)", ' +
            `scope="orders:read orders:write", resource_metadata="${METADATA_URL}"`,
        );
      });

      it('refuses a revoked session at once, on every route', async () => {
        const token = await fake.sign({ sid: `revoked-on-${target.name}` });
        expect((await target.get('/me', `Bearer ${token}`)).status).toBe(200);
        fake.revokeSession(`revoked-on-${target.name}`);
        const deadline = Date.now() + 5000;
        let status = 200;
        while (status === 200 && Date.now() < deadline) {
          status = (await target.get('/me', `Bearer ${token}`)).status;
          if (status === 200) await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(status).toBe(401);
      });

      it('serves the RFC 9728 metadata', async () => {
        const res = await target.get('/.well-known/oauth-protected-resource/orders');
        expect([res.status, res.body]).toEqual([
          200,
          {
            resource: RESOURCE,
            authorization_servers: [fake.issuer],
            bearer_methods_supported: ['header'],
            scopes_supported: ['orders:read', 'orders:write'],
          },
        ]);
      });
    });
  }

  it('refuses empty or malformed requirements when the middleware is built', () => {
    expect(() => bearerAuth(verifier, { roles: [] })).toThrow(/roles must be a non-empty array/);
    expect(() => fastifyBearerAuth(verifier, { scopes: [''] })).toThrow(/scopes must be a non-empty array/);
  });

  it('answers 503 with Retry-After when it cannot vouch for a token', async () => {
    const strict = createTokenVerifier({ ...fake.verifierOptions(), whenStale: 'reject' });
    await strict.close();
    const strictApp = express().get('/me', bearerAuth(strict), (_req, res) => {
      res.json({});
    });
    const res = await request(strictApp).get('/me').set('Authorization', `Bearer ${tokens.plain}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The authorization server cannot be reached; try again shortly',
    });
  });
});

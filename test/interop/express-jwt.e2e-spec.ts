import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import express, { type NextFunction, type Response } from 'express';
import { expressjwt, type GetVerificationKey, type Request as JwtRequest } from 'express-jwt';
import * as jose from 'jose';
import { KeysService } from '../../src/keys/keys.service.js';
import { forgeJwt } from '../utils/http.js';
import {
  closeHttpServer,
  fetchJwks,
  flipSignatureChar,
  jwtHeader,
  listenLocal,
  loginOverHttp,
  meOverHttp,
  startListeningApp,
  tamperPayload,
  type ListeningApp,
} from './interop-helpers.js';

// jwks-rsa@4 is CommonJS and does `require('jose')`, but jose@6 is ESM-only. Node >= 20.19 can
// require(esm); jest's module loader cannot (before Node 24.9). Hand jest's CJS registry the very
// same jose module, loaded as ESM, so jwks-rsa runs unmodified against the real library.
jest.mock('jose', () => jose);
const { default: jwksRsa } = await import('jwks-rsa');

/**
 * A separate express API that trusts our tokens knowing only the issuer URL: express-jwt verifies,
 * jwks-rsa fetches (and caches) our JWKS over HTTP.
 */
describe('express + express-jwt + jwks-rsa as a resource server', () => {
  let s: ListeningApp;
  let api: Server | undefined;
  let apiUrl: string;

  beforeAll(async () => {
    s = await startListeningApp();
    const app = express();
    const guard = (issuer: string) =>
      expressjwt({
        secret: jwksRsa.expressJwtSecret({
          jwksUri: `${s.issuer}/.well-known/jwks.json`,
          cache: true,
        }) as GetVerificationKey,
        algorithms: ['RS256'],
        issuer,
      });
    app.get('/protected', guard(s.issuer), (req: JwtRequest, res: Response) => {
      res.json({ sub: req.auth?.sub });
    });
    app.get('/protected-elsewhere', guard('http://other-issuer.test'), (req: JwtRequest, res: Response) => {
      res.json({ sub: req.auth?.sub });
    });
    // express-jwt signals failures as UnauthorizedError (status 401, code e.g. invalid_token).
    app.use((error: { status?: number; code?: string }, _req: JwtRequest, res: Response, _next: NextFunction) => {
      res.status(error.status ?? 500).json({ code: error.code ?? 'server_error' });
    });
    api = createServer(app);
    apiUrl = await listenLocal(api);
  });
  afterAll(async () => {
    await closeHttpServer(api);
    await s?.close();
  });

  const callApi = async (path: string, accessToken?: string) => {
    const response = await fetch(`${apiUrl}${path}`, {
      headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('accepts an access token from our service and sees the right sub', async () => {
    const session = await loginOverHttp(s.issuer);
    const me = await meOverHttp(s.issuer, session.accessToken);
    expect(me.status).toBe(200);

    await expect(callApi('/protected', session.accessToken)).resolves.toEqual({
      status: 200,
      body: { sub: (me.body as { id: string }).id },
    });
  });

  it('answers 401 for a tampered token (payload changed or signature altered)', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    await expect(callApi('/protected', tamperPayload(accessToken, { sub: 'someone-else' }))).resolves.toEqual({
      status: 401,
      body: { code: 'invalid_token' },
    });
    await expect(callApi('/protected', flipSignatureChar(accessToken))).resolves.toEqual({
      status: 401,
      body: { code: 'invalid_token' },
    });
  });

  it('answers 401 without a token', async () => {
    await expect(callApi('/protected')).resolves.toEqual({ status: 401, body: { code: 'credentials_required' } });
  });

  it('answers 401 when the API expects another issuer', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    await expect(callApi('/protected-elsewhere', accessToken)).resolves.toEqual({
      status: 401,
      body: { code: 'invalid_token' },
    });
  });

  it('answers 401 for an HS256 token forged with our public key as the HMAC secret (alg confusion)', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    const { jwks } = await fetchJwks(s.issuer);
    const publicPem = await jose.exportSPKI((await jose.importJWK(jwks.keys[0], 'RS256')) as jose.CryptoKey);
    const { kid } = jwtHeader(accessToken);
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const forged = forgeJwt({ alg: 'HS256', typ: 'at+jwt', kid }, claims, publicPem);

    await expect(callApi('/protected', forged)).resolves.toEqual({ status: 401, body: { code: 'invalid_token' } });
    expect((await meOverHttp(s.issuer, forged)).status).toBe(401);
  });

  // Last: it rotates the app's signing key.
  it('keeps accepting old tokens after a key rotation, and learns the new kid despite its JWKS cache', async () => {
    const before = await loginOverHttp(s.issuer);
    await expect(callApi('/protected', before.accessToken)).resolves.toMatchObject({ status: 200 }); // caches the old key

    const rotated = await s.t.app.get(KeysService).rotate();
    const after = await loginOverHttp(s.issuer);
    expect(jwtHeader(after.accessToken).kid).toBe(rotated.kid);

    await expect(callApi('/protected', after.accessToken)).resolves.toMatchObject({ status: 200 });
    await expect(callApi('/protected', before.accessToken)).resolves.toMatchObject({ status: 200 });
  });
});

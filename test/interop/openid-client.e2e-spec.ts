import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { registerOverHttp, rejectionOf, startListeningApp, type ListeningApp } from './interop-helpers.js';

/** An off-the-shelf OAuth 2.0 client (openid-client v6, RFC 8414 discovery) against our token endpoints. */
describe('openid-client v6 against /auth/token and /auth/revoke', () => {
  let s: ListeningApp;
  let config: client.Configuration;
  let user: { username: string; password: string };

  beforeAll(async () => {
    // No grace window: a replayed refresh token is a reuse at once.
    s = await startListeningApp({ REFRESH_REUSE_GRACE: '0' });
    user = await registerOverHttp(s.issuer);
    // Public client: no secret, so openid-client authenticates with `none` (client_id in the body).
    config = await client.discovery(new URL(s.issuer), 'interop-client', undefined, undefined, {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  /** The OAuth error openid-client raised for a 400 `{error, error_description}` response. */
  async function oauthError(promise: Promise<unknown>) {
    const error = await rejectionOf(promise);
    expect(error).toBeInstanceOf(client.ResponseBodyError);
    const { status, cause } = error as unknown as client.ResponseBodyError;
    return { error: error.error, status, body: cause };
  }

  const passwordGrant = () =>
    client.genericGrantRequest(config, 'password', { username: user.username, password: user.password });

  it('discovers the RFC 8414 metadata at the issuer', () => {
    expect(config.serverMetadata()).toMatchObject({
      issuer: s.issuer,
      token_endpoint: `${s.issuer}/auth/token`,
      revocation_endpoint: `${s.issuer}/auth/revoke`,
      jwks_uri: `${s.issuer}/.well-known/jwks.json`,
      token_endpoint_auth_methods_supported: ['none'],
    });
    expect([...config.serverMetadata().grant_types_supported!].sort()).toEqual(['password', 'refresh_token']);
  });

  it('gets a token pair with the password grant; the access token verifies against the discovered jwks_uri', async () => {
    const tokens = await passwordGrant();
    expect(tokens).toMatchObject({
      access_token: expect.any(String),
      token_type: 'bearer', // openid-client lower-cases it
      expires_in: 3600,
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: s.issuer,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });

    const response = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(`${s.issuer}/auth/me`),
      'GET',
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: payload.sub, username: user.username, roles: [] });
  });

  it('reports a wrong password as invalid_grant', async () => {
    const failure = await oauthError(
      client.genericGrantRequest(config, 'password', { username: user.username, password: 'not the password' }),
    );
    expect(failure).toEqual({
      error: 'invalid_grant',
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.any(String) },
    });
  });

  it('rotates with refreshTokenGrant; replaying the used refresh token is invalid_grant and ends the session', async () => {
    const first = await passwordGrant();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]{43}$/));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    const claims = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { sid: string };
    expect(claims(second.access_token).sid).toBe(claims(first.access_token).sid);

    expect((await oauthError(client.refreshTokenGrant(config, first.refresh_token!))).error).toBe('invalid_grant');
    // Reuse detection revokes the whole session, so the legitimate newest token dies too.
    expect((await oauthError(client.refreshTokenGrant(config, second.refresh_token!))).error).toBe('invalid_grant');
  });

  it('revokes with tokenRevocation; the revoked refresh token is then invalid_grant', async () => {
    const tokens = await passwordGrant();
    await expect(client.tokenRevocation(config, tokens.refresh_token!)).resolves.toBeUndefined();
    expect((await oauthError(client.refreshTokenGrant(config, tokens.refresh_token!))).error).toBe('invalid_grant');
  });

  it('after revocation the access token is refused with an RFC 6750 challenge openid-client can parse', async () => {
    const tokens = await passwordGrant();
    const meUrl = new URL(`${s.issuer}/auth/me`);
    expect((await client.fetchProtectedResource(config, tokens.access_token, meUrl, 'GET')).status).toBe(200);

    await client.tokenRevocation(config, tokens.refresh_token!);
    // RFC 7009 §2.1: revoking a refresh token should also invalidate the access tokens of that grant.
    const error = await rejectionOf(client.fetchProtectedResource(config, tokens.access_token, meUrl, 'GET'));
    expect(error).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const { status, cause } = error as unknown as client.WWWAuthenticateChallengeError;
    expect(status).toBe(401);
    expect(cause).toEqual([
      { scheme: 'bearer', parameters: expect.objectContaining({ realm: expect.any(String), error: 'invalid_token' }) },
    ]);
  });

  it('revoking an access token with tokenRevocation ends its session', async () => {
    const tokens = await passwordGrant();
    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    expect((await oauthError(client.refreshTokenGrant(config, tokens.refresh_token!))).error).toBe('invalid_grant');
  });

  it('treats revocation of an unknown token as success (RFC 7009 §2.2)', async () => {
    await expect(client.tokenRevocation(config, 'A'.repeat(43))).resolves.toBeUndefined();
  });

  it('surfaces a throttled password grant as a readable OAuth error (429, RFC 6749 error code)', async () => {
    const victim = await registerOverHttp(s.issuer);
    const attempt = (password: string) =>
      client.genericGrantRequest(config, 'password', { username: victim.username, password });
    // LOGIN_MAX_FAILURES_PER_USER defaults to 5.
    for (let i = 0; i < 5; i += 1) expect((await oauthError(attempt(`wrong ${i}`))).error).toBe('invalid_grant');

    const throttled = await oauthError(attempt(victim.password));
    expect(throttled.status).toBe(429);
    // openid-client takes the body's `error` member as the OAuth error code; it must be one
    // (RFC 6749 Appendix A.7: 1*NQSCHAR, no spaces), with an error_description for people.
    expect(throttled.body).toEqual({
      error: expect.stringMatching(/^[\x21\x23-\x5B\x5D-\x7E]+$/),
      error_description: expect.any(String),
    });
  });

  it('reports a grant type the server does not offer as unsupported_grant_type', async () => {
    const failure = await oauthError(client.genericGrantRequest(config, 'client_credentials', {}));
    expect(failure.error).toBe('unsupported_grant_type');
    expect(failure.status).toBe(400);
  });
});

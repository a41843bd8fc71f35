import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import request from 'supertest';
import { KeysService, type AccessTokenKey } from '../../src/keys/keys.service.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { decodeJwt, forgeJwt, sleep } from '../utils/http.js';
import { bearer, expectAccessTokenWorks, newUser, revokeAtEndpoint, signJwt, type Login } from './security-helpers.js';

const ISSUER = 'http://issuer.test';
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same bytes spelled differently: the unused low bits of the last character set to 1. */
function withSpareBitsSet(segment: string): string {
  if (segment.length % 4 === 0 || segment.length % 4 === 1) throw new Error('this segment has no spare bits');
  const last = BASE64URL_ALPHABET.indexOf(segment.at(-1)!);
  const respelled = segment.slice(0, -1) + BASE64URL_ALPHABET[last | 1];
  if (respelled === segment || !Buffer.from(respelled, 'base64url').equals(Buffer.from(segment, 'base64url'))) {
    throw new Error('re-spelling changed the bytes or nothing at all');
  }
  return respelled;
}

interface Forgery {
  name: string;
  /** The Authorization header value. */
  authorization: string;
  /** Signed with the server's own key (only the way it is presented is wrong). */
  validSignature?: boolean;
}

describe('forged and malformed access tokens (e2e)', () => {
  let t: TestApp;
  let ours: AccessTokenKey;
  let victim: Login;
  let neighbour: Login;
  let revoked: Login;
  /** A key we never published, as an attacker would have. */
  let attackerRsa: { privateKey: KeyObject; publicKey: KeyObject };
  let attackerEc: { privateKey: KeyObject; publicKey: KeyObject };

  /** The `aud` the app puts in (and demands of) access tokens, when it has one. */
  const audience = () => (t.config.auth as { audience?: string }).audience;
  const claims = (overrides: Record<string, unknown> = {}) => {
    const base: Record<string, unknown> = {
      sub: victim.sub,
      sid: victim.sid,
      jti: randomUUID(),
      iat: nowSeconds(),
      exp: nowSeconds() + 300,
      iss: ISSUER,
      ...(audience() ? { aud: audience() } : {}),
      ...overrides,
    };
    for (const [key, value] of Object.entries(base)) if (value === undefined) delete base[key];
    return base;
  };
  const header = (overrides: Record<string, unknown> = {}) => {
    const base: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt', kid: ours.kid, ...overrides };
    for (const [key, value] of Object.entries(base)) if (value === undefined) delete base[key];
    return base;
  };
  /** Signed with the server's own private key: only header/claims differ from a real token. */
  const mint = (headerOverrides: Record<string, unknown> = {}, claimOverrides: Record<string, unknown> = {}) =>
    signJwt(header(headerOverrides), claims(claimOverrides), ours.signingKey, 'RS256');

  beforeAll(async () => {
    // Short-lived real tokens, for the "expired" case; minted tokens pick their own exp.
    t = await createTestApp({ ACCESS_TOKEN_TTL: '1s' });
    ours = t.app.get(KeysService).currentSigningKey();
    expect(ours.alg).toBe('RS256');
    victim = await newUser(t.server, 'victim');
    neighbour = await newUser(t.server, 'neighbour');
    revoked = await newUser(t.server, 'revoked');
    await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${revoked.refreshToken}`).expect(204);
    attackerRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    attackerEc = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  });
  afterAll(async () => {
    await t.close();
  });

  /**
   * Tokens anyone could build: no access to the server's private key. `real` stands for a token
   * the attacker captured; it is live (our own tokens here expire within a second, so it is minted).
   */
  const attackerCorpus = (real = mint()): Forgery[] => {
    const publicPem = ours.verificationKey.export({ format: 'pem', type: 'spki' }).toString();
    const publicPkcs1 = ours.verificationKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    const jwk = ours.publicJwk!;
    const noneInput = `${b64url(header({ alg: 'none' }))}.${b64url(claims())}`;
    const realSignature = decodeJwt(real).signature;
    const realParts = real.split('.');
    const tokens: Array<[string, string]> = [
      ['alg none, no signature', `${noneInput}.`],
      ['alg none, without the trailing dot', noneInput],
      ['alg none, with a random signature', `${noneInput}.${randomBytes(256).toString('base64url')}`],
      ['alg none, with a real token’s signature', `${noneInput}.${realSignature}`],
      ['alg "None"', forgeJwt(header({ alg: 'None' }), claims())],
      ['alg "NONE"', forgeJwt(header({ alg: 'NONE' }), claims())],
      ['alg none, typ JWT, no kid', forgeJwt({ alg: 'none', typ: 'JWT' }, claims())],
      ['HS256 keyed with our public key PEM (spki)', forgeJwt(header({ alg: 'HS256' }), claims(), publicPem)],
      ['HS256 keyed with our public key PEM (pkcs1)', forgeJwt(header({ alg: 'HS256' }), claims(), publicPkcs1)],
      ['HS256 keyed with our public JWK (JSON)', forgeJwt(header({ alg: 'HS256' }), claims(), JSON.stringify(jwk))],
      [
        'HS256 keyed with our JWKS entry (JSON)',
        forgeJwt(
          header({ alg: 'HS256' }),
          claims(),
          JSON.stringify({ ...jwk, kid: ours.kid, alg: 'RS256', use: 'sig' }),
        ),
      ],
      [
        'HS256 keyed with our modulus bytes',
        forgeJwt(header({ alg: 'HS256' }), claims(), Buffer.from(jwk.n!, 'base64url')),
      ],
      ['HS256 keyed with our public PEM, header alg RS256', forgeJwt(header(), claims(), publicPem)],
      ['HS384 keyed with our public key PEM', forgeJwt(header({ alg: 'HS384' }), claims(), publicPem, 'sha384')],
      ['HS256 keyed with an empty secret', forgeJwt(header({ alg: 'HS256' }), claims(), '')],
      ['RS256 with an unpublished key, our kid', signJwt(header(), claims(), attackerRsa.privateKey, 'RS256')],
      [
        'RS256 with an unpublished key, a random kid',
        signJwt(header({ kid: randomUUID() }), claims(), attackerRsa.privateKey, 'RS256'),
      ],
      [
        'RS256 with an unpublished key, no kid',
        signJwt(header({ kid: undefined }), claims(), attackerRsa.privateKey, 'RS256'),
      ],
      [
        'RS256 with an unpublished key embedded as a jwk header',
        signJwt(
          header({ jwk: attackerRsa.publicKey.export({ format: 'jwk' }) }),
          claims(),
          attackerRsa.privateKey,
          'RS256',
        ),
      ],
      [
        'RS256 with an unpublished key behind a jku header',
        signJwt(
          header({ kid: 'evil', jku: 'https://evil.example/jwks.json' }),
          claims(),
          attackerRsa.privateKey,
          'RS256',
        ),
      ],
      [
        'ES256 with an unpublished P-256 key, our kid',
        signJwt(header({ alg: 'ES256' }), claims(), attackerEc.privateKey, 'ES256'),
      ],
      [
        'kid that is a path traversal',
        signJwt(header({ kid: '../../../../dev/null' }), claims(), attackerRsa.privateKey, 'RS256'),
      ],
      ['kid that is SQL', signJwt(header({ kid: "' OR '1'='1" }), claims(), attackerRsa.privateKey, 'RS256')],
      ['a real token with its signature stripped', `${realParts[0]}.${realParts[1]}.`],
      [
        'a real token with another user’s claims',
        `${realParts[0]}.${b64url(claims({ sub: neighbour.sub, sid: neighbour.sid }))}.${realParts[2]}`,
      ],
      [
        'a real token with exp pushed out',
        `${realParts[0]}.${b64url({ ...decodeJwt(real).payload, exp: nowSeconds() + 86400 })}.${realParts[2]}`,
      ],
      [
        'a real token with its header changed to alg none',
        `${b64url({ alg: 'none', typ: 'at+jwt', kid: ours.kid })}.${realParts[1]}.${realParts[2]}`,
      ],
      // Decoders ignore the spare low bits of the last base64url character: same bytes, other string.
      [
        'a real token whose signature has its spare bits set',
        `${realParts[0]}.${realParts[1]}.${withSpareBitsSet(realParts[2])}`,
      ],
      ['a real token with a padded signature', `${real}==`],
      [
        'a real token with its signature in standard base64',
        `${realParts[0]}.${realParts[1]}.${Buffer.from(realParts[2], 'base64url').toString('base64')}`,
      ],
      ['a real token with an extra trailing dot', `${real}.`],
      ['a real token with an extra segment', `${real}.${realParts[2]}`],
      ['a real token with a leading segment', `${realParts[0]}.${real}`],
      ['a JWT with extra dots everywhere', `${realParts[0]}..${realParts[1]}..${realParts[2]}`],
      ['four dots', '....'],
      ['a refresh token', victim.refreshToken],
      ['garbage', 'garbage'],
      ['three garbage segments', 'a.b.c'],
      [
        'header that is not JSON',
        `${Buffer.from('not json').toString('base64url')}.${b64url(claims())}.${realParts[2]}`,
      ],
      ['header that is a JSON string', `${b64url('at+jwt')}.${b64url(claims())}.${realParts[2]}`],
      ['header that is JSON null', `${b64url(null)}.${b64url(claims())}.${realParts[2]}`],
    ];
    return [
      ...tokens.map(([name, token]) => ({ name, authorization: `Bearer ${token}` })),
      { name: 'empty Bearer', authorization: 'Bearer ' },
      { name: 'Bearer without a space', authorization: 'Bearer' },
      { name: 'a valid token under the Basic scheme', authorization: `Basic ${mint()}`, validSignature: true },
      { name: 'a valid token with no scheme', authorization: mint(), validSignature: true },
      { name: 'a valid token under a Token scheme', authorization: `Token ${mint()}`, validSignature: true },
    ];
  };

  /** Tokens with a valid signature by our own key, where only a header field or claim is wrong. */
  const ourKeyCorpus = (): Forgery[] => {
    const past = nowSeconds() - 3600;
    const tokens: Array<[string, string]> = [
      ['typ JWT', mint({ typ: 'JWT' })],
      ['typ missing', mint({ typ: undefined })],
      ['typ "at+JWT+x"', mint({ typ: 'at+jwt+x' })],
      ['typ as a number', mint({ typ: 1 })],
      ['kid missing', mint({ kid: undefined })],
      ['kid unknown', mint({ kid: randomUUID() })],
      ['kid as a number', mint({ kid: 42 })],
      ['header alg ES256 on an RS256 signature', mint({ alg: 'ES256' })],
      ['header alg PS256 on an RS256 signature', mint({ alg: 'PS256' })],
      ['header alg RS512 on an RS256 signature', mint({ alg: 'RS512' })],
      ['header alg missing', mint({ alg: undefined })],
      ['sid missing', mint({}, { sid: undefined })],
      ['sid as a number', mint({}, { sid: 12345 })],
      ['sid of an unknown session', mint({}, { sid: randomUUID() })],
      ['sid of a logged-out session', mint({}, { sub: revoked.sub, sid: revoked.sid })],
      ['sid of another user’s session', mint({}, { sid: neighbour.sid })],
      ['sub of another user', mint({}, { sub: neighbour.sub })],
      ['sub missing', mint({}, { sub: undefined })],
      ['jti missing', mint({}, { jti: undefined })],
      ['iss wrong', mint({}, { iss: 'http://evil.test' })],
      ['iss with a trailing slash', mint({}, { iss: `${ISSUER}/` })],
      ['iss missing', mint({}, { iss: undefined })],
      ['iss as an array', mint({}, { iss: [ISSUER] })],
      ['exp in the past', mint({}, { iat: past - 60, exp: past })],
      ['exp now', mint({}, { exp: nowSeconds() })],
      ['exp as a string', mint({}, { exp: String(nowSeconds() + 300) })],
      ['nbf in the future', mint({}, { nbf: nowSeconds() + 3600 })],
      ['iat missing', mint({}, { iat: undefined })],
    ];
    if (audience()) {
      tokens.push(
        ['aud wrong', mint({}, { aud: 'https://other-api.example' })],
        ['aud missing', mint({}, { aud: undefined })],
        [
          'aud that is another audience list',
          mint({}, { aud: ['https://other-api.example', 'https://third.example'] }),
        ],
      );
    }
    const input = `${b64url(header())}.${b64url(claims())}`;
    const es = sign('sha256', Buffer.from(input), ours.signingKey).toString('base64url');
    tokens.push([
      'a valid signature over a different payload',
      `${b64url(header())}.${b64url(claims({ jti: randomUUID() }))}.${es}`,
    ]);
    return tokens.map(([name, token]) => ({ name, authorization: `Bearer ${token}` }));
  };

  /** Sends every forgery to `path`; returns those not answered 401 with an RFC 6750 challenge. */
  const accepted = async (corpus: Forgery[], method: 'get' | 'post', path: string) => {
    const wrong: Array<{ name: string; status: number; challenge?: string }> = [];
    for (const forgery of corpus) {
      const response = await request(t.server)[method](path).set('Authorization', forgery.authorization);
      const challenge = response.headers['www-authenticate'] as string | undefined;
      if (response.status !== 401 || !challenge?.startsWith('Bearer realm=')) {
        wrong.push({ name: forgery.name, status: response.status, challenge });
      }
    }
    return wrong;
  };

  it('positive control: a token minted with our key and the right header and claims is accepted', async () => {
    await expectAccessTokenWorks(t.server, mint(), 'minted');
    await expectAccessTokenWorks(t.server, mint({ typ: 'application/at+jwt' }), 'minted, typ application/at+jwt');
    // Also through jose, an independent JWT implementation.
    const jose = new SignJWT({ sid: victim.sid });
    if (audience()) jose.setAudience(audience()!);
    const viaJose = await jose
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: ours.kid })
      .setSubject(victim.sub)
      .setIssuer(ISSUER)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(ours.signingKey);
    const response = await bearer(t.server, 'get', '/auth/me', viaJose).expect(200);
    expect(response.body.id).toBe(victim.sub);
  });

  it('refuses every token in the attacker corpus on GET /auth/me', async () => {
    const real = mint();
    await expectAccessTokenWorks(t.server, real, 'the captured token the corpus is built from');
    const corpus = attackerCorpus(real);
    expect(corpus.length).toBeGreaterThan(40);
    expect(await accepted(corpus, 'get', '/auth/me')).toEqual([]);
  });

  it('refuses every token signed with our key but wrong in one header field or claim', async () => {
    const corpus = ourKeyCorpus();
    expect(await accepted(corpus, 'get', '/auth/me')).toEqual([]);
    // The neighbour and the victim are still who they were (nothing was confused by the corpus).
    await expectAccessTokenWorks(t.server, mint(), 'victim');
  });

  it('refuses both corpora on other protected routes too', async () => {
    const corpus = [...attackerCorpus(), ...ourKeyCorpus()];
    expect(await accepted(corpus, 'get', '/auth/sessions')).toEqual([]);
    expect(await accepted(corpus, 'get', '/auth/audit')).toEqual([]);
  });

  it('says error="invalid_token" for every presented (non-empty) forged bearer token', async () => {
    const corpus = [...attackerCorpus(), ...ourKeyCorpus()].filter((f) => /^Bearer \S/.test(f.authorization));
    const without: string[] = [];
    for (const forgery of corpus) {
      const response = await request(t.server).get('/auth/me').set('Authorization', forgery.authorization);
      if (!String(response.headers['www-authenticate']).includes('error="invalid_token"')) without.push(forgery.name);
    }
    expect(without).toEqual([]);
  });

  it('does not let attacker-built tokens revoke the victim’s session at POST /auth/revoke', async () => {
    for (const forgery of attackerCorpus().filter((f) => !f.validSignature)) {
      const token = forgery.authorization.replace(/^\S+ ?/, '');
      if (!token || token === victim.refreshToken) continue;
      const response = await revokeAtEndpoint(t.server, token);
      expect({ name: forgery.name, status: response.status < 500 }).toEqual({ name: forgery.name, status: true });
      await expectAccessTokenWorks(t.server, mint(), `victim after ${forgery.name}`);
    }
  });

  it('refuses a real access token once it has expired, even after it was accepted (and cached) before', async () => {
    // A token minted to expire at the next whole second plus one: accepted now, dead soon.
    const exp = nowSeconds() + 2;
    const shortLived = mint({}, { exp });
    await expectAccessTokenWorks(t.server, shortLived, 'before exp');

    // And a real one from the app (ACCESS_TOKEN_TTL=1s).
    const user = await newUser(t.server, 'expiring');
    const realExp = decodeJwt(user.accessToken).payload.exp as number;
    expect(realExp - (decodeJwt(user.accessToken).payload.iat as number)).toBe(1);
    await bearer(t.server, 'get', '/auth/me', user.accessToken);

    await sleep(Math.max(exp, realExp) * 1000 - Date.now() + 100);
    for (const [name, token] of [
      ['minted', shortLived],
      ['real', user.accessToken],
    ]) {
      const response = await bearer(t.server, 'get', '/auth/me', token);
      expect({ name, status: response.status }).toEqual({ name, status: 401 });
      expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });

  // RFC 9068 §2.2 makes exp REQUIRED and §4 says resource servers MUST validate it; jsonwebtoken
  // skips the check when the claim is absent, so a token without exp would never expire.
  it('refuses a token signed with our key that has no exp claim', async () => {
    const withoutExp = mint({}, { exp: undefined });
    const response = await bearer(t.server, 'get', '/auth/me', withoutExp);
    expect(response.status).toBe(401);
  });

  it('takes access tokens only from the Authorization header, not from the query string or a cookie', async () => {
    const token = mint();
    expect((await request(t.server).get(`/auth/me?access_token=${token}`)).status).toBe(401);
    expect((await request(t.server).get('/auth/me').set('Cookie', `access_token=${token}`)).status).toBe(401);
    expect((await request(t.server).get('/auth/me').set('Cookie', `refresh_token=${victim.refreshToken}`)).status).toBe(
      401,
    );
  });
});

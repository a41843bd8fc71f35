import { verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AccessTokenService } from '../../src/auth/access-token.service.js';
import { KeysService } from '../../src/keys/keys.service.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { bearer, expectAccessTokenWorks, newUser, revokeAtEndpoint } from './security-helpers.js';

/** Order of the P-256 group, written out here rather than imported from the code under test. */
const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const toBig = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex')}`);
const sOf = (token: string) => toBig(Buffer.from(token.split('.')[2], 'base64url').subarray(32));

/** The other valid spelling of an ES256 token: (r, s) → (r, n − s), canonical base64url. */
function twinOf(token: string): string {
  const [header, payload, signature] = token.split('.');
  const raw = Buffer.from(signature, 'base64url');
  const twinS = Buffer.from((N - toBig(raw.subarray(32))).toString(16).padStart(64, '0'), 'hex');
  return `${header}.${payload}.${Buffer.concat([raw.subarray(0, 32), twinS]).toString('base64url')}`;
}

describe('ES256 signature malleability (e2e, JWT_ALG=ES256)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ JWT_ALG: 'ES256' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('the twin of a live token verifies cryptographically, but the service refuses it everywhere', async () => {
    const user = await newUser(t.server, 'es256');
    const twin = twinOf(user.accessToken);
    expect(twin).not.toBe(user.accessToken);
    // Precondition: the twin is a valid ECDSA signature over the same input (what makes it a forgery risk).
    const [header, payload, signature] = twin.split('.');
    const publicKey = t.app.get(KeysService).currentSigningKey().verificationKey;
    expect(
      verify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        { key: publicKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(signature, 'base64url'),
      ),
    ).toBe(true);

    // The original is accepted (and now sits in the verified-token cache); the twin is not.
    await expectAccessTokenWorks(t.server, user.accessToken, 'original');
    for (const path of ['/auth/me', '/auth/sessions', '/auth/audit']) {
      const response = await bearer(t.server, 'get', path, twin);
      expect({ path, status: response.status }).toEqual({ path, status: 401 });
      expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    }
    await expect(t.app.get(AccessTokenService).verify(twin)).resolves.toBeUndefined();

    // /auth/revoke does not take the twin for a token of ours: the session survives.
    expect((await revokeAtEndpoint(t.server, twin)).status).toBe(200);
    await expectAccessTokenWorks(t.server, user.accessToken, 'original after the twin was sent to /auth/revoke');
  });

  it('signs every token with the low s (so the high-s twin is never one of ours)', async () => {
    const accessTokens = t.app.get(AccessTokenService);
    const user = await newUser(t.server, 'es256low');
    const tokens = [user.accessToken];
    // Half of all ECDSA signatures come out with a high s; 40 in a row low is chance 2^-40.
    for (let i = 0; i < 40; i++)
      tokens.push(
        (
          await accessTokens.sign({
            userId: user.sub,
            sessionId: user.sid,
            sessionExpiresAt: Infinity,
            authTime: Date.now(),
            grant: 'password',
          })
        ).token,
      );
    const high = tokens.filter((token) => sOf(token) > N / 2n);
    expect(high).toEqual([]);
    for (const token of tokens.slice(0, 5)) await expectAccessTokenWorks(t.server, token, 'a low-s token');
  });
});

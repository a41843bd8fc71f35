import { describe, expect, it } from '@jest/globals';
import type { AccessTokenClaims } from './access-token.service.js';
import { VerifiedTokenCache } from './verified-token.cache.js';

const NOW = 1_800_000_000_000;
const claims = (sub: string, exp = NOW / 1000 + 60): AccessTokenClaims => ({
  sub,
  sid: `s-${sub}`,
  jti: `j-${sub}`,
  exp,
  iat: exp - 3600,
  iss: 'i',
  aud: 'a',
  roles: [],
  auth_time: 1,
  amr: ['pwd'],
});

const TAIL = 'x'.repeat(40);

describe('VerifiedTokenCache', () => {
  it('answers a cached token until its exp, then forgets it', () => {
    const cache = new VerifiedTokenCache();
    cache.set(`aaa.bbb.${TAIL}`, claims('alice'));
    expect(cache.get(`aaa.bbb.${TAIL}`, NOW)?.sub).toBe('alice');
    expect(cache.get(`aaa.bbb.${TAIL}`, NOW + 60_000)).toBeUndefined();
    expect(cache.get(`aaa.bbb.${TAIL}`, NOW)).toBeUndefined();
  });

  it('never answers a different token that ends the same way', () => {
    const cache = new VerifiedTokenCache();
    cache.set(`aaa.bbb.${TAIL}`, claims('alice'));
    // Same last characters, another header and payload: found by its tail, refused whole.
    expect(cache.get(`zzz.forged.${TAIL}`, NOW)).toBeUndefined();
    expect(cache.get(`aaa.bbb.${TAIL}`, NOW)?.sub).toBe('alice');
    // A verified token with the same tail replaces the entry; the first is then verified again.
    cache.set(`ccc.ddd.${TAIL}`, claims('bob'));
    expect(cache.get(`ccc.ddd.${TAIL}`, NOW)?.sub).toBe('bob');
    expect(cache.get(`aaa.bbb.${TAIL}`, NOW)).toBeUndefined();
  });

  it('keeps only what the guard needs of the claims', () => {
    const cache = new VerifiedTokenCache();
    cache.set(`aaa.bbb.${TAIL}`, { ...claims('alice'), extra: 'dropped' } as AccessTokenClaims);
    expect(cache.get(`aaa.bbb.${TAIL}`, NOW)).not.toHaveProperty('extra');
  });
});

import { describe, expect, it } from '@jest/globals';
import { parseRevocation, RevocationList } from '../src/revocation-list.js';

describe('RevocationList', () => {
  it('refuses a revoked session and tokens issued before their user’s cut-off, nothing else', () => {
    const list = new RevocationList();
    list.apply({ sid: 's1', sub: 'u1', until: 2000 });
    list.apply({ sub: 'u2', notBefore: 1000, until: 2000 });
    expect(list.isRevoked('s1', 'u1', 900)).toBe(true);
    expect(list.isRevoked('s2', 'u1', 900)).toBe(false);
    expect(list.isRevoked('s3', 'u2', 999)).toBe(true);
    expect(list.isRevoked('s3', 'u2', 1000)).toBe(false);
  });

  it('keeps the later cut-off and the later until when a user is cut off twice, in any order', () => {
    const list = new RevocationList();
    list.apply({ sub: 'u', notBefore: 1500, until: 5000 });
    list.apply({ sub: 'u', notBefore: 1000, until: 4000 });
    expect(list.isRevoked('s', 'u', 1499)).toBe(true);
    list.prune(4500 + 10, 5);
    expect(list.isRevoked('s', 'u', 1499)).toBe(true);
  });

  it('forgets an entry only once its until plus the clock tolerance has passed', () => {
    const list = new RevocationList();
    list.apply({ sid: 's1', sub: 'u1', until: 1000 });
    list.apply({ sub: 'u2', notBefore: 900, until: 1000 });
    list.prune(1005, 5);
    expect(list.size).toBe(2);
    expect(list.isRevoked('s1', 'u1', 0)).toBe(true);
    list.prune(1005.5, 5);
    expect(list.size).toBe(0);
    expect(list.isRevoked('s1', 'u1', 0)).toBe(false);
    expect(list.isRevoked('x', 'u2', 0)).toBe(false);
  });
});

describe('parseRevocation', () => {
  it('reads both shapes of the contract and refuses anything else', () => {
    expect(parseRevocation({ sid: 's', sub: 'u', until: 9 })).toEqual({ sid: 's', sub: 'u', until: 9 });
    expect(parseRevocation({ id: '4', sub: 'u', notBefore: 5, until: 9 })).toEqual({
      sub: 'u',
      notBefore: 5,
      until: 9,
    });
    expect(parseRevocation({ id: '4', sid: null, sub: 'u', notBefore: 5, until: 9 })).toEqual({
      sub: 'u',
      notBefore: 5,
      until: 9,
    });
    for (const bad of [
      null,
      'x',
      {},
      { sid: 's', until: 9 },
      { sid: 's', sub: 'u' },
      { sub: 'u', until: 9 },
      { sub: 'u', notBefore: '5', until: 9 },
    ]) {
      expect(parseRevocation(bad)).toBeUndefined();
    }
  });
});

import { describe, expect, it } from '@jest/globals';
import { IntrospectionCache, type Introspection } from '../src/introspection-cache.js';

describe('IntrospectionCache', () => {
  function setUp(maxEntries = 100) {
    let now = 0;
    const calls: string[] = [];
    let fail = false;
    const cache = new IntrospectionCache(
      async (token): Promise<Introspection> => {
        calls.push(token);
        if (fail) throw new Error('down');
        return { active: true, sub: 'u', sid: 's', username: undefined };
      },
      maxEntries,
      1000,
      () => now,
    );
    return {
      cache,
      calls,
      at: (ms: number) => (now = ms),
      failing: () => (fail = true),
    };
  }

  it('calls once per token per second, however many requests carry it', async () => {
    const { cache, calls, at } = setUp();
    await Promise.all(Array.from({ length: 20 }, () => cache.check('a')));
    at(999);
    await cache.check('a');
    expect(calls).toEqual(['a']);
    await cache.check('b');
    expect(calls).toEqual(['a', 'b']);
    at(1000);
    await cache.check('a');
    expect(calls).toEqual(['a', 'b', 'a']);
  });

  it('shares a failure within the second too, so a down server is not hammered', async () => {
    const { cache, calls, at, failing } = setUp();
    failing();
    await expect(cache.check('a')).rejects.toThrow('down');
    await expect(cache.check('a')).rejects.toThrow('down');
    expect(calls).toHaveLength(1);
    at(1000);
    await expect(cache.check('a')).rejects.toThrow('down');
    expect(calls).toHaveLength(2);
  });

  it('stays within its bound', async () => {
    const { cache, at } = setUp(3);
    for (let i = 0; i < 10; i++) {
      at(i * 10);
      await cache.check(`t${i}`);
    }
    expect(cache.size).toBeLessThanOrEqual(3);
  });
});

import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { AppConfig, ThrottleConfig } from '../config/app-config.js';
import { MemoryLoginAttemptStore, overflowKeyOf } from './login-attempt.store.js';
import { LoginThrottleService } from './login-throttle.service.js';

const WINDOW = 60_000;

describe('MemoryLoginAttemptStore', () => {
  let warn: jest.Spied<Logger['warn']>;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
  });

  it('counts attempts per key within a window and starts over when it ends', async () => {
    const store = new MemoryLoginAttemptStore(10);
    expect(await store.reserve('a', WINDOW, 0)).toEqual({ count: 1, resetInMs: WINDOW });
    expect(await store.reserve('a', WINDOW, 1_000)).toEqual({ count: 2, resetInMs: WINDOW - 1_000 });
    expect(await store.reserve('b', WINDOW, 1_000)).toEqual({ count: 1, resetInMs: WINDOW });
    expect(await store.reserve('a', WINDOW, WINDOW)).toEqual({ count: 1, resetInMs: WINDOW });
  });

  it('keeps a live counter with failures when maxKeys junk keys fill the map: the victim stays blocked', async () => {
    const maxKeys = 10;
    const store = new MemoryLoginAttemptStore(maxKeys);
    for (let i = 0; i < 3; i++) await store.reserve('victim', WINDOW, i);

    let now = 10;
    for (let i = 0; i < maxKeys * 3; i++) await store.reserve(`junk-${i}`, WINDOW, now++);

    // Still the same window, still counting: 4 > a limit of 3.
    expect(await store.reserve('victim', WINDOW, now)).toEqual({ count: 4, resetInMs: WINDOW - now });
    expect(store.size).toBe(maxKeys);
  });

  it('keeps password-check counters apart: successful logins filling it never push failure counters onto a shared one', async () => {
    const store = new MemoryLoginAttemptStore(2);
    // Two successful logins leave their check counters for the whole window and fill that table.
    await store.reserve('checks:user:a', WINDOW, 0);
    await store.reserve('checks:user:b', WINDOW, 0);
    // Failure counters still get keys of their own: a new user's failure is not everybody's.
    expect(await store.reserve('login:user:x', WINDOW, 1)).toEqual({ count: 1, resetInMs: WINDOW });
    expect(await store.reserve('login:user:y', WINDOW, 1)).toEqual({ count: 1, resetInMs: WINDOW });
    // A new check key while its table is full goes uncounted rather than onto a shared counter.
    expect((await store.reserve('checks:user:c', WINDOW, 2)).count).toBe(1);
    expect((await store.reserve('checks:user:c', WINDOW, 3)).count).toBe(1);
    // Tracked check keys go on counting.
    expect((await store.reserve('checks:user:a', WINDOW, 4)).count).toBe(2);
    expect(store.size).toBe(4);
  });

  it('counts new keys on one shared counter per kind while full of live counters, warning once per window', async () => {
    const store = new MemoryLoginAttemptStore(2);
    await store.reserve('login:ip:a', WINDOW, 0);
    await store.reserve('login:user:b', WINDOW, 0);

    // Not tracked one by one, but not uncounted either: every new username shares one counter.
    expect(await store.reserve('login:user:c', WINDOW, 1)).toEqual({ count: 1, resetInMs: WINDOW });
    expect(await store.reserve('login:user:c', WINDOW, 2)).toEqual({ count: 2, resetInMs: WINDOW - 1 });
    expect(await store.reserve('login:user:d', WINDOW, 3)).toEqual({ count: 3, resetInMs: WINDOW - 2 });
    // New IPs have a shared counter of their own.
    expect(await store.reserve('login:ip:e', WINDOW, 4)).toEqual({ count: 1, resetInMs: WINDOW });
    expect(store.size).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1);

    // A success refunds the shared counter it was counted on.
    await store.refund('login:user:d', 5);
    expect((await store.reserve('login:user:f', WINDOW, 6)).count).toBe(3);

    // Existing keys keep counting.
    expect((await store.reserve('login:ip:a', WINDOW, 7)).count).toBe(2);

    // Once their windows end, the slots are freed and new keys are tracked again, one by one.
    expect((await store.reserve('login:user:c', WINDOW, WINDOW)).count).toBe(1);
    expect((await store.reserve('login:user:c', WINDOW, WINDOW + 1)).count).toBe(2);
  });

  it('while full, a fresh IP guessing at a fresh username is still stopped at the limit', async () => {
    const store = new MemoryLoginAttemptStore(20);
    const limits = {
      window: 900,
      maxFailuresPerIp: 20,
      maxFailuresPerUser: 5,
      maxChecksPerIp: 1000,
      maxChecksPerUser: 1000,
    };
    const t = new LoginThrottleService(store, { get: () => limits } as unknown as ConfigService<AppConfig, true>);
    // Many sources fill the store with live failures (two IP keys and two username keys each).
    for (let i = 0; i < 5; i++) await t.begin(`198.51.100.${i}`, `filler-${i}`);
    expect(store.size).toBe(20);

    let allowed = 0;
    for (let i = 0; i < 50; i++) {
      try {
        await t.begin('203.0.113.200', 'someone-new');
        allowed++;
      } catch (error) {
        expect(error).toBeInstanceOf(TooManyAttemptsException);
      }
    }
    expect(allowed).toBe(5);
  });

  it('shares one overflow counter per kind for IPv6 buckets too (the kind is not cut at the address’s colons)', async () => {
    expect(overflowKeyOf('login:ip:2001:db8:1:2::/64')).toBe('login:ip:*');
    expect(overflowKeyOf('checks:ip:2001:db8:1:2::/64')).toBe('checks:ip:*');
    expect(overflowKeyOf('login:ip:203.0.113.9')).toBe('login:ip:*');
    expect(overflowKeyOf('login:user:abc')).toBe('login:user:*');

    const store = new MemoryLoginAttemptStore(1);
    await store.reserve('login:ip:198.51.100.1', WINDOW, 0);
    // Full: two different /64s (and then an IPv4 address) count on the same shared counter.
    expect((await store.reserve('login:ip:2001:db8:1:2::/64', WINDOW, 1)).count).toBe(1);
    expect((await store.reserve('login:ip:2001:db8:9:9::/64', WINDOW, 2)).count).toBe(2);
    expect((await store.reserve('login:ip:203.0.113.9', WINDOW, 3)).count).toBe(3);
  });

  it('deletes an entry whose count returns to 0 on refund', async () => {
    const store = new MemoryLoginAttemptStore(10);
    await store.reserve('a', WINDOW, 0);
    await store.reserve('a', WINDOW, 1);
    await store.reserve('b', WINDOW, 1);

    await store.refund('a', 2);
    expect(store.size).toBe(2);
    await store.refund('a', 3);
    expect(store.size).toBe(1);
    await store.refund('b', 3);
    expect(store.size).toBe(0);

    // A later attempt starts a fresh window.
    expect(await store.reserve('a', WINDOW, 4)).toEqual({ count: 1, resetInMs: WINDOW });
  });

  it('frees the slot of a refunded key, so a full map has room again', async () => {
    const store = new MemoryLoginAttemptStore(2);
    await store.reserve('a', WINDOW, 0);
    await store.reserve('b', WINDOW, 0);
    await store.refund('b', 1);
    expect((await store.reserve('c', WINDOW, 2)).count).toBe(1);
    expect((await store.reserve('c', WINDOW, 3)).count).toBe(2);
  });
});

describe('LoginThrottleService with the memory store', () => {
  function throttle(store: MemoryLoginAttemptStore, limits: Partial<ThrottleConfig>): LoginThrottleService {
    const config = {
      get: () => ({ window: 900, maxChecksPerIp: 1000, maxChecksPerUser: 1000, ...limits }),
    } as unknown as ConfigService<AppConfig, true>;
    return new LoginThrottleService(store, config);
  }

  it('counts an IPv6 client by its /64, so rotating addresses inside it gains nothing', async () => {
    const store = new MemoryLoginAttemptStore(100);
    const t = throttle(store, { maxFailuresPerIp: 3, maxFailuresPerUser: 100 });
    for (let i = 1; i <= 3; i++) await t.begin(`2001:db8:1:2::${i}`, `user-${i}`);
    await expect(t.begin('2001:db8:1:2:ffff:ffff:ffff:ffff', 'user-4')).rejects.toBeInstanceOf(
      TooManyAttemptsException,
    );
    // The next /64 and IPv4 clients have limits of their own.
    await t.begin('2001:db8:1:3::1', 'user-5');
    await t.begin('203.0.113.7', 'user-6');
  });

  it('creates no username counters for attempts refused because of the IP limit', async () => {
    const store = new MemoryLoginAttemptStore(10);
    const t = throttle(store, { maxFailuresPerIp: 2, maxFailuresPerUser: 100 });

    await t.begin('1.2.3.4', 'user-0'); // failed: never succeeded()
    await t.begin('1.2.3.4', 'user-1');
    expect(store.size).toBe(6); // the IP's two counters and two for each username

    for (let i = 2; i < 50; i++) {
      await expect(t.begin('1.2.3.4', `user-${i}`)).rejects.toBeInstanceOf(TooManyAttemptsException);
    }
    expect(store.size).toBe(6);
  });

  it('keeps a username blocked although a blocked IP sprays more usernames than the store holds', async () => {
    const store = new MemoryLoginAttemptStore(10);
    const t = throttle(store, { maxFailuresPerIp: 5, maxFailuresPerUser: 3 });

    for (let i = 0; i < 3; i++) await t.begin('10.0.0.1', 'victim');
    await expect(t.begin('10.0.0.2', 'victim')).rejects.toBeInstanceOf(TooManyAttemptsException);

    // Another IP uses up its own limit, then keeps spraying junk usernames.
    for (let i = 0; i < 5; i++) await t.begin('10.0.0.3', `junk-${i}`);
    for (let i = 5; i < 100; i++) {
      await expect(t.begin('10.0.0.3', `junk-${i}`)).rejects.toBeInstanceOf(TooManyAttemptsException);
    }

    await expect(t.begin('10.0.0.4', 'VICTIM')).rejects.toBeInstanceOf(TooManyAttemptsException);
  });

  it('does not count an attempt refused for the username against the IP', async () => {
    const store = new MemoryLoginAttemptStore(10);
    const t = throttle(store, { maxFailuresPerIp: 3, maxFailuresPerUser: 1 });

    await t.begin('10.0.0.1', 'victim');
    for (let i = 0; i < 5; i++) {
      await expect(t.begin('10.0.0.1', 'victim')).rejects.toBeInstanceOf(TooManyAttemptsException);
    }
    // The IP has 1 of 3: two more usernames may still be tried.
    await t.begin('10.0.0.1', 'other-1');
    await t.begin('10.0.0.1', 'other-2');
    await expect(t.begin('10.0.0.1', 'other-3')).rejects.toBeInstanceOf(TooManyAttemptsException);
  });

  it('refunds the failure counters on success; the check counters keep it', async () => {
    const store = new MemoryLoginAttemptStore(10);
    const t = throttle(store, { maxFailuresPerIp: 3, maxFailuresPerUser: 3 });
    const attempt = await t.begin('10.0.0.1', 'alice');
    expect(store.size).toBe(4);
    await attempt.succeeded();
    expect(store.size).toBe(2);
  });

  it('gives everything back for an attempt whose password was never checked (hashing refused it)', async () => {
    const store = new MemoryLoginAttemptStore(10);
    const t = throttle(store, { maxFailuresPerIp: 3, maxFailuresPerUser: 3, maxChecksPerIp: 1, maxChecksPerUser: 1 });
    for (let i = 0; i < 5; i++) await (await t.begin('10.0.0.1', 'alice')).notChecked();
    expect(store.size).toBe(0);
  });

  it('limits password checks per username (LOGIN_MAX_PER_USER), successful ones included', async () => {
    const store = new MemoryLoginAttemptStore(100);
    const t = throttle(store, { maxFailuresPerIp: 100, maxFailuresPerUser: 100, maxChecksPerUser: 3 });
    for (let i = 0; i < 3; i++) await (await t.begin(`10.0.0.${i}`, 'alice')).succeeded();
    const refused = await t.begin('10.0.0.9', 'ALICE').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooManyAttemptsException);
    expect((refused as TooManyAttemptsException).retryAfterSeconds).toBe(900);
    expect((refused as TooManyAttemptsException).message).toMatch(/for this account/);
    // The refused attempt left nothing behind on the IP's counters: another username is fine.
    await t.begin('10.0.0.9', 'bob');
  });

  it('limits password checks per client IP (LOGIN_MAX_PER_IP, IPv6 by /64), before any username counter', async () => {
    const store = new MemoryLoginAttemptStore(100);
    const t = throttle(store, { maxFailuresPerIp: 100, maxFailuresPerUser: 100, maxChecksPerIp: 2 });
    await (await t.begin('2001:db8:1:2::1', 'user-1')).succeeded();
    await (await t.begin('2001:db8:1:2::2', 'user-2')).succeeded();
    const sizeBefore = store.size;
    await expect(t.begin('2001:db8:1:2::3', 'user-3')).rejects.toThrow(/from this address/);
    expect(store.size).toBe(sizeBefore);
    await t.begin('2001:db8:1:3::1', 'user-3');
  });
});

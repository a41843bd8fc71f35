import { describe, expect, it } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import type { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import type { RevocationEventRepository } from '../revocations/revocation-event.repository.js';
import type { SessionRevocationBus } from '../sessions/session-revocation.bus.js';
import type { SessionStateCache } from '../sessions/session-state.cache.js';
import type { UserRepository } from '../users/user.repository.js';
import { UserCutOffService } from './user-cut-off.service.js';

function service() {
  const calls: string[] = [];
  const cutOffs = new UserCutOffService(
    {
      raiseNotBefore: async (id: string, ms: number) => void calls.push(`db ${id} ${ms}`),
    } as unknown as UserRepository,
    {
      markUserCutOff: (id: string, ms: number) => void calls.push(`cache ${id} ${ms}`),
    } as unknown as SessionStateCache,
    {
      userCutOff: async (id: string, ms: number) => void calls.push(`bus ${id} ${ms}`),
    } as unknown as SessionRevocationBus,
    {
      record: async (type: string, event: { userId: string; detail: unknown }) =>
        void calls.push(`audit ${type} ${event.userId} ${JSON.stringify(event.detail)}`),
    } as unknown as AuditService,
    {
      insertions: (events: { sub: string; notBefore: number }[]) =>
        events.map((event) => void calls.push(`feed entry ${event.sub} ${event.notBefore}`)),
    } as unknown as RevocationEventRepository,
    { get: () => ({ accessTokenTtl: 900 }) } as unknown as ConfigService<AppConfig, true>,
  );
  return { cutOffs, calls };
}

describe('UserCutOffService', () => {
  it('cuts off at the next whole second: every iat of the second the change happened in is before it', async () => {
    const { cutOffs } = service();
    await expect(cutOffs.cutOff('u', 'role_granted', undefined, 1_000_000_500)).resolves.toBe(1_000_001_000);
    // A change exactly on a second boundary: a token issued in that same millisecond has iat 1_000_000.
    await expect(cutOffs.cutOff('u', 'role_granted', undefined, 1_000_000_000)).resolves.toBe(1_000_001_000);
    await expect(cutOffs.cutOff('u', 'role_granted', undefined, 1_000_000_999)).resolves.toBe(1_000_001_000);
  });

  it('stores the cut-off, applies it here, tells the other instances, then audits it', async () => {
    const { cutOffs, calls } = service();
    await cutOffs.cutOff('u1', 'user_disabled', { via: 'cli' }, 1_000_000_500);
    expect(calls).toEqual([
      // The feed's entry is built first and written in the same statement batch as notBefore.
      'feed entry u1 1000001',
      'db u1 1000001000',
      'cache u1 1000001000',
      'bus u1 1000001000',
      'audit tokens_cut_off u1 {"notBefore":1000001,"reason":"user_disabled","via":"cli"}',
    ]);
  });
});

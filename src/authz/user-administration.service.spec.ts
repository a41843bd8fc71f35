import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { AuditService } from '../audit/audit.service.js';
import { User } from '../users/user.entity.js';
import { AuthzModule } from './authz.module.js';
import {
  InvalidRoleError,
  SelfLockoutError,
  UnknownUserError,
  UserAdministrationService,
} from './user-administration.service.js';

/** A whole second, far from Date.now(), so cut-offs are predictable. */
const T0 = Date.UTC(2031, 0, 1);

let moduleRef: TestingModule;
let service: UserAdministrationService;
let dataSource: DataSource;

beforeEach(async () => {
  moduleRef = await createTestingModule({ imports: [AuthzModule] });
  service = moduleRef.get(UserAdministrationService);
  dataSource = moduleRef.get(DataSource);
});
afterEach(async () => {
  await moduleRef.close();
});

async function insertUser(username: string, createdAt = T0): Promise<string> {
  const id = randomUUID();
  await dataSource.getRepository(User).insert({
    id,
    username,
    usernameNormalized: username.toLowerCase(),
    passwordHash: 'not a real hash',
    createdAt,
  });
  return id;
}

/** The user's audit events at `at` (or all), by type: events of one moment have no order of their own. */
async function events(userId: string, at?: number): Promise<Array<{ type: string; detail: unknown }>> {
  const page = await moduleRef.get(AuditService).list({ userId }, 100);
  return (
    page.items
      // Cut-offs are taken at the real time after the change committed: see cutOffs().
      .filter((event) => event.type !== 'tokens_cut_off' && (at === undefined || event.createdAt === at))
      .map((event) => ({
        type: event.type,
        detail: event.detail === null ? null : (JSON.parse(event.detail) as unknown),
      }))
      .sort((a, b) => a.type.localeCompare(b.type))
  );
}

/** The user's tokens_cut_off details, oldest first. */
async function cutOffs(userId: string): Promise<unknown[]> {
  const page = await moduleRef.get(AuditService).list({ userId, type: 'tokens_cut_off' }, 100);
  return page.items.reverse().map((event) => JSON.parse(event.detail!) as unknown);
}

/** A cut-off with `detail`, at the next whole second after a change that committed between `before` and now. */
function expectCutOffAfter(cutOff: unknown, before: number, detail: object): void {
  const { notBefore, ...rest } = cutOff as { notBefore: number };
  expect(rest).toEqual(detail);
  expect(notBefore).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 1);
  expect(notBefore).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
}

describe('UserAdministrationService.update', () => {
  it('sets the roles to the set given: grants the added, revokes the left out, each audited; one cut-off', async () => {
    const id = await insertUser('alice');
    await service.grant('alice', 'billing', { via: 'cli' }, T0 - 5000);
    await service.grant('alice', 'support', { via: 'cli' }, T0 - 5000);
    const actor = { via: 'admin', adminId: 'admin-1' } as const;

    const before = Date.now();
    const after = await service.update({ id }, { roles: ['support', 'auditor', 'auditor'] }, actor, T0 + 200);

    expect(after).toMatchObject({ id, username: 'alice', roles: ['auditor', 'support'], disabledAt: null });
    expect(await events(id, T0 + 200)).toEqual([
      { type: 'role_granted', detail: { role: 'auditor', via: 'admin', adminId: 'admin-1' } },
      { type: 'role_revoked', detail: { role: 'billing', via: 'admin', adminId: 'admin-1' } },
    ]);
    // One for the update (after the two grants' own), with the weightiest reason of the change.
    const all = await cutOffs(id);
    expect(all).toHaveLength(3);
    expectCutOffAfter(all[2], before, { reason: 'role_revoked', ...actor });
  });

  it('records nothing and cuts nothing off for a change that changes nothing', async () => {
    const id = await insertUser('bob');
    await service.update({ id }, { roles: [], disabled: false }, { via: 'admin', adminId: 'a' }, T0);
    expect(await events(id)).toEqual([]);
    expect(await cutOffs(id)).toEqual([]);
  });

  it('disables (revoking the sessions) and enables in one go with roles; the disable is the reason of the cut-off', async () => {
    const id = await insertUser('carol');
    const before = Date.now();
    const after = await service.update(
      { id },
      { roles: ['support'], disabled: true },
      { via: 'admin', adminId: 'a' },
      T0,
    );
    expect(after).toMatchObject({ roles: ['support'], disabledAt: T0 });
    expect(await events(id)).toEqual([
      { type: 'role_granted', detail: { role: 'support', via: 'admin', adminId: 'a' } },
      { type: 'user_disabled', detail: { sessionsRevoked: 0, via: 'admin', adminId: 'a' } },
    ]);
    const [cutOff, ...more] = await cutOffs(id);
    expect(more).toEqual([]);
    expectCutOffAfter(cutOff, before, { reason: 'user_disabled', via: 'admin', adminId: 'a' });
    const enabled = await service.update({ id }, { disabled: false }, { via: 'admin', adminId: 'a' }, T0 + 10);
    expect(enabled.disabledAt).toBeNull();
  });

  it('refuses an admin disabling themself or dropping their own admin role, before changing anything', async () => {
    const id = await insertUser('dana');
    await service.grant('dana', 'admin', { via: 'cli' }, T0);
    const self = { via: 'admin', adminId: id } as const;
    const before = await events(id);

    await expect(service.update({ id }, { disabled: true }, self, T0)).rejects.toThrow(SelfLockoutError);
    await expect(service.update({ id }, { roles: ['support'] }, self, T0)).rejects.toThrow(
      'You cannot remove your own admin role',
    );
    await expect(service.update({ id }, { roles: [], disabled: false }, self, T0)).rejects.toThrow(SelfLockoutError);
    expect(await service.find(id)).toMatchObject({ roles: ['admin'], disabledAt: null });
    expect(await events(id)).toEqual(before);

    // Keeping admin is fine; so is another admin (or the CLI) doing what the admin may not.
    await expect(service.update({ id }, { roles: ['admin', 'support'] }, self, T0)).resolves.toMatchObject({
      roles: ['admin', 'support'],
    });
    await expect(
      service.update({ id }, { disabled: true }, { via: 'admin', adminId: 'other' }, T0),
    ).resolves.toMatchObject({ disabledAt: T0 });
  });

  it('checks every role name before granting any', async () => {
    const id = await insertUser('erin');
    await expect(
      service.update({ id }, { roles: ['support', 'Not A Role'] }, { via: 'admin', adminId: 'a' }, T0),
    ).rejects.toThrow(InvalidRoleError);
    expect((await service.find(id))?.roles).toEqual([]);
  });

  it('answers UnknownUserError for an id (or username) that names nobody', async () => {
    await expect(service.update({ id: randomUUID() }, { disabled: true }, { via: 'cli' })).rejects.toThrow(
      UnknownUserError,
    );
    await expect(service.grant('nobody', 'admin', { via: 'cli' })).rejects.toThrow('No user named "nobody"');
    await expect(service.find(randomUUID())).resolves.toBeUndefined();
  });
});

describe('UserAdministrationService.page', () => {
  it('pages oldest first by a keyset and filters by a username prefix in any case, wildcards taken literally', async () => {
    const ids = [
      await insertUser('ann_1', T0 + 1),
      await insertUser('AnnX2', T0 + 2),
      await insertUser('ann%3', T0 + 2),
      await insertUser('bert', T0 + 3),
    ];
    const all = await service.page(undefined, 10);
    expect(all.map((u) => u.id)).toEqual([ids[0], ...[ids[1], ids[2]].sort(), ids[3]]);

    const first = await service.page(undefined, 2);
    const rest = await service.page(undefined, 10, { at: first[1].createdAt, id: first[1].id });
    expect([...first, ...rest].map((u) => u.id)).toEqual(all.map((u) => u.id));

    const names = async (prefix: string) => (await service.page(prefix, 10)).map((u) => u.username);
    expect((await names('ANN')).sort()).toEqual(['AnnX2', 'ann%3', 'ann_1'].sort());
    expect(await names('ann_')).toEqual(['ann_1']);
    expect(await names('ann%')).toEqual(['ann%3']);
    expect(await names('%')).toEqual([]);
    expect(await names('\\')).toEqual([]);
  });
});

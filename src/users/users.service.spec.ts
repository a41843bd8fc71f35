import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ConflictException } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import * as argon2 from 'argon2';
import { DataSource, type Repository } from 'typeorm';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { PasswordHasherService } from './password-hasher.service.js';
import { User } from './user.entity.js';
import { UsersModule } from './users.module.js';
import { UsersService } from './users.service.js';

const PASSWORD = 'correct horse battery staple';

interface Ctx {
  moduleRef: TestingModule;
  service: UsersService;
  users: Repository<User>;
}

let ctx: Ctx | undefined;

/** UsersService with the real PasswordHasherService (cheap argon2 cost) on migrated in-memory SQLite. */
async function setup(env: Record<string, string> = {}): Promise<Ctx> {
  const moduleRef = await createTestingModule({ env, imports: [UsersModule] });
  ctx = { moduleRef, service: moduleRef.get(UsersService), users: moduleRef.get(DataSource).getRepository(User) };
  return ctx;
}

afterEach(async () => {
  await ctx?.moduleRef.close();
  ctx = undefined;
});

/** The m/t/p cost encoded in an argon2 PHC string. */
function cost(hash: string): { type: string; m: number; t: number; p: number } {
  const [, type, , list] = hash.split('$');
  const values = Object.fromEntries(list.split(',').map((pair) => [pair[0], Number(pair.slice(2))]));
  return { type, m: values.m, t: values.t, p: values.p };
}

describe('UsersService', () => {
  describe('register', () => {
    it('stores the user with a normalized name and an argon2id hash, never the password', async () => {
      const { service, users } = await setup();
      const before = Date.now();
      const user = await service.register('Alice', PASSWORD);

      const stored = await users.findOneByOrFail({ id: user.id });
      expect(stored).toEqual(user);
      expect(stored).toMatchObject({ username: 'Alice', usernameNormalized: 'alice' });
      expect(stored.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(stored.createdAt).toBeGreaterThanOrEqual(before);
      expect(stored.createdAt).toBeLessThanOrEqual(Date.now());
      expect(cost(stored.passwordHash)).toEqual({ type: 'argon2id', m: 1024, t: 1, p: 1 });
      expect(JSON.stringify(await users.query('SELECT * FROM users'))).not.toContain(PASSWORD);
    });

    it.each([
      ['the same name', 'alice', 'alice'],
      ['another letter case', 'Alice', 'aLICE'],
      ['all capitals', 'bob', 'BOB'],
    ])('refuses %s with ConflictException', async (_label, first, second) => {
      const { service, users } = await setup();
      await service.register(first, PASSWORD);
      await expect(service.register(second, 'another password')).rejects.toThrow(ConflictException);
      expect(await users.count()).toBe(1);
    });

    it('refuses a taken name before hashing the password', async () => {
      const { service, moduleRef } = await setup();
      await service.register('alice', PASSWORD);
      const hasher = moduleRef.get(PasswordHasherService);
      const hash = jest.spyOn(hasher, 'hash');
      await expect(service.register('ALICE', PASSWORD)).rejects.toThrow(ConflictException);
      expect(hash).not.toHaveBeenCalled();
      await service.register('bob', PASSWORD);
      expect(hash).toHaveBeenCalledTimes(1);
    });

    it('lets only one of two parallel registrations of a name win', async () => {
      const { service, users } = await setup();
      const results = await Promise.allSettled([
        service.register('carol', PASSWORD),
        service.register('CAROL', PASSWORD),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const [rejected] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected.reason).toBeInstanceOf(ConflictException);
      expect(await users.count()).toBe(1);
    });

    it('accepts different names', async () => {
      const { service, users } = await setup();
      await service.register('alice', PASSWORD);
      await expect(service.register('alice2', PASSWORD)).resolves.toMatchObject({ username: 'alice2' });
      expect(await users.count()).toBe(2);
    });
  });

  describe('verifyCredentials', () => {
    it('returns the user for the right password, whatever the letter case of the name', async () => {
      const { service } = await setup();
      const user = await service.register('Alice', PASSWORD);
      await expect(service.verifyCredentials('Alice', PASSWORD)).resolves.toMatchObject({
        id: user.id,
        username: 'Alice',
      });
      await expect(service.verifyCredentials('alice', PASSWORD)).resolves.toMatchObject({ id: user.id });
      await expect(service.verifyCredentials('ALICE', PASSWORD)).resolves.toMatchObject({ id: user.id });
    });

    it('returns null for a wrong password', async () => {
      const { service } = await setup();
      await service.register('alice', PASSWORD);
      await expect(service.verifyCredentials('alice', 'wrong password')).resolves.toBeNull();
      await expect(service.verifyCredentials('alice', PASSWORD.toUpperCase())).resolves.toBeNull();
      await expect(service.verifyCredentials('alice', '')).resolves.toBeNull();
    });

    it('returns null for an unknown user, even with the dummy password', async () => {
      const { service } = await setup();
      await service.register('alice', PASSWORD);
      await expect(service.verifyCredentials('mallory', PASSWORD)).resolves.toBeNull();
      await expect(service.verifyCredentials('mallory', 'dummy password for unknown users')).resolves.toBeNull();
    });

    it('upgrades a hash made with older parameters on a successful login', async () => {
      const { service, users } = await setup();
      const user = await service.register('alice', PASSWORD);
      const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
      await users.update({ id: user.id }, { passwordHash: old });

      await expect(service.verifyCredentials('alice', PASSWORD)).resolves.toMatchObject({ id: user.id });

      const upgraded = (await users.findOneByOrFail({ id: user.id })).passwordHash;
      expect(upgraded).not.toBe(old);
      expect(cost(upgraded)).toEqual({ type: 'argon2id', m: 1024, t: 1, p: 1 });
      await expect(argon2.verify(upgraded, PASSWORD)).resolves.toBe(true);
      // And the next login works against the new hash.
      await expect(service.verifyCredentials('alice', PASSWORD)).resolves.toMatchObject({ id: user.id });
    });

    it('returns the hash now stored, also when two logins upgrade an old hash at once, and refuses one that raced a password change', async () => {
      const { service, users } = await setup();
      const user = await service.register('alice', PASSWORD);
      const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
      await users.update({ id: user.id }, { passwordHash: old });

      // Both read the old hash; one upgrade wins, and both logins must hand back the stored hash.
      const [a, b] = await Promise.all([
        service.verifyCredentials('alice', PASSWORD),
        service.verifyCredentials('alice', PASSWORD),
      ]);
      const stored = (await users.findOneByOrFail({ id: user.id })).passwordHash;
      expect(cost(stored).m).toBe(1024);
      expect([a?.passwordHash, b?.passwordHash]).toEqual([stored, stored]);

      // A login whose upgrade loses to a password change fails.
      await users.update({ id: user.id }, { passwordHash: old });
      const changed = await argon2.hash('a different password', {
        type: argon2.argon2id,
        memoryCost: 1024,
        timeCost: 1,
        parallelism: 1,
      });
      const racing = service.verifyCredentials('alice', PASSWORD);
      await users.update({ id: user.id }, { passwordHash: changed });
      await expect(racing).resolves.toBeNull();
    });

    it('logs in without the upgrade when hashing is saturated (the next login upgrades)', async () => {
      const { service, users, moduleRef } = await setup({ PASSWORD_HASH_QUEUE: '0' });
      const user = await service.register('alice', PASSWORD);
      const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
      await users.update({ id: user.id }, { passwordHash: old });
      const hasher = moduleRef.get(PasswordHasherService);
      jest.spyOn(hasher, 'hash').mockRejectedValueOnce(new ServerBusyException('busy', 1));

      await expect(service.verifyCredentials('alice', PASSWORD)).resolves.toMatchObject({
        id: user.id,
        passwordHash: old,
      });
      expect((await users.findOneByOrFail({ id: user.id })).passwordHash).toBe(old);
      await service.verifyCredentials('alice', PASSWORD);
      expect(cost((await users.findOneByOrFail({ id: user.id })).passwordHash).m).toBe(1024);
    });

    it('leaves an old hash alone when the password is wrong', async () => {
      const { service, users } = await setup();
      const user = await service.register('alice', PASSWORD);
      const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
      await users.update({ id: user.id }, { passwordHash: old });

      await expect(service.verifyCredentials('alice', 'wrong password')).resolves.toBeNull();

      expect((await users.findOneByOrFail({ id: user.id })).passwordHash).toBe(old);
    });

    it('does not rewrite a hash that already has the configured parameters', async () => {
      const { service, users } = await setup();
      const user = await service.register('alice', PASSWORD);
      await service.verifyCredentials('alice', PASSWORD);
      expect((await users.findOneByOrFail({ id: user.id })).passwordHash).toBe(user.passwordHash);
    });
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import * as argon2 from 'argon2';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { PasswordHashQueue } from './password-hash.queue.js';
import { PasswordHasherService } from './password-hasher.service.js';

const PASSWORD = 'correct horse battery staple';
/** argon2's PHC string: $argon2id$v=19$m=<KiB>,p=<lanes>,t=<iterations>$<salt>$<hash> (parameter order varies). */
const PHC = /^\$(argon2(?:id|i|d))\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

let moduleRef: TestingModule | undefined;

async function hasherWith(env: Record<string, string> = {}): Promise<PasswordHasherService> {
  moduleRef = await createTestingModule({
    env,
    database: false,
    providers: [PasswordHasherService, PasswordHashQueue],
  });
  return moduleRef.get(PasswordHasherService);
}

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

function params(hash: string) {
  const match = PHC.exec(hash);
  expect(match).not.toBeNull();
  const [, type, version, list, salt] = match!;
  const cost = Object.fromEntries(list.split(',').map((pair) => [pair[0], Number(pair.slice(2))]));
  return { type, version: Number(version), m: cost.m, t: cost.t, p: cost.p, salt };
}

describe('PasswordHasherService', () => {
  describe('hash', () => {
    it('produces argon2id with the configured cost', async () => {
      const hasher = await hasherWith({ ARGON2_MEMORY_KIB: '2048', ARGON2_ITERATIONS: '2', ARGON2_PARALLELISM: '2' });
      const hash = await hasher.hash(PASSWORD);
      expect(params(hash)).toMatchObject({ type: 'argon2id', version: 19, m: 2048, t: 2, p: 2 });
      expect(hash).not.toContain(PASSWORD);
    });

    it('uses a fresh salt every time', async () => {
      const hasher = await hasherWith();
      const a = await hasher.hash(PASSWORD);
      const b = await hasher.hash(PASSWORD);
      expect(a).not.toBe(b);
      expect(params(a).salt).not.toBe(params(b).salt);
    });

    it('fits the 255-character password_hash column', async () => {
      const hasher = await hasherWith({ ARGON2_MEMORY_KIB: '65536', ARGON2_ITERATIONS: '1', ARGON2_PARALLELISM: '16' });
      // The highest cost that is still quick to compute; a longer password does not lengthen the hash.
      expect((await hasher.hash('x'.repeat(128))).length).toBeLessThanOrEqual(255);
    });
  });

  describe('verify', () => {
    it('accepts the right password and refuses a wrong one', async () => {
      const hasher = await hasherWith();
      const hash = await hasher.hash(PASSWORD);
      await expect(hasher.verify(hash, PASSWORD)).resolves.toBe(true);
      await expect(hasher.verify(hash, `${PASSWORD} `)).resolves.toBe(false);
      await expect(hasher.verify(hash, PASSWORD.toUpperCase())).resolves.toBe(false);
      await expect(hasher.verify(hash, '')).resolves.toBe(false);
    });

    it('verifies hashes made with other parameters (they still log in before the upgrade)', async () => {
      const hasher = await hasherWith();
      const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
      await expect(hasher.verify(old, PASSWORD)).resolves.toBe(true);
      await expect(hasher.verify(old, 'wrong')).resolves.toBe(false);
    });

    it('is false for an unknown user, even with the dummy password', async () => {
      const hasher = await hasherWith();
      await expect(hasher.verify(undefined, PASSWORD)).resolves.toBe(false);
      await expect(hasher.verify(undefined, 'dummy password for unknown users')).resolves.toBe(false);
    });

    it('does real argon2 work for an unknown user, as for a wrong password', async () => {
      // A cost high enough that hashing cannot hide in timer noise (tens of ms per verify).
      const hasher = await hasherWith({ ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '4' });
      const hash = await hasher.hash(PASSWORD);
      const time = async (fn: () => Promise<boolean>) => {
        const start = performance.now();
        await fn();
        return performance.now() - start;
      };
      // Interleaved, best of three each: load on the machine can only make either side slower.
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        wrong.push(await time(() => hasher.verify(hash, 'wrong')));
        unknown.push(await time(() => hasher.verify(undefined, 'wrong')));
      }
      // A skipped dummy verification answers in microseconds; a real one costs about the same as a wrong password.
      expect(Math.min(...wrong)).toBeGreaterThan(4);
      expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...wrong) / 4);
    });

    it('is false, not an exception, for a stored value that is not an argon2 hash', async () => {
      const hasher = await hasherWith();
      for (const junk of ['', 'plain-text-password', '$2b$10$abcdefghijklmnopqrstuuMQ8sT1n1T3hQnJY0n2uQ8nJxM9jH1yC']) {
        await expect(hasher.verify(junk, PASSWORD)).resolves.toBe(false);
      }
    });
  });

  describe('needsRehash', () => {
    it('is false for a hash made with the configured parameters', async () => {
      const hasher = await hasherWith();
      expect(hasher.needsRehash(await hasher.hash(PASSWORD))).toBe(false);
    });

    it.each([
      ['memory', { memoryCost: 2048, timeCost: 1, parallelism: 1 }],
      ['iterations', { memoryCost: 1024, timeCost: 2, parallelism: 1 }],
      ['parallelism', { memoryCost: 1024, timeCost: 1, parallelism: 2 }],
    ])('is true when the %s cost differs', async (_label, options) => {
      const hasher = await hasherWith();
      expect(hasher.needsRehash(await argon2.hash(PASSWORD, { type: argon2.argon2id, ...options }))).toBe(true);
    });

    it('is true when the configuration was raised after the hash was made', async () => {
      const old = await (await hasherWith()).hash(PASSWORD);
      await moduleRef!.close();
      const raised = await hasherWith({ ARGON2_MEMORY_KIB: '4096', ARGON2_ITERATIONS: '3' });
      expect(raised.needsRehash(old)).toBe(true);
    });

    it('is true for another argon2 variant with the same cost', async () => {
      const hasher = await hasherWith();
      const argon2i = await argon2.hash(PASSWORD, {
        type: argon2.argon2i,
        memoryCost: 1024,
        timeCost: 1,
        parallelism: 1,
      });
      expect(params(argon2i).type).toBe('argon2i');
      expect(hasher.needsRehash(argon2i)).toBe(true);
    });

    it('is false, not an exception, for a value it cannot parse', async () => {
      const hasher = await hasherWith();
      expect(hasher.needsRehash('not a hash')).toBe(false);
    });
  });
});

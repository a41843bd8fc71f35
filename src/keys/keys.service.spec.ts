import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { KeyEncryption } from './key-encryption.js';
import { KeysModule } from './keys.module.js';
import { KeysService, SIGNING_KEY_CONFIRMATION_MS } from './keys.service.js';

/** What every KeysService here runs with, under the unit defaults. */
const KEYS_ENV = { JWT_ALG: 'ES256', ACCESS_TOKEN_TTL: '60s' };

let moduleRef: TestingModule | undefined;

/** KeysService over a migrated in-memory database; ES256 keys are generated in about a millisecond. */
async function keysWith(
  env: Record<string, string> = {},
  database = ':memory:',
): Promise<{ keys: KeysService; dataSource: DataSource }> {
  moduleRef = await createTestingModule({ env: { ...KEYS_ENV, ...env }, database, imports: [KeysModule] });
  return { keys: moduleRef.get(KeysService), dataSource: moduleRef.get(DataSource) };
}

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

describe('KeysService', () => {
  it('generates one signing key on first start and publishes only its public part', async () => {
    const { keys } = await keysWith();
    const { keys: published } = keys.jwks();
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      alg: 'ES256',
      use: 'sig',
      kid: keys.currentSigningKey().kid,
    });
    expect(published[0]).not.toHaveProperty('d');
  });

  it('rotates: the new key signs at once, the old one stays published (and verifies) for ACCESS_TOKEN_TTL plus the signing bound after retirement', async () => {
    const { keys } = await keysWith();
    const old = keys.currentSigningKey();
    const t0 = Date.now() + 1000;
    const fresh = await keys.rotate(t0);
    expect(keys.currentSigningKey().kid).toBe(fresh.kid);
    expect(keys.jwks(t0).keys.map((k) => k.kid)).toEqual([fresh.kid, old.kid]);
    await expect(keys.verificationKey(old.kid, 'ES256')).resolves.toBeDefined();
    // TTL (60 s) + 15 s another instance may still sign with it + 5 s busy timeout + 5 s clock skew.
    expect(keys.retiredKeyLifetimeMs).toBe(85_000);
    expect(keys.jwks(t0 + 84_999).keys.map((k) => k.kid)).toEqual([fresh.kid, old.kid]);
    expect(keys.jwks(t0 + 85_001).keys.map((k) => k.kid)).toEqual([fresh.kid]);
  });

  describe('a rotation made by another process on the same database', () => {
    let dir: string;
    let file: string;
    const others: TestingModule[] = [];

    /** A second KeysService over the same file: another instance, or `npm run keys:rotate`. */
    const anotherProcess = async () => {
      const other = await createTestingModule({ env: KEYS_ENV, database: file, imports: [KeysModule] });
      others.push(other);
      return other.get(KeysService);
    };

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'nta-keys-'));
      file = join(dir, 'keys.sqlite');
    });
    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('an instance that has not re-confirmed its key within 15 s reads the keys again before signing', async () => {
      const { keys: serving } = await keysWith({}, file);
      const old = serving.currentSigningKey();
      const rotated = await (await anotherProcess()).rotate();

      // Confirmed a moment ago: it may go on signing with the old key until its next reload...
      expect((await serving.signingKey()).kid).toBe(old.kid);
      // ...but never longer than SIGNING_KEY_CONFIRMATION_MS after it last saw the key live.
      const later = Date.now() + SIGNING_KEY_CONFIRMATION_MS + 1000;
      expect((await serving.signingKey(later)).kid).toBe(rotated.kid);
    });

    it('every instance keeps the retired key until the last token an instance may sign with it has expired', async () => {
      const { keys: serving } = await keysWith({}, file);
      const reload = (now?: number) => (serving as unknown as { reload(now?: number): Promise<void> }).reload(now);
      const old = serving.currentSigningKey();
      const rotator = await anotherProcess();
      // The serving instance reads the keys (old one live) just before the other process retires it.
      const confirmedAt = Date.now();
      await reload(confirmedAt);
      await rotator.rotate(confirmedAt);

      // Without another reload it may still sign with the old key until its confirmation runs
      // out; that last token lives ACCESS_TOKEN_TTL (60 s) from then.
      const lastSignedAt = confirmedAt + SIGNING_KEY_CONFIRMATION_MS;
      expect((await serving.signingKey(lastSignedAt)).kid).toBe(old.kid);
      const lastExp = lastSignedAt + 60_000;

      // Whatever the reload timing: the rotator (which knows of the retirement) and the serving
      // instance after a reload both keep publishing and accepting the key until that exp.
      await reload();
      for (const [name, keys] of [
        ['rotator', rotator],
        ['serving instance', serving],
      ] as const) {
        expect({ name, kids: keys.jwks(lastExp - 1).keys.map((k) => k.kid) }).toEqual({
          name,
          kids: [keys.currentSigningKey().kid, old.kid],
        });
      }
      await expect(rotator.verificationKey(old.kid, 'ES256')).resolves.toMatchObject({ kid: old.kid });
    });
  });

  it('accepts only the configured algorithm and keys it knows', async () => {
    const { keys } = await keysWith();
    const { kid } = keys.currentSigningKey();
    await expect(keys.verificationKey(kid, 'RS256')).resolves.toBeUndefined();
    await expect(keys.verificationKey(kid, 'HS256')).resolves.toBeUndefined();
    await expect(keys.verificationKey('not-a-key', 'ES256')).resolves.toBeUndefined();
    await expect(keys.verificationKey(undefined, 'ES256')).resolves.toBeUndefined();
  });

  it('rotates by itself once JWT_KEY_ROTATION has passed (checked on its periodic tick)', async () => {
    const { keys } = await keysWith({ JWT_KEY_ROTATION: '1h' });
    const first = keys.currentSigningKey();
    const tick = (now: number) => (keys as unknown as { tick(now: number): Promise<void> }).tick(now);
    await tick(first.createdAt + 30 * 60_000);
    expect(keys.currentSigningKey().kid).toBe(first.kid);
    await tick(first.createdAt + 3_600_000);
    expect(keys.currentSigningKey().kid).not.toBe(first.kid);
  });

  it('stores private keys encrypted when KEYS_ENCRYPTION_KEY is set, and reads them back', async () => {
    const secret = 'k'.repeat(8) + 'Zq81nW0pXv3rTt6yB2mCe9sLa5';
    const { keys, dataSource } = await keysWith({ KEYS_ENCRYPTION_KEY: secret });
    const rows = await dataSource.query<Array<{ purpose: string; material: string }>>(
      'SELECT purpose, material FROM signing_keys',
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.material.startsWith('enc1:')).toBe(true);
      expect(row.material).not.toContain('PRIVATE KEY');
    }
    const pem = new KeyEncryption(secret).open(rows.find((r) => r.purpose === 'access_token')!.material);
    expect(pem).toContain('BEGIN PRIVATE KEY');
    expect(keys.currentSigningKey().signingKey.type).toBe('private');
    expect(() => new KeyEncryption('x'.repeat(32) + 'other').open(rows[0].material)).toThrow(/does not decrypt/);
  });

  it('gives the refresh-token MAC key a fixed id, so instances starting together agree on it', async () => {
    const { dataSource } = await keysWith();
    const rows = await dataSource.query<Array<{ id: string }>>(
      "SELECT id FROM signing_keys WHERE purpose = 'refresh_token_mac'",
    );
    expect(rows).toEqual([{ id: 'refresh-token-mac' }]);
  });

  it('encrypts keys stored in the clear once KEYS_ENCRYPTION_KEY is set, and keeps them working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nta-keys-'));
    const file = join(dir, 'keys.sqlite');
    try {
      const before = await keysWith({}, file);
      const kid = before.keys.currentSigningKey().kid;
      await moduleRef!.close();
      const secret = 'Zq81nW0pXv3rTt6yB2mCe9sLa5kkkkkkk';
      const { keys, dataSource } = await keysWith({ KEYS_ENCRYPTION_KEY: secret }, file);
      const rows = await dataSource.query<Array<{ material: string }>>('SELECT material FROM signing_keys');
      expect(rows.every((row) => row.material.startsWith('enc1:'))).toBe(true);
      expect(keys.currentSigningKey().kid).toBe(kid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with encryption on, ignores a key row slipped into the table in the clear', async () => {
    const { keys, dataSource } = await keysWith({ KEYS_ENCRYPTION_KEY: 'Zq81nW0pXv3rTt6yB2mCe9sLa5kkkkkkk' });
    const honest = keys.currentSigningKey().kid;
    const { privateKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    );
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await dataSource.query(
      "INSERT INTO signing_keys (id, purpose, alg, material, created_at, retired_at) VALUES ('planted', 'access_token', 'ES256', ?, ?, NULL)",
      [pem, Date.now() + 60_000],
    );
    await (keys as unknown as { reload(): Promise<void> }).reload();
    expect(keys.currentSigningKey().kid).toBe(honest);
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([honest]);
  });

  it('with encryption on, does not adopt a key planted in the clear at the next start either', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nta-keys-'));
    const file = join(dir, 'keys.sqlite');
    const secret = 'Zq81nW0pXv3rTt6yB2mCe9sLa5kkkkkkk';
    try {
      const first = await keysWith({ KEYS_ENCRYPTION_KEY: secret }, file);
      const honest = first.keys.currentSigningKey().kid;
      const { privateKey } = await import('node:crypto').then((c) =>
        c.generateKeyPairSync('rsa', { modulusLength: 2048 }),
      );
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      await first.dataSource.query(
        "INSERT INTO signing_keys (id, purpose, alg, material, created_at, retired_at) VALUES ('planted', 'access_token', 'RS256', ?, ?, NULL)",
        [pem, Date.now() + 60_000],
      );
      await moduleRef!.close();

      const { keys, dataSource } = await keysWith({ KEYS_ENCRYPTION_KEY: secret }, file);
      expect(keys.currentSigningKey().kid).toBe(honest);
      expect(keys.jwks().keys.map((k) => k.kid)).toEqual([honest]);
      const planted = await dataSource.query<Array<{ material: string }>>(
        "SELECT material FROM signing_keys WHERE id = 'planted'",
      );
      expect(planted[0].material).toBe(pem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

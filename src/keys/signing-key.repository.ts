import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, MoreThan, Repository } from 'typeorm';
import { SqliteAdapter } from '../database/sqlite-adapter.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { SigningKey, type KeyPurpose } from './signing-key.entity.js';

/** Every query on `signing_keys`. Material arrives and leaves as stored (sealed when encryption is on). */
@Injectable()
export class SigningKeyRepository {
  constructor(
    @InjectRepository(SigningKey) private readonly keys: Repository<SigningKey>,
    private readonly sqlite: SqliteAdapter,
  ) {}

  /** Access-token keys of `alg` that are live or were retired after `retiredAfter`, newest first. */
  findPublishable(alg: string, retiredAfter: number): Promise<SigningKey[]> {
    return this.keys.find({
      where: [
        { purpose: 'access_token', alg, retiredAt: IsNull() },
        { purpose: 'access_token', alg, retiredAt: MoreThan(retiredAfter) },
      ],
      order: { createdAt: 'DESC', id: 'DESC' },
    });
  }

  /** The oldest live key of a purpose: the one every instance agrees on. */
  findOldestLive(purpose: KeyPurpose): Promise<SigningKey | null> {
    return this.keys.findOne({ where: { purpose, retiredAt: IsNull() }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  findAll(): Promise<SigningKey[]> {
    return this.keys.find();
  }

  /** Stores a new key; false when a key with its id exists already (another instance's, made at the same start). */
  async insert(key: SigningKey): Promise<boolean> {
    try {
      await this.keys.insert(key);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Retires the live access-token keys created before `createdBefore`; a newer key (a racing rotation's) stays live. */
  async retireAccessTokenKeysCreatedBefore(createdBefore: number, retiredAt: number): Promise<void> {
    await this.keys.update(
      { purpose: 'access_token', retiredAt: IsNull(), createdAt: LessThan(createdBefore) },
      { retiredAt },
    );
  }

  /**
   * Replaces the material of the given keys in one transaction, each only while it still holds
   * `from`. Start-up only (a TypeORM transaction must not be open on SQLite while requests are
   * served: see UnitOfWork); retried whole while another process holds SQLite's write lock.
   */
  async replaceMaterials(changes: ReadonlyArray<{ id: string; from: string; to: string }>): Promise<void> {
    await this.sqlite.retry(() =>
      this.keys.manager.transaction(async (manager) => {
        for (const { id, from, to } of changes)
          await manager.update(SigningKey, { id, material: from }, { material: to });
      }),
    );
  }
}

import { createHash, createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { SigningKey, type KeyPurpose } from './signing-key.entity.js';

export interface AccessTokenKey {
  kid: string;
  alg: 'HS256';
  /** KeyObject, not a string: jsonwebtoken is ~60x faster with one. */
  key: KeyObject;
}

/**
 * Owns the server's keys: the access-token signing key and the refresh-token MAC key.
 * Both are generated on first start and stored in the database, so tokens survive restarts
 * and every instance on the same database agrees. JWT_SECRET, when set, replaces the
 * access-token key.
 */
@Injectable()
export class KeysService implements OnModuleInit {
  private readonly logger = new Logger(KeysService.name);
  private signingKey: AccessTokenKey;
  private verificationKeys = new Map<string, AccessTokenKey>();
  private refreshMacKey: KeyObject;

  constructor(
    @InjectRepository(SigningKey) private readonly keys: Repository<SigningKey>,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  async onModuleInit(): Promise<void> {
    const { jwtSecret } = this.config.get('auth', { infer: true });
    if (jwtSecret) {
      const kid = `env-${createHash('sha256').update(jwtSecret).digest('hex').slice(0, 8)}`;
      this.signingKey = { kid, alg: 'HS256', key: createSecretKey(Buffer.from(jwtSecret, 'utf8')) };
      this.verificationKeys.set(kid, this.signingKey);
      this.logger.log('Access tokens are signed with JWT_SECRET');
    } else {
      const stored = await this.ensureKey('access_token');
      this.signingKey = { kid: stored.id, alg: 'HS256', key: toKeyObject(stored) };
      this.verificationKeys.set(stored.id, this.signingKey);
    }
    this.refreshMacKey = toKeyObject(await this.ensureKey('refresh_token_mac'));
  }

  /** The key new access tokens are signed with. */
  currentSigningKey(): AccessTokenKey {
    return this.signingKey;
  }

  /** The key for a token's `kid`, or undefined when we never issued it. */
  verificationKey(kid: string | undefined): AccessTokenKey | undefined {
    return kid === undefined ? undefined : this.verificationKeys.get(kid);
  }

  /** HMAC key that derives rotated refresh tokens. */
  refreshTokenMacKey(): KeyObject {
    return this.refreshMacKey;
  }

  /**
   * Returns the oldest live key for a purpose, creating one when there is none. Instances that
   * start together may both insert; each then reads the same oldest row, so they agree.
   */
  private async ensureKey(purpose: KeyPurpose): Promise<SigningKey> {
    const existing = await this.oldest(purpose);
    if (existing) return existing;
    await this.keys.insert({
      id: randomUUID(),
      purpose,
      alg: 'HS256',
      material: randomBytes(32).toString('base64url'),
      createdAt: Date.now(),
      retiredAt: null,
    });
    this.logger.log(`Generated a new ${purpose} key`);
    const created = await this.oldest(purpose);
    if (!created) throw new Error(`Could not store a ${purpose} key`);
    return created;
  }

  private oldest(purpose: KeyPurpose): Promise<SigningKey | null> {
    return this.keys.findOne({ where: { purpose, retiredAt: IsNull() }, order: { createdAt: 'ASC', id: 'ASC' } });
  }
}

function toKeyObject(stored: SigningKey): KeyObject {
  return createSecretKey(Buffer.from(stored.material, 'base64url'));
}

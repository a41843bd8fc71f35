import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig, AuthConfig, JwtAlgorithm } from '../config/app-config.js';
import { KeyEncryption } from './key-encryption.js';
import type { SigningKey } from './signing-key.entity.js';
import { SigningKeyRepository } from './signing-key.repository.js';

export interface AccessTokenKey {
  kid: string;
  alg: JwtAlgorithm;
  /** KeyObjects, not strings: jsonwebtoken is ~60x faster with them. */
  signingKey: KeyObject;
  verificationKey: KeyObject;
  /** Public JWK for asymmetric keys; undefined for HS256. */
  publicJwk?: JsonWebKey;
  createdAt: number;
  retiredAt: number | null;
}

/** Reload stored keys this often, so keys rotated by another process show up here. */
const RELOAD_INTERVAL_MS = 10_000;
/**
 * An instance signs only with a key it has seen live in the database within this time (its
 * periodic reload normally keeps this fresh); past it, signing re-reads the keys first. So no
 * instance signs with a key for longer than this after the retirement committed, whatever its
 * reload timing (a late timer, a slow or busy database, a rotation made by another process).
 */
export const SIGNING_KEY_CONFIRMATION_MS = 15_000;
/** Allowance for clock differences between the instances and the process that rotated. */
const CLOCK_SKEW_MS = 5_000;
/**
 * An unknown `kid` triggers at most one reload per this interval: a key rotated in elsewhere is
 * picked up within a second even while forged kids flood in, and the flood costs one query a second.
 */
const UNKNOWN_KID_RELOAD_MS = 1_000;
/** The refresh-token MAC key's id, fixed so instances racing at first start agree on one row. */
const MAC_KEY_ID = 'refresh-token-mac';

/**
 * Owns the server's keys: the access-token signing keys (published as JWKS when asymmetric)
 * and the refresh-token MAC key. Keys are generated on first start and stored in the
 * database, so tokens survive restarts and every instance on the same database agrees.
 */
@Injectable()
export class KeysService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KeysService.name);
  private readonly auth: AuthConfig;
  private readonly encryption: KeyEncryption;
  private current: AccessTokenKey;
  private published = new Map<string, AccessTokenKey>();
  private refreshMacKey: KeyObject;
  private lastUnknownKidReload = 0;
  /** When (this process's clock, at the start of the read) the database last showed `current` live. */
  private confirmedAt = 0;
  private confirming?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /**
   * How long a key stays published and accepted after its retirement: ACCESS_TOKEN_TTL for the
   * tokens signed just before it, plus the longest any instance may still sign with it
   * (SIGNING_KEY_CONFIRMATION_MS after the retirement committed), the longest that commit may
   * take after its timestamp (a rotation waiting for SQLite's lock, DATABASE_BUSY_TIMEOUT), and
   * clock skew. Every token signed with the key then verifies until its own exp.
   */
  readonly retiredKeyLifetimeMs: number;

  constructor(
    private readonly keys: SigningKeyRepository,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
    this.encryption = new KeyEncryption(this.auth.keysEncryptionKey);
    const busyTimeoutMs = config.get('database', { infer: true }).busyTimeout * 1000;
    this.retiredKeyLifetimeMs =
      this.auth.accessTokenTtl * 1000 + SIGNING_KEY_CONFIRMATION_MS + busyTimeoutMs + CLOCK_SKEW_MS;
  }

  async onModuleInit(): Promise<void> {
    await this.encryptPlaintextKeys();
    this.refreshMacKey = createSecretKey(Buffer.from(this.encryption.open(await this.ensureMacKey()), 'base64url'));
    if (this.auth.jwtSecret) {
      const key = createSecretKey(Buffer.from(this.auth.jwtSecret, 'utf8'));
      const kid = `env-${createHash('sha256').update(this.auth.jwtSecret).digest('hex').slice(0, 8)}`;
      this.current = { kid, alg: 'HS256', signingKey: key, verificationKey: key, createdAt: 0, retiredAt: null };
      this.published.set(kid, this.current);
      this.logger.warn('JWT_ALG=HS256 with JWT_SECRET: resource servers need the shared secret; JWKS is empty');
      return;
    }
    await this.reload();
    if (!this.current) {
      await this.insertSigningKey(Date.now());
      await this.reload();
    }
    if (this.auth.jwtAlg === 'HS256') {
      this.logger.warn('JWT_ALG=HS256: access tokens use a shared secret; JWKS is empty');
    }
    this.timer = setInterval(
      () => void this.tick().catch((e: Error) => this.logger.error(e.message)),
      RELOAD_INTERVAL_MS,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The key new access tokens are signed with, as last read (see signingKey()). */
  currentSigningKey(): AccessTokenKey {
    return this.current;
  }

  /**
   * The key to sign with now. When this instance has not seen it live in the database within
   * SIGNING_KEY_CONFIRMATION_MS, the keys are read again first (one read for all callers), so a
   * key retired elsewhere is never used past the time it stays published for.
   */
  async signingKey(now = Date.now()): Promise<AccessTokenKey> {
    if (this.auth.jwtSecret || now - this.confirmedAt <= SIGNING_KEY_CONFIRMATION_MS) return this.current;
    this.confirming ??= this.reload(now).finally(() => (this.confirming = undefined));
    await this.confirming;
    if (now - this.confirmedAt > SIGNING_KEY_CONFIRMATION_MS) {
      throw new Error(
        'The current signing key could not be confirmed in the database; not signing with a possibly retired key',
      );
    }
    return this.current;
  }

  /**
   * The key for a token's `kid` and `alg`, or undefined unless it is one we publish for the
   * configured algorithm. An unknown kid may be a key rotated in by another instance: reload once.
   */
  async verificationKey(kid: string | undefined, alg: string | undefined): Promise<AccessTokenKey | undefined> {
    if (kid === undefined || alg !== this.auth.jwtAlg) return undefined;
    let key = this.published.get(kid);
    const now = Date.now();
    if (!key && !this.auth.jwtSecret && now - this.lastUnknownKidReload > UNKNOWN_KID_RELOAD_MS) {
      this.lastUnknownKidReload = now;
      await this.reload();
      key = this.published.get(kid);
    }
    return key && this.isPublished(key, now) ? key : undefined;
  }

  /** Public keys for `/.well-known/jwks.json`: live keys plus retired ones whose tokens may still be valid. */
  jwks(now = Date.now()): { keys: JsonWebKey[] } {
    const keys = [...this.published.values()]
      .filter((key) => key.publicJwk && this.isPublished(key, now))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((key) => ({ ...key.publicJwk!, kid: key.kid, alg: key.alg, use: 'sig' }));
    return { keys };
  }

  /** HMAC key that derives rotated refresh tokens. */
  refreshTokenMacKey(): KeyObject {
    return this.refreshMacKey;
  }

  /**
   * Adds a new signing key and retires the older ones: new tokens use it at once, tokens signed
   * before keep verifying until they expire. Safe when several processes rotate together.
   */
  async rotate(now = Date.now()): Promise<AccessTokenKey> {
    if (this.auth.jwtSecret)
      throw new Error('Keys cannot be rotated while JWT_SECRET is set; change the secret instead');
    const kid = await this.insertSigningKey(now);
    // Retire only keys older than ours: if two rotations race, the newest key wins everywhere.
    // Stamped after the key generation, as close to the commit as we can: the published window
    // counts from this time.
    await this.keys.retireAccessTokenKeysCreatedBefore(now, Math.max(now, Date.now()));
    await this.reload(now);
    this.logger.log(`Rotated access-token signing key; new kid ${kid}`);
    return this.published.get(kid)!;
  }

  /** Periodic: pick up keys rotated elsewhere, and rotate when JWT_KEY_ROTATION says so. */
  private async tick(now = Date.now()): Promise<void> {
    await this.reload(now);
    const interval = this.auth.keyRotationInterval * 1000;
    if (interval > 0 && !this.auth.jwtSecret && now - this.current.createdAt >= interval) {
      await this.rotate(now);
    }
  }

  /** Reads the live and recently retired keys of the configured algorithm. */
  private async reload(now = Date.now()): Promise<void> {
    const horizon = now - this.retiredKeyLifetimeMs;
    const rows = await this.keys.findPublishable(this.auth.jwtAlg, horizon);
    const published = new Map<string, AccessTokenKey>();
    for (const row of rows) {
      const key = this.published.get(row.id) ?? this.readKey(row);
      if (!key) continue;
      key.retiredAt = row.retiredAt;
      published.set(row.id, key);
    }
    this.published = published;
    const live = [...published.values()].find((key) => key.retiredAt === null);
    if (live) {
      this.current = live;
      this.confirmedAt = Math.max(this.confirmedAt, now);
    } else if (this.current) {
      this.logger.error(`No live ${this.auth.jwtAlg} signing key in the database; run npm run keys:rotate`);
    }
  }

  private isPublished(key: AccessTokenKey, now: number): boolean {
    return key.retiredAt === null || key.retiredAt + this.retiredKeyLifetimeMs > now;
  }

  private async insertSigningKey(now: number): Promise<string> {
    const kid = randomUUID();
    const stored = await this.keys.insert({
      id: kid,
      purpose: 'access_token',
      alg: this.auth.jwtAlg,
      material: this.encryption.seal(generateMaterial(this.auth.jwtAlg)),
      createdAt: now,
      retiredAt: null,
    });
    if (!stored) throw new Error(`A signing key with the new kid ${kid} exists already`);
    this.logger.log(`Generated a new ${this.auth.jwtAlg} signing key (kid ${kid})`);
    return kid;
  }

  /**
   * Returns the oldest live MAC key, creating one when there is none. Instances that start
   * together may both insert; each then reads the same oldest row, so they agree.
   */
  private async ensureMacKey(): Promise<string> {
    let row = await this.keys.findOldestLive('refresh_token_mac');
    if (!row) {
      // A fixed id: instances starting together on an empty database race for one row, and
      // the loser (its insert refused) reads the winner's key (clocks cannot make them pick different ones).
      await this.keys.insert({
        id: MAC_KEY_ID,
        purpose: 'refresh_token_mac',
        alg: 'HS256',
        material: this.encryption.seal(randomBytes(32).toString('base64url')),
        createdAt: Date.now(),
        retiredAt: null,
      });
      row = await this.keys.findOldestLive('refresh_token_mac');
    }
    if (!row) throw new Error('The refresh-token MAC key could not be stored');
    return row.material;
  }

  /**
   * The one-time changeover when KEYS_ENCRYPTION_KEY is first set: encrypts the key rows made
   * before it, in one transaction. Only while no row is encrypted yet: after that, a row in the
   * clear was not made by us (we only write sealed rows) and stays refused, at every restart,
   * instead of being sealed and adopted as one of our keys.
   */
  private async encryptPlaintextKeys(): Promise<void> {
    if (!this.encryption.enabled) return;
    const rows = await this.keys.findAll();
    const plaintext = rows.filter((r) => !KeyEncryption.isSealed(r.material));
    if (!plaintext.length) return;
    if (plaintext.length < rows.length) {
      for (const row of plaintext)
        this.logger.error(`Refusing ${row.purpose} key ${row.id}: stored in the clear although the keys are encrypted`);
      return;
    }
    await this.keys.replaceMaterials(
      plaintext.map((row) => ({ id: row.id, from: row.material, to: this.encryption.seal(row.material) })),
    );
    for (const row of plaintext) this.logger.log(`Encrypted ${row.purpose} key ${row.id} at rest`);
  }

  /** The usable key of a row, or undefined (logged) when its material cannot be read. */
  private readKey(row: SigningKey): AccessTokenKey | undefined {
    try {
      return this.toAccessTokenKey(row);
    } catch (error) {
      this.logger.error(`Ignoring signing key ${row.id}: ${(error as Error).message}`);
      return undefined;
    }
  }

  private toAccessTokenKey(row: SigningKey): AccessTokenKey {
    const material = this.encryption.open(row.material);
    const alg = row.alg as JwtAlgorithm;
    const base = { kid: row.id, alg, createdAt: row.createdAt, retiredAt: row.retiredAt };
    if (alg === 'HS256') {
      const secret = createSecretKey(Buffer.from(material, 'base64url'));
      return { ...base, signingKey: secret, verificationKey: secret };
    }
    const privateKey = createPrivateKey(material);
    const publicKey = createPublicKey(privateKey);
    return {
      ...base,
      signingKey: privateKey,
      verificationKey: publicKey,
      publicJwk: publicKey.export({ format: 'jwk' }),
    };
  }
}

function generateMaterial(alg: JwtAlgorithm): string {
  if (alg === 'HS256') return randomBytes(32).toString('base64url');
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'enc1:';

/**
 * AES-256-GCM for key material at rest. The AES key is derived (HKDF-SHA-256) from
 * KEYS_ENCRYPTION_KEY, so a database dump alone does not reveal the signing keys.
 */
export class KeyEncryption {
  private readonly key?: Buffer;

  constructor(secret: string | undefined) {
    if (secret) this.key = Buffer.from(hkdfSync('sha256', secret, 'nest-token-auth', 'signing-keys-v1', 32));
  }

  get enabled(): boolean {
    return this.key !== undefined;
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  seal(plaintext: string): string {
    if (!this.key) return plaintext;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  open(stored: string): string {
    if (!stored.startsWith(PREFIX)) {
      // Once encryption is on, every legitimate row is sealed (plaintext ones are sealed at start-up).
      if (this.key) throw new Error('key material is not encrypted although KEYS_ENCRYPTION_KEY is set');
      return stored;
    }
    if (!this.key) throw new Error('Signing keys in the database are encrypted: set KEYS_ENCRYPTION_KEY');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    if (raw.length < 29) throw new Error('Encrypted key material is truncated');
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('KEYS_ENCRYPTION_KEY does not decrypt the signing keys in the database');
    }
  }
}

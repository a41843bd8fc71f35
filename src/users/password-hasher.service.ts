import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import * as argon2 from 'argon2';
import type { AppConfig } from '../config/app-config.js';
import { PasswordHashQueue, type HashingClient } from './password-hash.queue.js';

/**
 * argon2id password hashing. Hashing runs on libuv's thread pool, off the event loop, through
 * PasswordHashQueue: a bounded number at once, so it cannot starve token signing, and a bounded
 * number waiting (beyond that, ServerBusyException), each client within its fair share of them
 * (beyond that, TooManyAttemptsException).
 */
@Injectable()
export class PasswordHasherService implements OnModuleInit {
  private readonly options: argon2.HashOptions;
  private dummyHash: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly queue: PasswordHashQueue,
  ) {
    const { memoryCost, timeCost, parallelism } = config.get('auth', { infer: true }).argon2;
    this.options = { type: argon2.argon2id, memoryCost, timeCost, parallelism };
  }

  async onModuleInit(): Promise<void> {
    // Verified against when the username is unknown, so that answer costs as long as a wrong password.
    this.dummyHash = await this.hash('dummy password for unknown users');
  }

  /** `client`: whose share of the hashing queue this takes (see PasswordHashQueue). */
  hash(password: string, client?: HashingClient): Promise<string> {
    return this.queue.run(() => argon2.hash(password, { ...this.options, raw: false }), client);
  }

  /** Constant-work check: an unknown user (hash undefined) is verified against the dummy hash. */
  async verify(hash: string | undefined, password: string, client?: HashingClient): Promise<boolean> {
    return this.queue.run(async () => {
      try {
        const ok = await argon2.verify(hash ?? this.dummyHash, password);
        return ok && hash !== undefined;
      } catch {
        return false;
      }
    }, client);
  }

  /** True when the stored hash was made with other parameters than the configured ones. */
  needsRehash(hash: string): boolean {
    try {
      // argon2.needsRehash compares cost and version, not the variant.
      if (/^\$argon2(i|d)\$/.test(hash)) return true;
      return argon2.needsRehash(hash, this.options);
    } catch {
      return false;
    }
  }
}

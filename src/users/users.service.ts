import { randomUUID } from 'node:crypto';
import { ConflictException, Injectable } from '@nestjs/common';
import type { KeysetCursor } from '../common/keyset-cursor.js';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { HashingClient } from './password-hash.queue.js';
import { PasswordHasherService } from './password-hasher.service.js';
import type { User } from './user.entity.js';
import { UserRepository } from './user.repository.js';

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasherService,
  ) {}

  /**
   * Creates an account; 409 when the name is taken in any letter case. A taken name is refused
   * before the password is hashed, so registering existing names costs no argon2 work. `ip`:
   * the client's, whose share of the hashing queue the hash takes.
   */
  async register(username: string, password: string, ip?: string | null): Promise<User> {
    if (await this.findIdByUsername(username)) throw new ConflictException(USERNAME_TAKEN);
    const user: User = {
      id: randomUUID(),
      username,
      usernameNormalized: normalize(username),
      passwordHash: await this.hasher.hash(password, { ip, username }),
      createdAt: Date.now(),
      disabledAt: null,
      notBefore: null,
    };
    // The unique index decides, so two parallel registrations cannot both win.
    if (!(await this.users.insert(user))) throw new ConflictException(USERNAME_TAKEN);
    return user;
  }

  /**
   * Returns the user when the password matches, otherwise null. Takes the same time whether
   * or not the user exists. Upgrades the stored hash when the cost parameters changed. `ip`: as
   * for register.
   */
  async verifyCredentials(username: string, password: string, ip?: string | null): Promise<User | null> {
    const client: HashingClient = { ip, username };
    const user = await this.users.findByNormalizedUsername(normalize(username));
    const ok = await this.hasher.verify(user?.passwordHash, password, client);
    if (!ok || !user) return null;
    if (this.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await this.upgradedHash(password, client);
      if (passwordHash === undefined) return user;
      // The caller starts the session only if the hash is still the one it returns here (see
      // SessionsService.create), so return the hash now stored.
      if (await this.users.replacePasswordHash(user.id, user.passwordHash, passwordHash)) {
        user.passwordHash = passwordHash;
      } else {
        // Someone else wrote it first: another login's upgrade (same password: this login stands)
        // or a password change (this login must fail). Only checking the stored hash tells which.
        const fresh = await this.users.findById(user.id);
        if (!fresh || !(await this.hasher.verify(fresh.passwordHash, password, client))) return null;
        return fresh;
      }
    }
    return user;
  }

  /**
   * A new hash for a login's upgrade, or undefined when hashing is saturated (or the client is at
   * its share): the upgrade waits for a later login, which itself succeeded.
   */
  private async upgradedHash(password: string, client: HashingClient): Promise<string | undefined> {
    try {
      return await this.hasher.hash(password, client);
    } catch (error) {
      if (error instanceof ServerBusyException || error instanceof TooManyAttemptsException) return undefined;
      throw error;
    }
  }

  /** The account with this username in any letter case, or null. */
  findByUsername(username: string): Promise<User | null> {
    return this.users.findByNormalizedUsername(normalize(username));
  }

  /** A page of accounts, oldest first; with `prefix`, only those whose username starts with it, in any letter case. */
  findPage(prefix: string | undefined, limit: number, after?: KeysetCursor): Promise<User[]> {
    return this.users.findPage({ prefix: prefix ? normalize(prefix) : undefined, limit, after });
  }

  findIdByUsername(username: string): Promise<string | null> {
    return this.users.findIdByNormalizedUsername(normalize(username));
  }

  /**
   * Replaces the password after checking the current one. Returns false when the current
   * password is wrong (or the user is gone). The update is conditional on the hash it checked,
   * so two concurrent changes cannot both win. `client`: whose share of the hashing queue the
   * check and the new hash take.
   */
  async changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
    client?: HashingClient,
  ): Promise<boolean> {
    const user = await this.users.findById(userId);
    if (!(await this.hasher.verify(user?.passwordHash, currentPassword, client)) || !user) return false;
    const passwordHash = await this.hasher.hash(newPassword, client);
    return this.users.replacePasswordHash(user.id, user.passwordHash, passwordHash);
  }
}

const USERNAME_TAKEN = 'Username is already taken';

function normalize(username: string): string {
  return username.toLowerCase();
}

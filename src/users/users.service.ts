import { randomUUID } from 'node:crypto';
import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolation } from '../database/unique-violation.js';
import { PasswordHasher } from './password-hasher.service.js';
import { User } from './user.entity.js';

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
  ) {}

  /** Creates an account; 409 when the name is taken in any letter case. */
  async register(username: string, password: string): Promise<User> {
    const user: User = {
      id: randomUUID(),
      username,
      usernameNormalized: normalize(username),
      passwordHash: await this.hasher.hash(password),
      createdAt: Date.now(),
    };
    try {
      // The unique index decides, so two parallel registrations cannot both win.
      await this.users.insert(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Username is already taken');
      throw error;
    }
    return user;
  }

  /**
   * Returns the user when the password matches, otherwise null. Takes the same time whether
   * or not the user exists. Upgrades the stored hash when the cost parameters changed.
   */
  async verifyCredentials(username: string, password: string): Promise<User | null> {
    const user = await this.users.findOneBy({ usernameNormalized: normalize(username) });
    const ok = await this.hasher.verify(user?.passwordHash, password);
    if (!ok || !user) return null;
    if (this.hasher.needsRehash(user.passwordHash)) {
      const passwordHash = await this.hasher.hash(password);
      await this.users.update({ id: user.id, passwordHash: user.passwordHash }, { passwordHash });
    }
    return user;
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }
}

function normalize(username: string): string {
  return username.toLowerCase();
}

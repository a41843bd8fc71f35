import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { isUniqueViolation } from '../database/unique-violation.js';
import { UserRole } from './user-role.entity.js';

/**
 * Every write on `user_roles`, and the operator's reads. Role names arrive validated (see
 * role-name.ts). The roles read for each access token come with the user's cut-off, in one query
 * (UserRepository.tokenSubject).
 */
@Injectable()
export class UserRoleRepository {
  constructor(@InjectRepository(UserRole) private readonly roles: Repository<UserRole>) {}

  /** Roles of several users at once, each list sorted; users without roles are absent. */
  async rolesOfUsers(userIds: string[]): Promise<Map<string, string[]>> {
    const byUser = new Map<string, string[]>();
    if (!userIds.length) return byUser;
    const rows = await this.roles.find({ where: { userId: In(userIds) }, order: { role: 'ASC' } });
    for (const row of rows) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row.role]);
    return byUser;
  }

  /** Gives the user a role; false when they had it already (the primary key decides, also between instances). */
  async grant(userId: string, role: string, now: number): Promise<boolean> {
    try {
      await this.roles.insert({ userId, role, createdAt: now });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Takes a role away; false when the user did not have it. */
  async revoke(userId: string, role: string): Promise<boolean> {
    const result = await this.roles.delete({ userId, role });
    return (result.affected ?? 0) > 0;
  }
}

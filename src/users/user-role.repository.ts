import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { nativeSql } from '../database/native-sql.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { UserRole } from './user-role.entity.js';

/** Every query on `user_roles`. Role names arrive validated (see role-name.ts). */
@Injectable()
export class UserRoleRepository {
  private readonly rolesOfUser: string;

  constructor(@InjectRepository(UserRole) private readonly roles: Repository<UserRole>) {
    // On every access token issued (login and each refresh): hand-written, as the hot paths are.
    this.rolesOfUser = nativeSql(
      roles.manager.connection,
      'SELECT role FROM user_roles WHERE user_id = ? ORDER BY role',
    );
  }

  /** The user's roles, sorted; [] when none (or no such user). */
  async rolesOf(userId: string): Promise<string[]> {
    const rows = await this.roles.query<Array<{ role: string }>>(this.rolesOfUser, [userId]);
    return rows.map((row) => row.role);
  }

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

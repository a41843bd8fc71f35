import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { isRoleName, ROLE_NAME } from '../users/role-name.js';
import type { User } from '../users/user.entity.js';
import { UserRepository } from '../users/user.repository.js';
import { UserRoleRepository } from '../users/user-role.repository.js';
import { UsersService } from '../users/users.service.js';
import { UserCutOffService } from './user-cut-off.service.js';

/** A refused operator request: unknown user, bad role name. Its message is the one line shown. */
export class UserAdministrationError extends Error {}

/** One account as an operator sees it. */
export interface AdministeredUser {
  id: string;
  username: string;
  roles: string[];
  disabledAt: number | null;
}

/** Who made a change, for the audit row (`npm run users` says `cli`). */
export interface AdministrationActor {
  via: 'cli';
}

/**
 * Roles and disabling, for operators. Every change is audited; a change that changes nothing
 * (granting a role the user has) is not. Every change also cuts off the user's older access
 * tokens (UserCutOffService): within a second they answer 401, and the client's next refresh
 * carries the new roles. Disabling also revokes every session, so refreshes answer 401.
 */
@Injectable()
export class UserAdministrationService {
  constructor(
    private readonly users: UsersService,
    private readonly userRows: UserRepository,
    private readonly roles: UserRoleRepository,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
    private readonly cutOffs: UserCutOffService,
  ) {}

  /** Every account, oldest first, with its roles. */
  async list(): Promise<AdministeredUser[]> {
    const users = await this.userRows.findAll();
    const roles = await this.roles.rolesOfUsers(users.map((user) => user.id));
    return users.map((user) => ({
      id: user.id,
      username: user.username,
      roles: roles.get(user.id) ?? [],
      disabledAt: user.disabledAt,
    }));
  }

  /** Gives a role; false when the user had it already. */
  async grant(username: string, role: string, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const user = await this.existing(username);
    const granted = await this.roles.grant(user.id, validRole(role), now);
    if (granted) {
      await this.audit.record('role_granted', { userId: user.id, detail: { role, ...actor } }, now);
      await this.cutOffs.cutOff(user.id, 'role_granted', now);
    }
    return granted;
  }

  /** Takes a role away; false when the user did not have it. */
  async revoke(username: string, role: string, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const user = await this.existing(username);
    const revoked = await this.roles.revoke(user.id, validRole(role));
    if (revoked) {
      await this.audit.record('role_revoked', { userId: user.id, detail: { role, ...actor } }, now);
      await this.cutOffs.cutOff(user.id, 'role_revoked', now);
    }
    return revoked;
  }

  /**
   * Disables the account and revokes all its sessions (so refresh answers 401 and access tokens
   * stop working at the session check); false when it was disabled already. The sessions are
   * revoked either way: a login that raced an earlier disable is not left behind.
   */
  async disable(username: string, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const user = await this.existing(username);
    const disabled = await this.userRows.disable(user.id, now);
    const sessionsRevoked = await this.sessions.revokeAllForUser(user.id, 'user_disabled', undefined, now);
    if (disabled) {
      await this.audit.record('user_disabled', { userId: user.id, detail: { sessionsRevoked, ...actor } }, now);
      await this.cutOffs.cutOff(user.id, 'user_disabled', now);
    }
    return disabled;
  }

  /** Lets the account log in again; false when it was not disabled. */
  async enable(username: string, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const user = await this.existing(username);
    const enabled = await this.userRows.enable(user.id);
    if (enabled) await this.audit.record('user_enabled', { userId: user.id, detail: { ...actor } }, now);
    return enabled;
  }

  private async existing(username: string): Promise<User> {
    const user = await this.users.findByUsername(username);
    if (!user) throw new UserAdministrationError(`No user named "${username}"`);
    return user;
  }
}

function validRole(role: string): string {
  if (isRoleName(role)) return role;
  throw new UserAdministrationError(`Invalid role name "${role}": it must match ${String(ROLE_NAME)}`);
}

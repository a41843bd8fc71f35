import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { KeysetCursor } from '../common/keyset-cursor.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { ADMIN_ROLE, isRoleName, ROLE_NAME } from '../users/role-name.js';
import type { User } from '../users/user.entity.js';
import { UserRepository } from '../users/user.repository.js';
import { UserRoleRepository } from '../users/user-role.repository.js';
import { UsersService } from '../users/users.service.js';
import { UserCutOffService, type CutOffReason } from './user-cut-off.service.js';

/** A refused operator request: unknown user, bad role name. Its message is the one line shown. */
export class UserAdministrationError extends Error {}

/** No such user (the admin API answers 404). */
export class UnknownUserError extends UserAdministrationError {}

/** A role name that is not one (the admin API answers 400). */
export class InvalidRoleError extends UserAdministrationError {}

/**
 * An admin's change to their own account that would lock them out: disabling themself or
 * dropping their own admin role (the admin API answers 409). The CLI is not bound by it: it is
 * how an operator repairs the roles when no admin is left.
 */
export class SelfLockoutError extends UserAdministrationError {}

/** One account as an operator sees it. */
export interface AdministeredUser {
  id: string;
  username: string;
  roles: string[];
  createdAt: number;
  disabledAt: number | null;
}

/** Who made a change, for the audit row: `npm run users` says `cli`, the admin API names the admin. */
export type AdministrationActor = { via: 'cli' } | { via: 'admin'; adminId: string };

/** The account a change is for: a username (as the CLI takes it) or the user's id (as the admin API does). */
export type UserRef = string | { id: string };

/** A change of the admin API: the whole new set of roles, and/or the disabled state. */
export interface UserChange {
  roles?: string[];
  disabled?: boolean;
}

/** Of several changes at once, the reason the one cut-off is recorded under: the weightiest. */
const CUT_OFF_WEIGHT: Record<CutOffReason, number> = { role_granted: 0, role_revoked: 1, user_disabled: 2 };

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
    return this.withRoles(await this.userRows.findAll());
  }

  /** Up to `limit` accounts, oldest first, after `after`; with `prefix`, those whose username starts with it in any case. */
  async page(prefix: string | undefined, limit: number, after?: KeysetCursor): Promise<AdministeredUser[]> {
    return this.withRoles(await this.users.findPage(prefix, limit, after));
  }

  /** One account; undefined when there is none with that id. */
  async find(id: string): Promise<AdministeredUser | undefined> {
    const user = await this.userRows.findById(id);
    return user ? (await this.withRoles([user]))[0] : undefined;
  }

  /** Gives a role; false when the user had it already. */
  async grant(user: UserRef, role: string, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const target = await this.existing(user);
    const granted = await this.grantRole(target, validRole(role), actor, now);
    if (granted) await this.cutOffs.cutOff(target.id, 'role_granted', actor);
    return granted;
  }

  /** Takes a role away; false when the user did not have it. */
  async revoke(user: UserRef, role: string, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const target = await this.existing(user);
    const revoked = await this.revokeRole(target, validRole(role), actor, now);
    if (revoked) await this.cutOffs.cutOff(target.id, 'role_revoked', actor);
    return revoked;
  }

  /**
   * Disables the account and revokes all its sessions (so refresh answers 401 and access tokens
   * stop working at the session check); false when it was disabled already. The sessions are
   * revoked either way: a login that raced an earlier disable is not left behind.
   */
  async disable(user: UserRef, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const target = await this.existing(user);
    const disabled = await this.disableUser(target, actor, now);
    if (disabled) await this.cutOffs.cutOff(target.id, 'user_disabled', actor);
    return disabled;
  }

  /** Lets the account log in again; false when it was not disabled. */
  async enable(user: UserRef, actor: AdministrationActor, now = Date.now()): Promise<boolean> {
    const target = await this.existing(user);
    const enabled = await this.userRows.enable(target.id);
    if (enabled) await this.audit.record('user_enabled', { userId: target.id, detail: { ...actor } }, now);
    return enabled;
  }

  /**
   * Applies an admin's change: `roles` is the whole new set (the roles added are granted, those
   * left out revoked, each audited), `disabled` disables or enables. Every role name is checked
   * before anything changes, and so are the self rules (SelfLockoutError). One cut-off covers
   * all of it. Returns the account as it is afterwards.
   */
  async update(
    user: UserRef,
    change: UserChange,
    actor: AdministrationActor,
    now = Date.now(),
  ): Promise<AdministeredUser> {
    const target = await this.existing(user);
    const wanted = change.roles === undefined ? undefined : [...new Set(change.roles.map(validRole))];
    if (actor.via === 'admin' && actor.adminId === target.id) {
      if (change.disabled === true) throw new SelfLockoutError('You cannot disable your own account');
      if (wanted && !wanted.includes(ADMIN_ROLE)) {
        throw new SelfLockoutError(`You cannot remove your own ${ADMIN_ROLE} role`);
      }
    }
    const reasons: CutOffReason[] = [];
    if (wanted) {
      const current = (await this.roles.rolesOfUsers([target.id])).get(target.id) ?? [];
      for (const role of wanted.filter((r) => !current.includes(r))) {
        if (await this.grantRole(target, role, actor, now)) reasons.push('role_granted');
      }
      for (const role of current.filter((r) => !wanted.includes(r))) {
        if (await this.revokeRole(target, role, actor, now)) reasons.push('role_revoked');
      }
    }
    if (change.disabled === true && (await this.disableUser(target, actor, now))) reasons.push('user_disabled');
    if (change.disabled === false) await this.enable({ id: target.id }, actor, now);
    if (reasons.length) {
      const reason = reasons.reduce((a, b) => (CUT_OFF_WEIGHT[b] > CUT_OFF_WEIGHT[a] ? b : a));
      await this.cutOffs.cutOff(target.id, reason, actor);
    }
    const after = await this.find(target.id);
    if (!after) throw new UnknownUserError(`No user with id "${target.id}"`);
    return after;
  }

  private async grantRole(user: User, role: string, actor: AdministrationActor, now: number): Promise<boolean> {
    const granted = await this.roles.grant(user.id, role, now);
    if (granted) await this.audit.record('role_granted', { userId: user.id, detail: { role, ...actor } }, now);
    return granted;
  }

  private async revokeRole(user: User, role: string, actor: AdministrationActor, now: number): Promise<boolean> {
    const revoked = await this.roles.revoke(user.id, role);
    if (revoked) await this.audit.record('role_revoked', { userId: user.id, detail: { role, ...actor } }, now);
    return revoked;
  }

  private async disableUser(user: User, actor: AdministrationActor, now: number): Promise<boolean> {
    const disabled = await this.userRows.disable(user.id, now);
    const sessionsRevoked = await this.sessions.revokeAllForUser(user.id, 'user_disabled', undefined, now);
    if (disabled)
      await this.audit.record('user_disabled', { userId: user.id, detail: { sessionsRevoked, ...actor } }, now);
    return disabled;
  }

  private async withRoles(users: User[]): Promise<AdministeredUser[]> {
    const roles = await this.roles.rolesOfUsers(users.map((user) => user.id));
    return users.map((user) => ({
      id: user.id,
      username: user.username,
      roles: roles.get(user.id) ?? [],
      createdAt: user.createdAt,
      disabledAt: user.disabledAt,
    }));
  }

  private async existing(ref: UserRef): Promise<User> {
    if (typeof ref === 'string') {
      const user = await this.users.findByUsername(ref);
      if (!user) throw new UnknownUserError(`No user named "${ref}"`);
      return user;
    }
    const user = await this.userRows.findById(ref.id);
    if (!user) throw new UnknownUserError(`No user with id "${ref.id}"`);
    return user;
  }
}

function validRole(role: string): string {
  if (isRoleName(role)) return role;
  throw new InvalidRoleError(`Invalid role name "${role}": it must match ${String(ROLE_NAME)}`);
}

import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import {
  InvalidRoleError,
  SelfLockoutError,
  UnknownUserError,
  UserAdministrationService,
  type AdministeredUser,
} from '../authz/user-administration.service.js';
import { decodeCursor, encodeCursor } from '../common/keyset-cursor.js';
import { isUuid } from '../common/uuid.js';
import { SessionsService } from '../sessions/sessions.service.js';
import type { AdminUserDto, AdminUserPageDto, UpdateUserDto } from './dto/admin-user.dto.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** The admin API's view of accounts: pages, one account, and changes, each with its active-session count. */
@Injectable()
export class AdminUsersService {
  constructor(
    private readonly administration: UserAdministrationService,
    private readonly sessions: SessionsService,
  ) {}

  /** Accounts oldest first, keyset-paginated by an opaque cursor; `q` is a username prefix in any case. */
  async page(q: string | undefined, limit: number, cursor?: string): Promise<AdminUserPageDto> {
    const after = cursor ? decodeCursor(cursor) : undefined;
    if (cursor && !after) throw new BadRequestException('cursor is not a cursor this API returned');
    const users = await this.administration.page(q, limit + 1, after);
    const items = users.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: await this.withSessions(items),
      next: users.length > limit && last ? encodeCursor({ at: last.createdAt, id: last.id }) : null,
    };
  }

  /** One account; 404 when `id` names none (or is no id at all). */
  async get(id: string): Promise<AdminUserDto> {
    const [user] = await this.withSessions([await this.existing(id)]);
    return user;
  }

  /**
   * An admin's change to an account (roles as a whole new set, disabled or not), audited with
   * `adminId`: 400 for an empty change or a bad role name, 404 for an unknown account, 409 for a
   * change that would lock the admin themself out.
   */
  async update(id: string, body: UpdateUserDto, adminId: string): Promise<AdminUserDto> {
    // null is as good as absent: the DTO's @IsOptional() lets it through.
    const change = { roles: body.roles ?? undefined, disabled: body.disabled ?? undefined };
    if (change.roles === undefined && change.disabled === undefined) {
      throw new BadRequestException('Nothing to change: give roles, disabled or both');
    }
    if (!isUuid(id)) throw userNotFound();
    try {
      const [user] = await this.withSessions([
        await this.administration.update({ id }, change, { via: 'admin', adminId }),
      ]);
      return user;
    } catch (error) {
      if (error instanceof UnknownUserError) throw userNotFound();
      if (error instanceof InvalidRoleError) throw new BadRequestException(error.message);
      if (error instanceof SelfLockoutError) throw new ConflictException(error.message);
      throw error;
    }
  }

  /** The account, or 404 when `id` names none (or is no id at all). */
  async existing(id: string): Promise<AdministeredUser> {
    const user = isUuid(id) ? await this.administration.find(id) : undefined;
    if (!user) throw userNotFound();
    return user;
  }

  private async withSessions(users: AdministeredUser[]): Promise<AdminUserDto[]> {
    const counts = await this.sessions.countActive(users.map((user) => user.id));
    return users.map((user) => ({
      id: user.id,
      username: user.username,
      roles: user.roles,
      createdAt: iso(user.createdAt),
      disabledAt: user.disabledAt === null ? null : iso(user.disabledAt),
      activeSessions: counts.get(user.id) ?? 0,
    }));
  }
}

function userNotFound(): NotFoundException {
  return new NotFoundException('User not found');
}

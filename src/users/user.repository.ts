import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, IsNull, Not, Repository } from 'typeorm';
import type { KeysetCursor } from '../common/keyset-cursor.js';
import { epochMs } from '../database/epoch-ms.transformer.js';
import { nativeSql } from '../database/native-sql.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { UnitOfWork, type Statement } from '../database/unit-of-work.js';
import { User } from './user.entity.js';

/** What every access token issued for a user must reflect, read at once. */
export interface TokenSubject {
  /** Sorted; [] when none. */
  roles: string[];
  /** The user's cut-off (ms); null when none was ever set. */
  notBefore: number | null;
  /** As typed at registration: for access-token claims providers. */
  username: string;
}

/** A `users` row as the drivers return it (PostgreSQL's bigint as a string). */
interface UserRow {
  id: string;
  username: string;
  username_normalized: string;
  password_hash: string;
  created_at: string | number;
  disabled_at: string | number | null;
  not_before: string | number | null;
}

function toUser(row: UserRow): User {
  return Object.assign(new User(), {
    id: row.id,
    username: row.username,
    usernameNormalized: row.username_normalized,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at),
    disabledAt: epochMs.from(row.disabled_at) as number | null,
    notBefore: epochMs.from(row.not_before) as number | null,
  });
}

/** LIKE's wildcards and its escape character, taken literally in a prefix. */
const LIKE_SPECIAL = /[\\%_]/g;

/** Every query on `users`. Usernames arrive normalized (UsersService decides what that means). */
@Injectable()
export class UserRepository {
  private readonly hasPasswordHash: string;
  private readonly subject: string;
  private readonly raiseNotBeforeSql: string;
  private readonly byUsernameSql: string;

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly unitOfWork: UnitOfWork,
  ) {
    const native = (text: string) => nativeSql(users.manager.connection, text);
    this.raiseNotBeforeSql = native(
      'UPDATE users SET not_before = ? WHERE id = ? AND (not_before IS NULL OR not_before < ?)',
    );
    // Every login's first statement: through the query builder it cost more to build than to run.
    this.byUsernameSql = native(
      'SELECT id, username, username_normalized, password_hash, created_at, disabled_at, not_before FROM users WHERE username_normalized = ?',
    );
    // Nor was the account disabled meanwhile: a login racing a disable never outlives it.
    this.hasPasswordHash = native(
      'SELECT 1 AS ok FROM users WHERE id = ? AND password_hash = ? AND disabled_at IS NULL',
    );
    // On every access token issued (login and each refresh): hand-written, as the hot paths are.
    // Roles and cut-off in one statement, so a token never pairs a new cut-off with old roles.
    this.subject = native(`
      SELECT u.not_before AS not_before, u.username AS username, r.role AS role
        FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
       WHERE u.id = ?
       ORDER BY r.role`);
  }

  /** The user's roles, cut-off and username; undefined when there is no such user. */
  async tokenSubject(id: string): Promise<TokenSubject | undefined> {
    const rows = await this.users.query<
      Array<{ not_before: string | number | null; username: string; role: string | null }>
    >(this.subject, [id]);
    if (!rows.length) return undefined;
    const notBefore = rows[0].not_before;
    return {
      roles: rows.flatMap((row) => (row.role === null ? [] : [row.role])),
      notBefore: notBefore === null ? null : Number(notBefore),
      username: rows[0].username,
    };
  }

  /**
   * Moves the user's cut-off forward to `notBefore` (ms); never back, so of two changes in a
   * row the later cut-off stands. False when the user does not exist. With `alongWith` (another
   * table's statements, e.g. the revocation feed's entry), all commit together, and the answer
   * is true.
   */
  async raiseNotBefore(id: string, notBefore: number, alongWith: readonly Statement[] = []): Promise<boolean> {
    if (alongWith.length) {
      return this.unitOfWork.commit([
        { text: this.raiseNotBeforeSql, params: [notBefore, id, notBefore] },
        ...alongWith,
      ]);
    }
    const raised = await this.users
      .createQueryBuilder()
      .update()
      .set({ notBefore })
      .where('id = :id AND (not_before IS NULL OR not_before < :notBefore)', { id, notBefore })
      .execute();
    if ((raised.affected ?? 0) > 0) return true;
    return this.users.existsBy({ id });
  }

  /** Stores a new account; false when its username is taken (the unique index decides, also between instances). */
  async insert(user: User): Promise<boolean> {
    try {
      await this.users.insert(user);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  async findByNormalizedUsername(usernameNormalized: string): Promise<User | null> {
    const [row] = await this.users.query<UserRow[]>(this.byUsernameSql, [usernameNormalized]);
    return row ? toUser(row) : null;
  }

  async findIdByNormalizedUsername(usernameNormalized: string): Promise<string | null> {
    const user = await this.users.findOne({ select: { id: true }, where: { usernameNormalized } });
    return user?.id ?? null;
  }

  /**
   * Compare-and-set: replaces the password hash only while it is still `expected`; false when
   * another write (a password change, another login's upgrade) came first or the user is gone.
   */
  async replacePasswordHash(id: string, expected: string, passwordHash: string): Promise<boolean> {
    const result = await this.users.update({ id, passwordHash: expected }, { passwordHash });
    return (result.affected ?? 0) > 0;
  }

  /** Every account, oldest first (the users CLI lists them all). */
  findAll(): Promise<User[]> {
    return this.users.find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /**
   * Up to `limit` accounts, oldest first, after `after` when given (a keyset on created_at, id:
   * pages never shift as accounts are added). With `prefix` (normalized), only usernames that
   * start with it; `%`, `_` and `\` in it are matched literally.
   */
  findPage(options: { prefix?: string; limit: number; after?: KeysetCursor }): Promise<User[]> {
    const query = this.users
      .createQueryBuilder('u')
      .orderBy('u.created_at', 'ASC')
      .addOrderBy('u.id', 'ASC')
      .limit(options.limit);
    if (options.prefix) {
      // `\` is the escape character on both databases (PostgreSQL's default, declared for SQLite).
      const pattern = `${options.prefix.replace(LIKE_SPECIAL, '\\$&')}%`;
      query.andWhere("u.username_normalized LIKE :pattern ESCAPE '\\'", { pattern });
    }
    const after = options.after;
    if (after) {
      query.andWhere(
        new Brackets((q) =>
          q
            .where('u.created_at > :at', { at: after.at })
            .orWhere('u.created_at = :at AND u.id > :id', { id: after.id }),
        ),
      );
    }
    return query.getMany();
  }

  /** Marks the account disabled at `now`; false when it was disabled already or does not exist. */
  async disable(id: string, now: number): Promise<boolean> {
    const result = await this.users.update({ id, disabledAt: IsNull() }, { disabledAt: now });
    return (result.affected ?? 0) > 0;
  }

  /** Lets the account log in again; false when it was not disabled or does not exist. */
  async enable(id: string): Promise<boolean> {
    const result = await this.users.update({ id, disabledAt: Not(IsNull()) }, { disabledAt: null });
    return (result.affected ?? 0) > 0;
  }

  /**
   * For a UnitOfWork's `onlyIf`: the user still has this password hash (it was not changed
   * meanwhile) and is not disabled.
   */
  stillHasPasswordHash(id: string, passwordHash: string): Statement {
    return { text: this.hasPasswordHash, params: [id, passwordHash] };
  }
}

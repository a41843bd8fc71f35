import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ClientInfo } from '../common/http/client-info.js';
import type { AuthConfig, AppConfig } from '../config/app-config.js';
import { sessionRevocationUntil } from '../revocations/revocation-horizon.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { RefreshTokenRepository } from './refresh-token.repository.js';
import { SessionRevocationBus } from './session-revocation.bus.js';
import { SessionStateCache } from './session-state.cache.js';
import type { Session, SessionRevokeReason } from './session.entity.js';
import { SessionRepository, type RevocationUntil } from './session.repository.js';

/** What the client receives for a session: the raw refresh token (never stored) and its expiry. */
export interface IssuedRefreshToken {
  userId: string;
  sessionId: string;
  token: string;
  expiresAt: number;
  /** The session's absolute end (SESSION_MAX_AGE): nothing it issues may outlive it. */
  sessionExpiresAt: number;
  /** When the password login that started the session happened (ms): the `auth_time` claim. */
  authTime: number;
  /** The session's grant (normalised, space-separated); null when none. */
  scope: string | null;
}

/** Starts, lists, revokes and purges sessions. Rotation lives in RefreshTokenRotationService. */
@Injectable()
export class SessionsService {
  private readonly auth: AuthConfig;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly tokens: RefreshTokenRepository,
    private readonly state: SessionStateCache,
    private readonly bus: SessionRevocationBus,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  /**
   * Starts a session for a user who just proved their password. With `passwordHash` (the hash
   * the password was checked against), the session is created only if the user still has it and
   * undefined is returned otherwise: a login that checked the old password while a password
   * change committed would else outlive the change, which revokes every other session.
   * `scope` is the grant, normalised (ScopePolicyService.requested); every refresh of the session
   * may ask for it or part of it.
   */
  create(userId: string, client: ClientInfo, now?: number): Promise<IssuedRefreshToken>;
  create(
    userId: string,
    client: ClientInfo,
    now: number,
    passwordHash: string | undefined,
    scope?: string,
  ): Promise<IssuedRefreshToken | undefined>;
  async create(
    userId: string,
    client: ClientInfo,
    now = Date.now(),
    passwordHash?: string,
    scope?: string,
  ): Promise<IssuedRefreshToken | undefined> {
    const session: Session = {
      id: randomUUID(),
      userId,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + this.auth.sessionMaxAge * 1000,
      revokedAt: null,
      revokedReason: null,
      userAgent: client.userAgent?.slice(0, 512) || null,
      ip: client.ip?.slice(0, 64) || null,
      scope: scope || null,
    };
    const token = codec.generate();
    const expiresAt = Math.min(now + this.auth.refreshTokenTtl * 1000, session.expiresAt);
    const first = {
      id: randomUUID(),
      sessionId: session.id,
      parentId: null,
      tokenHash: codec.hash(token),
      nonce: null,
      createdAt: now,
      expiresAt,
    };
    const created = await this.sessions.create(session, first, passwordHash);
    return created
      ? {
          userId,
          sessionId: session.id,
          token,
          expiresAt,
          sessionExpiresAt: session.expiresAt,
          authTime: now,
          scope: session.scope,
        }
      : undefined;
  }

  /**
   * Revokes the session a refresh token (current or already rotated) belongs to. Returns the
   * session when this call revoked it; undefined when unknown or already revoked.
   */
  async revokeByToken(
    presented: unknown,
    reason: SessionRevokeReason = 'logout',
  ): Promise<{ sessionId: string; userId: string } | undefined> {
    if (!codec.isWellFormed(presented)) return undefined;
    const owner = await this.tokens.findSessionOf(codec.hash(presented));
    if (!owner || !(await this.revoke(owner.sessionId, reason))) return undefined;
    return owner;
  }

  /**
   * The live sessions (not revoked, not past SESSION_MAX_AGE) behind refresh tokens, current or
   * already rotated, one entry per session, in the order first presented; malformed, unknown and
   * dead ones are skipped. One query for all: callers bound how many tokens they pass.
   */
  async liveSessionsOf(presented: unknown[], now = Date.now()): Promise<Array<{ sessionId: string; userId: string }>> {
    const hashes = [
      ...new Set(presented.filter((token) => codec.isWellFormed(token)).map((token) => codec.hash(token))),
    ];
    if (!hashes.length) return [];
    const byHash = await this.tokens.findSessionsOf(hashes, now);
    const sessions = new Map<string, { sessionId: string; userId: string }>();
    for (const hash of hashes) {
      const owner = byHash.get(hash);
      if (owner && !sessions.has(owner.sessionId)) sessions.set(owner.sessionId, owner);
    }
    return [...sessions.values()];
  }

  /**
   * Marks a session revoked; returns false when it was already revoked or does not exist. Every
   * revocation below records its entry of the revocation feed (GET /auth/revocations) with it.
   */
  async revoke(sessionId: string, reason: SessionRevokeReason, now = Date.now()): Promise<boolean> {
    if (!(await this.sessions.revoke(sessionId, reason, now, this.revocationUntil(now)))) return false;
    this.state.markRevoked(sessionId);
    await this.bus.sessionRevoked(sessionId);
    return true;
  }

  /** Revokes one of the user's own live sessions; false when it is not theirs, unknown or already dead. */
  async revokeOwn(
    userId: string,
    sessionId: string,
    now = Date.now(),
    reason: SessionRevokeReason = 'revoked',
  ): Promise<boolean> {
    if (!(await this.sessions.revokeOwn(userId, sessionId, now, this.revocationUntil(now), reason))) return false;
    this.state.markRevoked(sessionId);
    await this.bus.sessionRevoked(sessionId);
    return true;
  }

  /**
   * Revokes any user's live session (an admin's request); returns whose it was when this call
   * revoked it, undefined when it is unknown or already dead. The owner is read first for the
   * audit row; the revocation itself is conditional on that owner, so it cannot name another.
   */
  async revokeAnyLive(sessionId: string, reason: SessionRevokeReason, now = Date.now()): Promise<string | undefined> {
    const userId = await this.sessions.findUserIdOf(sessionId);
    if (userId === undefined || !(await this.revokeOwn(userId, sessionId, now, reason))) return undefined;
    return userId;
  }

  /** Revokes every live session of a user, except `keepSessionId`; returns how many. */
  async revokeAllForUser(
    userId: string,
    reason: SessionRevokeReason,
    keepSessionId?: string,
    now = Date.now(),
  ): Promise<number> {
    const revoked = await this.sessions.revokeAllForUser(userId, reason, keepSessionId, now, this.revocationUntil(now));
    this.state.markUserRevoked(userId, keepSessionId);
    await this.bus.userRevoked(userId, keepSessionId);
    return revoked;
  }

  /**
   * Revokes the user's least recently used live sessions beyond MAX_SESSIONS_PER_USER, never
   * `keepSessionId` (the login that just started); returns the ids this call revoked. Each goes
   * through revoke(), so the session-state cache and the other instances hear of it at once.
   * Two logins at the same moment may pick the same victim; the limit is then restored by the
   * next login rather than by a lock here.
   */
  async evictBeyondLimit(userId: string, keepSessionId: string, now = Date.now()): Promise<string[]> {
    const beyond = await this.sessions.findLiveIdsBeyond(userId, keepSessionId, this.auth.maxSessionsPerUser - 1, now);
    const evicted: string[] = [];
    for (const id of beyond) if (await this.revoke(id, 'session_limit', now)) evicted.push(id);
    return evicted;
  }

  private revocationUntil(now: number): RevocationUntil {
    return (sessionExpiresAt) => sessionRevocationUntil(now, sessionExpiresAt, this.auth.accessTokenTtl);
  }

  /** The user's sessions that can still be refreshed: not revoked, not past either expiry. */
  listActive(userId: string, now = Date.now()): Promise<Session[]> {
    return this.sessions.findActive(userId, now);
  }

  /** How many sessions each user has that can still be refreshed; users without any are absent. */
  countActive(userIds: string[], now = Date.now()): Promise<Map<string, number>> {
    return this.sessions.countActive(userIds, now);
  }

  /**
   * Deletes sessions (and their tokens) that ended more than `retentionMs` ago. Audit events
   * keep their own copy of what matters, so they are not touched.
   */
  purgeEnded(retentionMs: number, now = Date.now()): Promise<number> {
    return this.sessions.deleteEndedBefore(now - retentionMs);
  }
}

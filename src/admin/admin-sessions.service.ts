import { Injectable, NotFoundException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { isUuid } from '../common/uuid.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { AdminUsersService } from './admin-users.service.js';
import type { AdminSessionDto } from './dto/admin-session.dto.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * An admin's view of any user's sessions, and signing them out. Revocations go through
 * SessionsService, so this instance refuses the session's access tokens at once and the others
 * within a second (revocation bus or session-state TTL). Each is audited on the user's account
 * with the acting admin's id.
 */
@Injectable()
export class AdminSessionsService {
  constructor(
    private readonly users: AdminUsersService,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
  ) {}

  /** The user's sessions that can still be refreshed, most recently used first; 404 for an unknown user. */
  async list(userId: string): Promise<AdminSessionDto[]> {
    const user = await this.users.existing(userId);
    const sessions = await this.sessions.listActive(user.id);
    return sessions.map((s) => ({
      id: s.id,
      createdAt: iso(s.createdAt),
      lastUsedAt: iso(s.lastUsedAt),
      expiresAt: iso(s.expiresAt),
      userAgent: s.userAgent,
      ip: s.ip,
    }));
  }

  /** Revokes every session of the user (the admin's own too, when it is theirs); 404 for an unknown user. */
  async revokeAll(userId: string, adminId: string, now = Date.now()): Promise<void> {
    const user = await this.users.existing(userId);
    const sessionsRevoked = await this.sessions.revokeAllForUser(user.id, 'admin_revoked', undefined, now);
    await this.audit.record(
      'all_sessions_revoked_by_admin',
      { userId: user.id, detail: { via: 'admin', adminId, sessionsRevoked } },
      now,
    );
  }

  /** Revokes one live session of any user; 404 when there is no such live session. */
  async revoke(sessionId: string, adminId: string, now = Date.now()): Promise<void> {
    const userId = isUuid(sessionId) ? await this.sessions.revokeAnyLive(sessionId, 'admin_revoked', now) : undefined;
    if (userId === undefined) throw new NotFoundException('Session not found');
    await this.audit.record('session_revoked_by_admin', { userId, sessionId, detail: { via: 'admin', adminId } }, now);
  }
}

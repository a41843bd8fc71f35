import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

export const AUDIT_EVENT_TYPES = [
  'login_success',
  'login_failure',
  'login_throttled',
  /** No longer written (a session's last_used_at records its refreshes); rows from before stay readable. */
  'refresh',
  'refresh_token_reuse',
  'logout',
  'logout_all',
  'session_revoked',
  /** A login beyond MAX_SESSIONS_PER_USER revoked this least recently used session. */
  'session_evicted',
  'password_changed',
  'password_change_failure',
  'refresh_cookie_conflict',
  /** Operator actions (`npm run users`): `detail` names the role, or the sessions a disable revoked. */
  'role_granted',
  'role_revoked',
  'user_disabled',
  'user_enabled',
  /** A role change or disable cut off the user's older access tokens: `detail` has `notBefore` (epoch s) and `reason`. */
  'tokens_cut_off',
  /**
   * Admin API. Its role changes, disables and enables are the operator events above, with
   * `detail.via: "admin"` and the acting admin's `detail.adminId`. An admin revoked one session of the user.
   */
  'session_revoked_by_admin',
  /** Admin API: an admin revoked every session of the user (`detail.adminId`, `detail.sessionsRevoked`). */
  'all_sessions_revoked_by_admin',
  /** A resource-server client was created or deleted (CLI or admin API): `detail` has `clientId`, `name`, `via`. */
  'client_created',
  'client_deleted',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** What happened to an account, kept after the sessions it mentions are purged. */
@Entity({ name: 'audit_events' })
export class AuditEvent {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  /** Null for failures against unknown usernames. No foreign key: events outlive what they describe. */
  @Column({ name: 'user_id', type: 'varchar', length: 36, nullable: true })
  userId: string | null;

  @Column({ name: 'session_id', type: 'varchar', length: 36, nullable: true })
  sessionId: string | null;

  @Column({ type: 'varchar', length: 40 })
  type: AuditEventType;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  /** Small JSON object with event details; never token material or passwords. */
  @Column({ type: 'text', nullable: true })
  detail: string | null;

  /** When it (first) happened. */
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  /** Repeatable events only (see AuditService.recordRepeatable): what makes a repeat the same event. */
  @Column({ name: 'dedupe_key', type: 'varchar', length: 64, nullable: true, select: false })
  dedupeKey?: string | null;

  /** Repeatable events only: how many times it happened; null for ordinary events. */
  @Column({ type: 'integer', nullable: true })
  occurrences: number | null;

  /** Repeatable events only: distinct client addresses (IPv6 by /64) counted, up to MAX_SOURCES_PER_EVENT (audit-event-source.repository.ts). */
  @Column({ name: 'distinct_ips', type: 'integer', nullable: true })
  distinctIps: number | null;

  /** Repeatable events only: the first few of those addresses, comma-separated. */
  @Column({ name: 'ip_sample', type: 'text', nullable: true })
  ipSample: string | null;
}

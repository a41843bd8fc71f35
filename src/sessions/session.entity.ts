import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

export type SessionRevokeReason =
  | 'logout'
  | 'logout_all'
  | 'refresh_token_reuse'
  | 'revoked'
  | 'password_changed'
  /** Evicted as the user's least recently used session by a login beyond MAX_SESSIONS_PER_USER. */
  | 'session_limit'
  /** A refresh came with several refresh_token cookies: every live session among them was revoked. */
  | 'refresh_cookie_conflict'
  /** The account was disabled: every session of it was revoked. */
  | 'user_disabled'
  /** A claims provider refused the login's or refresh's access token: no client holds the refresh token issued with it. */
  | 'claims_provider_failed'
  /** An admin revoked it through the admin API (one session, or all of the user's). */
  | 'admin_revoked';

/** One login on one device. Its refresh tokens rotate; the session is what gets revoked. */
@Entity({ name: 'sessions' })
export class Session {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'last_used_at', type: 'bigint', transformer: epochMs })
  lastUsedAt: number;

  /** Absolute end (SESSION_MAX_AGE after login); rotation never extends it. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: epochMs })
  revokedAt: number | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 32, nullable: true })
  revokedReason: SessionRevokeReason | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  /** The scope granted at login, normalised (see common/scope.ts); null when none was. Never changes. */
  @Column({ type: 'text', nullable: true })
  scope: string | null;
}

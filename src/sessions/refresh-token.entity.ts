import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

/**
 * One link of a session's rotation chain. Only the SHA-256 of the token is stored.
 * A token is "used" once a child points at it: the unique index on parent_id is what makes
 * rotation atomic (two refreshes of one token cannot both insert a child).
 */
@Entity({ name: 'refresh_tokens' })
export class RefreshToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'session_id', type: 'varchar', length: 36 })
  sessionId: string;

  @Column({ name: 'parent_id', type: 'varchar', length: 36, nullable: true })
  parentId: string | null;

  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash: string;

  /**
   * Random input that, with the parent's raw token and the server key, derives this token.
   * Useless without the parent token, which only the client holds.
   */
  @Column({ type: 'varchar', length: 64, nullable: true })
  nonce: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  /** Idle expiry: REFRESH_TOKEN_TTL after issue, capped by the session's absolute expiry. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;
}

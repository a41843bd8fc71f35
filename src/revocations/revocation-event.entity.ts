import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

/**
 * One entry of the revocation feed (GET /auth/revocations): a revoked session (`sid` set), or a
 * user's cut-off (`notBefore` set: every access token of `sub` issued before it). `id` is the
 * feed's cursor: ids only grow, and are handed out in commit order (RevocationEventRepository).
 * Kept until `until`, the latest `exp` an access token it affects can have; then purged.
 */
@Entity({ name: 'revocation_events' })
export class RevocationEvent {
  /** BIGINT on PostgreSQL (see the migration), which returns it as a string: RevocationEventRepository maps rows itself. */
  @PrimaryGeneratedColumn('increment')
  id: number;

  @Column({ type: 'varchar', length: 36, nullable: true })
  sid: string | null;

  /** The user (`sub` of their tokens). */
  @Column({ type: 'varchar', length: 36 })
  sub: string;

  /** Epoch seconds: tokens of `sub` with an earlier `iat` are refused. Null for a session. */
  @Column({ name: 'not_before', type: 'bigint', nullable: true, transformer: epochMs })
  notBefore: number | null;

  /** Epoch seconds: no access token this entry affects expires later. */
  @Column({ name: 'live_until', type: 'bigint', transformer: epochMs })
  until: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;
}

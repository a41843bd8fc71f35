import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

@Entity({ name: 'users' })
export class User {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  /** As the user typed it; shown back. */
  @Column({ type: 'varchar', length: 64 })
  username: string;

  /** Lower-cased copy under a unique index, so `Alice` and `alice` are one account. */
  @Column({ name: 'username_normalized', type: 'varchar', length: 64 })
  usernameNormalized: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  /** When the account was disabled (ms); null while it may log in. */
  @Column({ name: 'disabled_at', type: 'bigint', nullable: true, transformer: epochMs })
  disabledAt: number | null;

  /**
   * The user's cut-off (ms, a whole second): access tokens with an earlier `iat` are refused and
   * none is issued before it. Null until a role change or disable first sets it.
   */
  @Column({ name: 'not_before', type: 'bigint', nullable: true, transformer: epochMs })
  notBefore: number | null;
}

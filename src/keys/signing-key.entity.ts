import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

export type KeyPurpose = 'access_token' | 'refresh_token_mac';

/** Server keys, generated on first start so every instance sharing the database agrees on them. */
@Entity({ name: 'signing_keys' })
export class SigningKey {
  /** Also the JWT `kid`. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'varchar', length: 32 })
  purpose: KeyPurpose;

  @Column({ type: 'varchar', length: 16 })
  alg: string;

  /** Key material, base64url. */
  @Column({ type: 'text' })
  material: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'retired_at', type: 'bigint', nullable: true, transformer: epochMs })
  retiredAt: number | null;
}

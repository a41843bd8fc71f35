import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/epoch-ms.transformer.js';

/** A resource server allowed to call the client-authenticated endpoints (introspection, revocation feed). */
@Entity({ name: 'clients' })
export class ApiClient {
  /** The `client_id`: random, URL-safe, not secret. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** SHA-256 of the secret, hex (see client-secret.ts for why a fast hash is right here). */
  @Column({ name: 'secret_hash', type: 'varchar', length: 64 })
  secretHash: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;
}

import { Entity, PrimaryColumn } from 'typeorm';

/**
 * A client address (its IP bucket) counted on a repeatable audit row, listed once per row so
 * that every instance counts it once. Bounded per row (MAX_SOURCES_PER_EVENT), purged with it.
 */
@Entity('audit_event_sources')
export class AuditEventSource {
  @PrimaryColumn({ name: 'dedupe_key', type: 'varchar', length: 64 })
  dedupeKey: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  source: string;
}

import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Audit rows that count repeats instead of multiplying (a refused login is stored once per
 * username, IP and throttle window, with a count), the index the retention purge scans by, and
 * the index that finds a user's live sessions for the per-user session limit.
 */
export class CapacityLimits1764403200000 implements MigrationInterface {
  name = 'CapacityLimits1764403200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('audit_events', [
      // Null for ordinary events; for repeatable ones, what makes a repeat the same event.
      new TableColumn({ name: 'dedupe_key', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'occurrences', type: 'integer', isNullable: true }),
    ]);
    // Unique, so instances recording the same repeat at once add to one row (INSERT … ON
    // CONFLICT); NULLs are distinct on both databases, so ordinary events are unaffected.
    await queryRunner.createIndex(
      'audit_events',
      new TableIndex({ name: 'UQ_audit_events_dedupe_key', columnNames: ['dedupe_key'], isUnique: true }),
    );
    await queryRunner.createIndex(
      'audit_events',
      new TableIndex({ name: 'IDX_audit_events_created_at', columnNames: ['created_at'] }),
    );
    // A user's unrevoked sessions without reading every revoked one kept for the purge window.
    await queryRunner.createIndex(
      'sessions',
      new TableIndex({ name: 'IDX_sessions_user_revoked', columnNames: ['user_id', 'revoked_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('sessions', 'IDX_sessions_user_revoked');
    await queryRunner.dropIndex('audit_events', 'IDX_audit_events_created_at');
    await queryRunner.dropIndex('audit_events', 'UQ_audit_events_dedupe_key');
    await queryRunner.dropColumn('audit_events', 'occurrences');
    await queryRunner.dropColumn('audit_events', 'dedupe_key');
  }
}

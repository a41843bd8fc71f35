import { Table, TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Refused logins counted per username and throttle window rather than per username, IP and
 * window (an attacker with many addresses made one row each): the row carries how many distinct
 * client addresses (IPv6 by /64) it counts and a short sample of them; `audit_event_sources`
 * lists them (a bounded number per row), so each is counted once, by every instance.
 */
export class AuditSources1764489600000 implements MigrationInterface {
  name = 'AuditSources1764489600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('audit_events', [
      // Null for ordinary events (and repeatable rows from before this migration).
      new TableColumn({ name: 'distinct_ips', type: 'integer', isNullable: true }),
      new TableColumn({ name: 'ip_sample', type: 'text', isNullable: true }),
    ]);
    await queryRunner.createTable(
      new Table({
        name: 'audit_event_sources',
        columns: [
          // The primary key also finds a row's sources (by its first column) for the purge.
          { name: 'dedupe_key', type: 'varchar', length: '64', isPrimary: true },
          { name: 'source', type: 'varchar', length: '64', isPrimary: true },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_event_sources');
    await queryRunner.dropColumn('audit_events', 'ip_sample');
    await queryRunner.dropColumn('audit_events', 'distinct_ips');
  }
}

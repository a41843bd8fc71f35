import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

export class AuditEvents1764316800000 implements MigrationInterface {
  name = 'AuditEvents1764316800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'session_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'type', type: 'varchar', length: '40' },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'user_agent', type: 'varchar', length: '512', isNullable: true },
          { name: 'detail', type: 'text', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [
          new TableIndex({ name: 'IDX_audit_events_user_created', columnNames: ['user_id', 'created_at', 'id'] }),
        ],
      }),
    );
    // Purging expired sessions scans by these.
    await queryRunner.createIndex(
      'sessions',
      new TableIndex({ name: 'IDX_sessions_expires_at', columnNames: ['expires_at'] }),
    );
    await queryRunner.createIndex(
      'sessions',
      new TableIndex({ name: 'IDX_sessions_revoked_at', columnNames: ['revoked_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('sessions', 'IDX_sessions_revoked_at');
    await queryRunner.dropIndex('sessions', 'IDX_sessions_expires_at');
    await queryRunner.dropTable('audit_events');
  }
}

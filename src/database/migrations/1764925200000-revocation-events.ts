import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The revocation feed's entries (GET /auth/revocations). */
export class RevocationEvents1764925200000 implements MigrationInterface {
  name = 'RevocationEvents1764925200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    await queryRunner.createTable(
      new Table({
        name: 'revocation_events',
        columns: [
          // The cursor. SQLite: INTEGER PRIMARY KEY AUTOINCREMENT, which never reuses an id, even
          // after the newest rows are deleted. PostgreSQL: BIGSERIAL, so years of revocations fit.
          {
            name: 'id',
            type: postgres ? 'bigint' : 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'sid', type: 'varchar', length: '36', isNullable: true },
          { name: 'sub', type: 'varchar', length: '36' },
          { name: 'not_before', type: 'bigint', isNullable: true },
          { name: 'live_until', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
        ],
        // The purge deletes by it.
        indices: [new TableIndex({ name: 'IDX_revocation_events_live_until', columnNames: ['live_until'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('revocation_events');
  }
}

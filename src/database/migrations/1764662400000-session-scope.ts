import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The scope granted at login (ALLOWED_SCOPES), kept for the session's refreshes; null when none was. */
export class SessionScope1764662400000 implements MigrationInterface {
  name = 'SessionScope1764662400000';

  // Plain ALTER TABLE, the same on both databases: TypeORM's addColumn rebuilds a SQLite table
  // (copy, drop, rename), and `refresh_tokens` references `sessions` with ON DELETE CASCADE.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE sessions ADD COLUMN scope text NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE sessions DROP COLUMN scope');
  }
}

import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The admin API lists users oldest first, a page at a time, by a keyset on (created_at, id):
 * with this index each page reads only its own rows instead of sorting the whole table.
 */
export class UsersCreatedAt1764921600000 implements MigrationInterface {
  name = 'UsersCreatedAt1764921600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex(
      'users',
      new TableIndex({ name: 'IDX_users_created_at_id', columnNames: ['created_at', 'id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('users', 'IDX_users_created_at_id');
  }
}

import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A per-user cut-off (`not_before`, ms, a whole second): access tokens of the user issued before
 * it are refused. Set by role changes and disabling, so they take effect within a second.
 */
export class UserNotBefore1764748800000 implements MigrationInterface {
  name = 'UserNotBefore1764748800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('users', new TableColumn({ name: 'not_before', type: 'bigint', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('users', 'not_before');
  }
}

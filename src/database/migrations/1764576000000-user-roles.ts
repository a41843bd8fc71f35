import { Table, TableColumn, TableForeignKey, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Roles (one row per user and role, so granting is an insert the primary key makes idempotent
 * between instances) and disabled accounts (`disabled_at`, null while the account may log in).
 */
export class UserRoles1764576000000 implements MigrationInterface {
  name = 'UserRoles1764576000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'user_roles',
        columns: [
          // The primary key also finds a user's roles (by its first column) on every token issued.
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'role', type: 'varchar', length: '32', isPrimary: true },
          { name: 'created_at', type: 'bigint' },
        ],
        foreignKeys: [
          new TableForeignKey({
            name: 'FK_user_roles_user',
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );
    await queryRunner.addColumn('users', new TableColumn({ name: 'disabled_at', type: 'bigint', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('users', 'disabled_at');
    await queryRunner.dropTable('user_roles');
  }
}

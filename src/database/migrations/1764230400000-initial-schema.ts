import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

const id = (name = 'id') => ({ name, type: 'varchar', length: '36', isPrimary: name === 'id' });
const epoch = (name: string, isNullable = false) => ({ name, type: 'bigint', isNullable });

/**
 * Written with TypeORM's schema builder instead of raw SQL so one migration set serves
 * SQLite and PostgreSQL.
 */
export class InitialSchema1764230400000 implements MigrationInterface {
  name = 'InitialSchema1764230400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'users',
        columns: [
          id(),
          { name: 'username', type: 'varchar', length: '64' },
          { name: 'username_normalized', type: 'varchar', length: '64' },
          { name: 'password_hash', type: 'varchar', length: '255' },
          epoch('created_at'),
        ],
        indices: [
          new TableIndex({
            name: 'UQ_users_username_normalized',
            columnNames: ['username_normalized'],
            isUnique: true,
          }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'sessions',
        columns: [
          id(),
          id('user_id'),
          epoch('created_at'),
          epoch('last_used_at'),
          epoch('expires_at'),
          epoch('revoked_at', true),
          { name: 'revoked_reason', type: 'varchar', length: '32', isNullable: true },
          { name: 'user_agent', type: 'varchar', length: '512', isNullable: true },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
        ],
        indices: [new TableIndex({ name: 'IDX_sessions_user_id', columnNames: ['user_id'] })],
        foreignKeys: [
          new TableForeignKey({
            name: 'FK_sessions_user',
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'refresh_tokens',
        columns: [
          id(),
          id('session_id'),
          { ...id('parent_id'), isNullable: true },
          { name: 'token_hash', type: 'varchar', length: '64' },
          { name: 'nonce', type: 'varchar', length: '64', isNullable: true },
          epoch('created_at'),
          epoch('expires_at'),
        ],
        indices: [
          new TableIndex({ name: 'UQ_refresh_tokens_token_hash', columnNames: ['token_hash'], isUnique: true }),
          // One child per token: the compare-and-set that makes rotation atomic.
          new TableIndex({ name: 'UQ_refresh_tokens_parent_id', columnNames: ['parent_id'], isUnique: true }),
          new TableIndex({ name: 'IDX_refresh_tokens_session_id', columnNames: ['session_id'] }),
        ],
        foreignKeys: [
          new TableForeignKey({
            name: 'FK_refresh_tokens_session',
            columnNames: ['session_id'],
            referencedTableName: 'sessions',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'signing_keys',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'purpose', type: 'varchar', length: '32' },
          { name: 'alg', type: 'varchar', length: '16' },
          { name: 'material', type: 'text' },
          epoch('created_at'),
          epoch('retired_at', true),
        ],
        indices: [new TableIndex({ name: 'IDX_signing_keys_purpose', columnNames: ['purpose', 'created_at'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('signing_keys');
    await queryRunner.dropTable('refresh_tokens');
    await queryRunner.dropTable('sessions');
    await queryRunner.dropTable('users');
  }
}

import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Resource-server clients (issue 14): an id, a name, the SHA-256 of the secret (never the secret). */
export class Clients1764835200000 implements MigrationInterface {
  name = 'Clients1764835200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'clients',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'secret_hash', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('clients');
  }
}

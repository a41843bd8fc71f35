import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { SqliteAdapter } from './sqlite-adapter.js';
import { UnitOfWork } from './unit-of-work.js';

@Global()
@Module({
  providers: [
    UnitOfWork,
    {
      provide: SqliteAdapter,
      inject: [DataSource, ConfigService],
      useFactory: (dataSource: DataSource, config: ConfigService<AppConfig, true>) =>
        new SqliteAdapter(dataSource, config.get('database', { infer: true }).busyTimeout * 1000),
    },
  ],
  exports: [UnitOfWork, SqliteAdapter],
})
export class DatabaseModule {}

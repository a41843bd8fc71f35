import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminModule } from './admin/admin.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { JwtAuthGuard } from './auth/guards/jwt-auth.guard.js';
import { AuthzModule } from './authz/authz.module.js';
import { ClientsModule } from './clients/clients.module.js';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/app-config.js';
import { buildDataSourceOptions } from './database/data-source-options.js';
import { DatabaseModule } from './database/database.module.js';
import { initializeWithMigrations } from './database/migrations-at-start.js';
import { HealthModule } from './health/health.module.js';
import { IntrospectionModule } from './introspection/introspection.module.js';
import { OAuthModule } from './oauth/oauth.module.js';
import { RedisModule } from './redis/redis.module.js';
import { RevocationsModule } from './revocations/revocations.module.js';

/**
 * The application, built from an already validated config: main.ts passes the one read from
 * the environment, tests pass their own. Pipe, filter and guard are providers here so every
 * test that imports the module runs the production pipeline.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ ...config })] }),
        TypeOrmModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService<AppConfig, true>) => {
            const database = configService.get('database', { infer: true });
            return {
              ...buildDataSourceOptions(database),
              // Retries (10 over ~30 s) are for a database server that is still starting. A SQLite
              // file that failed to open or migrate fails the same way every time: say so at once.
              ...(database.type === 'sqlite' ? { toRetry: () => false } : {}),
            };
          },
          dataSourceFactory: initializeWithMigrations,
        }),
        DatabaseModule,
        ScheduleModule.forRoot(),
        RedisModule,
        AuditModule,
        AuthModule,
        AuthzModule,
        OAuthModule,
        HealthModule,
        AdminModule,
        ClientsModule,
        IntrospectionModule,
        RevocationsModule,
      ],
      providers: [
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_GUARD, useClass: JwtAuthGuard },
      ],
    };
  }
}

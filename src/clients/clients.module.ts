import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { LOGIN_ATTEMPT_STORE, MemoryLoginAttemptStore } from '../auth/login-attempt.store.js';
import { RedisLoginAttemptStore } from '../auth/redis-login-attempt.store.js';
import { RedisConnections } from '../redis/redis.module.js';
import { ApiClient } from './api-client.entity.js';
import { ApiClientRepository } from './api-client.repository.js';
import { ClientAuthGuard } from './client-auth.guard.js';
import { ClientAuthThrottle } from './client-auth.throttle.js';
import { ClientsController } from './clients.controller.js';
import { ClientsService } from './clients.service.js';

/**
 * Resource-server clients (the admin API) and their authentication. Other modules put @ClientAuth() on a route
 * and import this module: the guard and what it needs are exported.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiClient]), AuditModule],
  controllers: [ClientsController],
  providers: [
    ApiClientRepository,
    ClientsService,
    ClientAuthThrottle,
    ClientAuthGuard,
    {
      // Counters of its own (keys "client:ip:…"), shared through Redis when several instances run.
      provide: LOGIN_ATTEMPT_STORE,
      inject: [RedisConnections],
      useFactory: (redis: RedisConnections) =>
        redis.client ? new RedisLoginAttemptStore(redis.client, redis.prefix) : new MemoryLoginAttemptStore(),
    },
  ],
  exports: [ClientsService, ClientAuthThrottle, ClientAuthGuard],
})
export class ClientsModule {}

import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { AuditModule } from '../audit/audit.module.js';
import { PassportModule } from '@nestjs/passport';
import { KeysModule } from '../keys/keys.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccessTokenService } from './access-token.service.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { AccessTokenClaimsService } from './claims/access-token-claims.service.js';
import { RegisterThrottleGuard } from './guards/register-throttle.guard.js';
import { SameSiteGuard } from './guards/same-site.guard.js';
import { LOGIN_ATTEMPT_STORE, MemoryLoginAttemptStore } from './login-attempt.store.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { RedisLoginAttemptStore } from './redis-login-attempt.store.js';
import { RegisterThrottleService } from './register-throttle.service.js';
import { RedisConnections } from '../redis/redis.module.js';
import { RefreshCookie } from './refresh-cookie.js';
import { ScopePolicyService } from './scopes/scope-policy.service.js';
import { JwtStrategy } from './strategies/jwt.strategy.js';
import { LocalStrategy } from './strategies/local.strategy.js';

@Module({
  // Keys come from KeysService per call, so JwtModule needs no secret here.
  imports: [
    PassportModule,
    JwtModule.register({}),
    UsersModule,
    SessionsModule,
    KeysModule,
    AuditModule,
    DiscoveryModule,
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    AccessTokenService,
    AccessTokenClaimsService,
    ScopePolicyService,
    RefreshCookie,
    LocalStrategy,
    JwtStrategy,
    SameSiteGuard,
    LoginThrottleService,
    RegisterThrottleService,
    RegisterThrottleGuard,
    // In-memory failure counters; the multi-instance setup replaces this with shared storage.
    {
      // Shared through Redis when several instances run; in memory otherwise.
      provide: LOGIN_ATTEMPT_STORE,
      inject: [RedisConnections],
      useFactory: (redis: RedisConnections) =>
        redis.client ? new RedisLoginAttemptStore(redis.client, redis.prefix) : new MemoryLoginAttemptStore(),
    },
  ],
  // JwtStrategy: for the global JwtAuthGuard (AppModule), which asks it about known tokens first.
  exports: [AuthService, AccessTokenService, ScopePolicyService, JwtStrategy],
})
export class AuthModule {}

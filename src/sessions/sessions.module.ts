import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { RevocationEventsModule } from '../revocations/revocation-events.module.js';
import { UsersModule } from '../users/users.module.js';
import { RefreshToken } from './refresh-token.entity.js';
import { RefreshTokenRepository } from './refresh-token.repository.js';
import { RefreshTokenRotationService } from './refresh-token-rotation.service.js';
import { SessionRevocationBus } from './session-revocation.bus.js';
import { SessionStateCache } from './session-state.cache.js';
import { Session } from './session.entity.js';
import { SessionRepository } from './session.repository.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsPurgeTask } from './sessions-purge.task.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([Session, RefreshToken]),
    KeysModule,
    AuditModule,
    UsersModule,
    RevocationEventsModule,
  ],
  controllers: [SessionsController],
  providers: [
    SessionRepository,
    RefreshTokenRepository,
    SessionsService,
    RefreshTokenRotationService,
    SessionStateCache,
    SessionRevocationBus,
    SessionsPurgeTask,
  ],
  exports: [SessionsService, RefreshTokenRotationService, SessionStateCache, SessionRevocationBus],
})
export class SessionsModule {}

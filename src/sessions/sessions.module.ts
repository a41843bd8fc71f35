import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { RefreshToken } from './refresh-token.entity.js';
import { RefreshTokenRotation } from './refresh-token-rotation.service.js';
import { SessionRevocationBus } from './session-revocation.bus.js';
import { SessionStateCache } from './session-state.cache.js';
import { Session } from './session.entity.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsPurgeTask } from './sessions-purge.task.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Session, RefreshToken]), KeysModule, AuditModule],
  controllers: [SessionsController],
  providers: [SessionsService, RefreshTokenRotation, SessionStateCache, SessionRevocationBus, SessionsPurgeTask],
  exports: [SessionsService, RefreshTokenRotation, SessionStateCache],
})
export class SessionsModule {}

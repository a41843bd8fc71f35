import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEventSource } from './audit-event-source.entity.js';
import { AuditEventSourceRepository } from './audit-event-source.repository.js';
import { AuditEvent } from './audit-event.entity.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { AuditPurgeTask } from './audit-purge.task.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([AuditEvent, AuditEventSource])],
  controllers: [AuditController],
  providers: [AuditService, AuditEventRepository, AuditEventSourceRepository, AuditPurgeTask],
  exports: [AuditService],
})
export class AuditModule {}

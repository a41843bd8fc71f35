import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthzModule } from '../authz/authz.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AdminAuditController } from './admin-audit.controller.js';
import { AdminSessionsController } from './admin-sessions.controller.js';
import { AdminSessionsService } from './admin-sessions.service.js';
import { AdminUsersController } from './admin-users.controller.js';
import { AdminUsersService } from './admin-users.service.js';

/** The admin HTTP API (role `admin`): users, their roles and sessions, and every user's audit events. */
@Module({
  imports: [AuthzModule, SessionsModule, AuditModule],
  controllers: [AdminUsersController, AdminSessionsController, AdminAuditController],
  providers: [AdminUsersService, AdminSessionsService],
})
export class AdminModule {}

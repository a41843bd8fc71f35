import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { RevocationEventsModule } from '../revocations/revocation-events.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { UsersModule } from '../users/users.module.js';
import { RolesGuard } from './roles.guard.js';
import { UserAdministrationService } from './user-administration.service.js';
import { UserCutOffService } from './user-cut-off.service.js';

/** Authorization: the @Roles() guard, and the operator's changes to roles and disabled accounts. */
@Module({
  imports: [UsersModule, SessionsModule, AuditModule, RevocationEventsModule],
  providers: [UserAdministrationService, UserCutOffService, RolesGuard],
  exports: [UserAdministrationService, UserCutOffService, RolesGuard],
})
export class AuthzModule {}

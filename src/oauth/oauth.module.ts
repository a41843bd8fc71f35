import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { OAuthController } from './oauth.controller.js';
import { OAuthService } from './oauth.service.js';

/** Standards-facing endpoints: token, revocation, JWKS and server metadata. */
@Module({
  imports: [AuthModule, SessionsModule, KeysModule, AuditModule],
  controllers: [OAuthController],
  providers: [OAuthService],
})
export class OAuthModule {}

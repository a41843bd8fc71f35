import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { KeysModule } from '../keys/keys.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccessTokenService } from './access-token.service.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { RefreshCookie } from './refresh-cookie.js';
import { JwtStrategy } from './strategies/jwt.strategy.js';
import { LocalStrategy } from './strategies/local.strategy.js';

@Module({
  // Keys come from KeysService per call, so JwtModule needs no secret here.
  imports: [PassportModule, JwtModule.register({}), UsersModule, SessionsModule, KeysModule],
  controllers: [AuthController],
  providers: [AuthService, AccessTokenService, RefreshCookie, LocalStrategy, JwtStrategy],
})
export class AuthModule {}

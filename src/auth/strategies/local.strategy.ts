import { Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-local';
import { clientOf } from '../../common/http/client-info.js';
import type { User } from '../../users/user.entity.js';
import { AuthService } from '../auth.service.js';

/** One message for unknown users and wrong passwords, so login does not reveal which accounts exist. */
export const INVALID_CREDENTIALS = 'Invalid username or password';

@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy, 'local') {
  constructor(private readonly auth: AuthService) {
    super({ usernameField: 'username', passwordField: 'password', passReqToCallback: true });
  }

  async validate(request: FastifyRequest, username: string, password: string): Promise<User> {
    const user = await this.auth.verifyLogin(username, password, clientOf(request));
    if (!user) throw new UnauthorizedException(INVALID_CREDENTIALS);
    return user;
  }
}

import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { BearerAuthException } from '../../common/http/bearer-auth.exception.js';
import { IS_PUBLIC_KEY } from '../decorators/public.decorator.js';

export const BEARER_REALM = 'nest-token-auth';

/** Global guard: every route needs a valid Bearer access token unless it is marked @Public(). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    return isPublic ? true : super.canActivate(context);
  }

  override handleRequest<T>(err: unknown, user: T, _info: unknown, context: ExecutionContext): T {
    if (user && !err) return user;
    const authorization = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>()
      .headers.authorization;
    const presented = typeof authorization === 'string' && /^Bearer\s+\S/i.test(authorization);
    throw new BearerAuthException(BEARER_REALM, presented ? 'invalid_token' : undefined);
  }
}

import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { BEARER_REALM } from '../auth/guards/jwt-auth.guard.js';
import { BearerAuthException } from '../common/http/bearer-auth.exception.js';
import { InsufficientScopeException } from '../common/http/insufficient-scope.exception.js';

/** Where @Roles() keeps the roles a route demands. */
export const ROLES_KEY = 'authz:roles';

/** Lets a request through when its access token has one of the roles @Roles() names. */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!required?.length) return true;
    const principal = context.switchToHttp().getRequest<{ user?: AccessTokenPrincipal }>().user;
    // Only on a @Public() route would the JWT guard have let a request through without one.
    if (!principal) throw new BearerAuthException(BEARER_REALM);
    if (required.some((role) => principal.roles.includes(role))) return true;
    throw new InsufficientScopeException(BEARER_REALM);
  }
}

import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { BEARER_REALM } from '../auth/guards/jwt-auth.guard.js';
import { BearerAuthException } from '../common/http/bearer-auth.exception.js';
import { InsufficientScopeException } from '../common/http/insufficient-scope.exception.js';

/** Where @Roles() keeps the roles a route demands. */
export const ROLES_KEY = 'authz:roles';

/**
 * Lets a request through when its access token has one of the roles @Roles() names, at each
 * level that names some: a controller's @Roles() holds for every route in it, and a handler's
 * adds its own demand rather than replacing the controller's.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const levels = [context.getClass(), context.getHandler()]
      .map((target) => this.reflector.get<string[] | undefined>(ROLES_KEY, target) ?? [])
      .filter((roles) => roles.length > 0);
    if (!levels.length) return true;
    const principal = context.switchToHttp().getRequest<{ user?: AccessTokenPrincipal }>().user;
    // Only on a @Public() route would the JWT guard have let a request through without one.
    if (!principal) throw new BearerAuthException(BEARER_REALM);
    if (levels.every((roles) => roles.some((role) => principal.roles.includes(role)))) return true;
    throw new InsufficientScopeException(BEARER_REALM);
  }
}

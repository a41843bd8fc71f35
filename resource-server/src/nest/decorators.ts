import { createParamDecorator, SetMetadata, type CustomDecorator, type ExecutionContext } from '@nestjs/common';
import { checkRequirements, type Principal as Caller } from '../principal.js';
import { IS_PUBLIC_KEY, ROLES_KEY, SCOPES_KEY } from './resource-server.constants.js';

/** Opens a route (or a controller) to requests without a token: the global guard lets them through. */
export const Public = (): CustomDecorator<string> => SetMetadata(IS_PUBLIC_KEY, true);

/** The caller needs at least one of these roles. On a handler it replaces the controller's @Roles. */
export const Roles = (...roles: string[]): CustomDecorator<string> => {
  checkRequirements({ roles }, '@Roles()');
  return SetMetadata(ROLES_KEY, roles);
};

/** The caller's token needs all of these scopes; a controller's and a handler's @Scopes add up. */
export const Scopes = (...scopes: string[]): CustomDecorator<string> => {
  checkRequirements({ scopes }, '@Scopes()');
  return SetMetadata(SCOPES_KEY, scopes);
};

/**
 * The verified caller (`@Principal() caller: Principal`), or one of its fields
 * (`@Principal('sub') userId: string`). Undefined on a @Public() route. Also the type, so one
 * import serves both.
 */
export type Principal = Caller;
export const Principal = createParamDecorator((field: keyof Caller | undefined, context: ExecutionContext) => {
  const principal = context.switchToHttp().getRequest<{ auth?: Caller }>().auth;
  return field === undefined ? principal : principal?.[field];
});

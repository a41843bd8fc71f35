import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** What a verified access token says about its bearer. */
export interface AccessTokenPrincipal {
  userId: string;
  /** From the session check (same cache), so handlers need no user query. */
  username: string;
  sessionId: string;
  tokenId: string;
  /** The token's `roles` claim: the user's roles when it was issued. */
  roles: string[];
  /** The token's `scope` claim, split; empty when none was granted. */
  scopes: readonly string[];
}

export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<{ user: unknown }>().user,
);

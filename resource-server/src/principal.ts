import type { JWTPayload } from 'jose';

/** Who is calling: what a verified access token says. Frozen: shared by every request with the token. */
export interface Principal {
  /** The user id. */
  readonly sub: string;
  /** The session id. */
  readonly sid: string;
  /** From the token's `username` or `preferred_username`, or from introspection; absent otherwise. */
  readonly username?: string;
  readonly roles: readonly string[];
  /** The token's `scope`, split on spaces; empty when none was granted. */
  readonly scopes: readonly string[];
  /** Every claim of the token. */
  readonly claims: Readonly<JWTPayload>;
}

/** What a route demands: at least one of `roles`, all of `scopes`. */
export interface AuthRequirements {
  roles?: readonly string[];
  scopes?: readonly string[];
}

/** The principal of a verified payload, or undefined when a claim has the wrong shape. */
export function principalOf(payload: JWTPayload): Principal | undefined {
  const { sub, sid, iat, roles, scope } = payload as JWTPayload & { sid?: unknown; roles?: unknown; scope?: unknown };
  if (typeof sub !== 'string' || !sub || typeof sid !== 'string' || !sid || typeof iat !== 'number') return undefined;
  // Tokens from before the roles claim existed carry none: no roles, rather than a refusal.
  if (roles !== undefined && !isStringArray(roles)) return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  const username = [payload.username, payload.preferred_username].find(
    (value): value is string => typeof value === 'string',
  );
  return Object.freeze({
    sub,
    sid,
    ...(username === undefined ? {} : { username }),
    roles: Object.freeze([...(roles ?? [])]),
    scopes: Object.freeze(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []),
    claims: deepFreeze(payload),
  });
}

/** The same principal, with the `username` introspection reported. */
export function withUsername(principal: Principal, username: string | undefined): Principal {
  if (username === undefined || principal.username === username) return principal;
  return Object.freeze({ ...principal, username });
}

/** Throws nothing: returns which requirement fails, if any. */
export function unmetRequirement(principal: Principal, requirements: AuthRequirements): 'roles' | 'scopes' | undefined {
  const { roles, scopes } = requirements;
  if (roles?.length && !roles.some((role) => principal.roles.includes(role))) return 'roles';
  if (scopes?.length && !scopes.every((scope) => principal.scopes.includes(scope))) return 'scopes';
  return undefined;
}

/** Checks requirements given by a developer once, so a typo fails at start-up. */
export function checkRequirements(requirements: AuthRequirements | undefined, where: string): AuthRequirements {
  const { roles, scopes } = requirements ?? {};
  for (const [name, list] of [
    ['roles', roles],
    ['scopes', scopes],
  ] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.length || !list.every((item) => typeof item === 'string' && item.length > 0)) {
      throw new TypeError(
        `@nest-token-auth/resource-server: ${where}: ${name} must be a non-empty array of non-empty strings`,
      );
    }
  }
  return { roles: roles && [...roles], scopes: scopes && [...scopes] };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/** Injection token of the module's TokenVerifier (`@Inject(TOKEN_VERIFIER) verifier: TokenVerifier`). */
export const TOKEN_VERIFIER = Symbol('nest-token-auth:TOKEN_VERIFIER');

export const IS_PUBLIC_KEY = 'nest-token-auth:public';
export const ROLES_KEY = 'nest-token-auth:roles';
export const SCOPES_KEY = 'nest-token-auth:scopes';

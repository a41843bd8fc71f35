/** Paths whose errors are OAuth error responses rather than our usual `{statusCode, error, message}`. */
export const OAUTH_PATHS: readonly string[] = ['/auth/token', '/auth/revoke', '/auth/introspect'];

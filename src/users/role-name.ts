/** Role names: lower-case, short, safe in a JWT claim, a log line and a URL without escaping. */
export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** The one role the service itself gives meaning to. */
export const ADMIN_ROLE = 'admin';

export function isRoleName(value: unknown): boolean {
  return typeof value === 'string' && ROLE_NAME.test(value);
}

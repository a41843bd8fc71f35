/**
 * OAuth scopes (RFC 6749 §3.3): `scope = scope-token *( SP scope-token )`, each token
 * `1*NQCHAR` (printable ASCII except space, `"` and `\`), case-sensitive, order irrelevant.
 *
 * Our reading, for requests: tokens are separated by one or more spaces (leading and trailing
 * spaces are ignored), a token named twice counts once, and an empty or all-space value asks for
 * nothing. Grants are stored and issued normalised: each token once, in ALLOWED_SCOPES order,
 * joined by single spaces, so the same grant always has the same spelling.
 */

/** One scope-token: NQCHAR = %x21 / %x23-5B / %x5D-7E. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** A requested scope that is malformed, not allowed, or beyond what the session was granted. */
export class InvalidScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScopeError';
  }
}

/**
 * The distinct tokens of a scope parameter, in the order first named; [] for none (undefined,
 * JSON null, empty or spaces only). Throws InvalidScopeError for a token outside the RFC 6749 syntax.
 */
export function parseScope(raw: string | null | undefined): string[] {
  if (raw === undefined || raw === null) return [];
  const tokens = raw.split(' ').filter((token) => token !== '');
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) {
      throw new InvalidScopeError(`Scope "${printable(token)}" is not a valid scope token (RFC 6749 §3.3)`);
    }
  }
  return [...new Set(tokens)];
}

/** A set of tokens as the `scope` claim and parameter spell it; undefined when empty (no scope granted). */
export function formatScope(tokens: readonly string[]): string | undefined {
  return tokens.length ? tokens.join(' ') : undefined;
}

/** Keeps a message readable and bounded whatever the client sent. */
function printable(token: string): string {
  const shown = token.replace(/[^\x20-\x7e]/g, '?');
  return shown.length > 64 ? `${shown.slice(0, 64)}…` : shown;
}

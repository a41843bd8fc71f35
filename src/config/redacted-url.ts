/**
 * A connection URL fit for an error message or a log line: the userinfo (user and password)
 * replaced by `***`, the query string and fragment dropped (libpq and ioredis read passwords and
 * TLS keys from there too). Works on text that is no valid URL as well, which is exactly what a
 * config error quotes: everything up to the last `@` counts as userinfo, since a password may
 * hold an unencoded `@`, `/`, `?` or `#`.
 */
export function redactedUrl(raw: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(raw)?.[0] ?? '';
  let rest = raw.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = `***@${rest.slice(at + 1)}`;
  return scheme + rest.replace(/[?#][\s\S]*$/, '');
}

/**
 * Where a PostgreSQL or Redis URL points, for logs: user, host, port and database, without the
 * password, the query string or the fragment. Text that does not parse is redacted as a whole.
 */
export function describeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return redactedUrl(raw);
  }
  // An unencoded "/", "?" or "#" in a password ends the authority early: the parser then finds no
  // userinfo, and the rest of the password lands in the port, the path or the query.
  if ((raw.includes('@') && !url.username && !url.password) || url.pathname.includes('@')) return redactedUrl(raw);
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.toString();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a path parameter can be one of our ids (random UUIDs). Routes answer 404 for anything
 * else before a query runs: it is simply no such thing, and PostgreSQL never sees a value it
 * might refuse with an error of its own.
 */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

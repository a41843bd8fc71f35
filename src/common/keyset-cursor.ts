/**
 * A position in a list ordered by (time, id): the last row of the page just served. Lists page
 * by it instead of by offset, so rows added or removed meanwhile never shift a page.
 */
export interface KeysetCursor {
  /** The row's time (epoch ms). */
  at: number;
  /** The row's id (a UUID), which breaks ties between rows of the same millisecond. */
  id: string;
}

/** The opaque `next` value a client sends back as `cursor`. */
export function encodeCursor(position: KeysetCursor): string {
  return Buffer.from(`${position.at}:${position.id}`).toString('base64url');
}

/**
 * The position a cursor names; undefined for anything this API did not return (callers answer
 * 400). Strict, so nothing but a number and a UUID ever reaches a query.
 */
export function decodeCursor(cursor: string): KeysetCursor | undefined {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const valid = !rest.length && /^\d{1,15}$/.test(at ?? '') && /^[0-9a-f-]{36}$/i.test(id ?? '');
  return valid ? { at: Number(at), id } : undefined;
}

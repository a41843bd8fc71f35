import type { DataSource } from 'typeorm';

/**
 * A repository's hand-written statement (kept only on hot paths, where the query builder's
 * per-call cost shows in the bench) in the dialect of its database: written once with `?`
 * placeholders, which PostgreSQL wants as `$1, $2, …`. Called when the repository is built, so
 * no request pays for the translation. The drivers cache prepared statements by their text.
 */
export function nativeSql(dataSource: DataSource, text: string): string {
  if (dataSource.options.type !== 'postgres') return text;
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

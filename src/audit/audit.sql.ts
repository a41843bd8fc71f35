/** Hand-written statements of the audit log (see database/sql.ts). */

/** Most client addresses listed per repeatable row (audit_event_sources); `distinct_ips` stops there too. */
export const MAX_SOURCES_PER_EVENT = 1000;
/** Addresses kept on the row itself (`ip_sample`), for a reader who does not query the sources. */
export const IP_SAMPLE_SIZE = 10;

export const INSERT_EVENT = `
  INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * A repeatable event of the account named by username_normalized: a new row on the first
 * occurrence, one more on its count after that (the unique dedupe_key decides, also between
 * instances). No row, and nothing returned, when no such account exists. The WHERE clause also
 * tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
 */
export const UPSERT_REPEATABLE_FOR_USERNAME = `
  INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences, distinct_ips)
  SELECT ?, u.id, NULL, ?, ?, ?, ?, CAST(? AS BIGINT), ?, 1, 0 FROM users u WHERE u.username_normalized = ?
  ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
  RETURNING occurrences`;

/** The same for an event of no account (e.g. refusals of unknown usernames). */
export const UPSERT_REPEATABLE = `
  INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences, distinct_ips)
  VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, ?, 1, 0)
  ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
  RETURNING occurrences`;

/** Repeats counted in memory since the last flush, added to their row. */
export const ADD_REPEATS = 'UPDATE audit_events SET occurrences = occurrences + ? WHERE dedupe_key = ?';

/**
 * Lists a client address (its IP bucket) under a repeatable row: returns it when it was new,
 * nothing when it was listed already (the primary key decides, also between instances), when
 * the row lists MAX_SOURCES_PER_EVENT already, or when the row is gone. Params: key, source, key.
 */
export const ADD_SOURCE = `
  INSERT INTO audit_event_sources (dedupe_key, source)
  SELECT ?, ? WHERE EXISTS (SELECT 1 FROM audit_events WHERE dedupe_key = ? AND distinct_ips < ${MAX_SOURCES_PER_EVENT})
  ON CONFLICT (dedupe_key, source) DO NOTHING
  RETURNING source`;

/** Counts an address ADD_SOURCE just listed on its row, and keeps it in the sample while that has room. Params: source, key. */
export const COUNT_SOURCE = `
  UPDATE audit_events SET
    ip_sample = CASE WHEN distinct_ips < ${IP_SAMPLE_SIZE} THEN COALESCE(ip_sample || ',', '') || ? ELSE ip_sample END,
    distinct_ips = distinct_ips + 1
  WHERE dedupe_key = ?`;

/**
 * The retention purge, before the rows go: a few rows older than the cutoff that still have
 * sources listed. Params: cutoff.
 */
export const ROWS_WITH_SOURCES_BEFORE = `
  SELECT e.dedupe_key FROM audit_events e
  WHERE e.created_at < ? AND e.dedupe_key IS NOT NULL
    AND EXISTS (SELECT 1 FROM audit_event_sources s WHERE s.dedupe_key = e.dedupe_key)
  LIMIT 10`;

/** The sources of one row (at most MAX_SOURCES_PER_EVENT). Params: key. */
export const DELETE_SOURCES_OF = 'DELETE FROM audit_event_sources WHERE dedupe_key = ?';

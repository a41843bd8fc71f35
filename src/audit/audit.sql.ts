/** Hand-written statements of the audit log (see database/sql.ts). */

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
  INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences)
  SELECT ?, u.id, NULL, ?, ?, ?, ?, CAST(? AS BIGINT), ?, 1 FROM users u WHERE u.username_normalized = ?
  ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
  RETURNING occurrences`;

/** The same for an event of no account (e.g. refusals of unknown usernames). */
export const UPSERT_REPEATABLE = `
  INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences)
  VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, ?, 1)
  ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
  RETURNING occurrences`;

/** The same for an event of one session (e.g. a refresh_cookie_conflict): its user and session named. */
export const UPSERT_REPEATABLE_FOR_SESSION = `
  INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at, dedupe_key, occurrences)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
  ON CONFLICT (dedupe_key) DO UPDATE SET occurrences = audit_events.occurrences + 1
  RETURNING occurrences`;

/** Repeats counted in memory since the last flush, added to their row. */
export const ADD_REPEATS = 'UPDATE audit_events SET occurrences = occurrences + ? WHERE dedupe_key = ?';

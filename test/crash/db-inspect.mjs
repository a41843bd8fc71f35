// Read-only look at the app's SQLite file, straight through better-sqlite3: the crash test must
// see what is on disk, not what the app (or TypeORM) makes of it.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';

/** The hash the app stores for a refresh token (refresh-token.codec.ts: SHA-256, hex). */
export const tokenHash = (token) => createHash('sha256').update(token).digest('hex');

/**
 * Opens `file` read-only. A read-only connection never checkpoints or deletes the WAL, so
 * opening it right after a kill -9 reads the state the crash left behind without changing it.
 */
export function openReadOnly(file) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return new DbInspector(db);
}

class DbInspector {
  constructor(db) {
    this.db = db;
    this.byHash = db.prepare(
      'SELECT id, session_id, parent_id, created_at, expires_at FROM refresh_tokens WHERE token_hash = ?',
    );
    this.childOf = db.prepare('SELECT id, token_hash, created_at FROM refresh_tokens WHERE parent_id = ?');
    this.sessionById = db.prepare('SELECT id, revoked_at, revoked_reason FROM sessions WHERE id = ?');
    this.tokenCount = db.prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id = ?');
    this.reuseEvents = db.prepare(
      "SELECT COUNT(*) AS n FROM audit_events WHERE type = 'refresh_token_reuse' AND session_id = ?",
    );
  }

  close() {
    this.db.close();
  }

  /** PRAGMA integrity_check: ['ok'] when the file is sound, else the problems found. */
  integrityCheck() {
    return this.db.pragma('integrity_check').map((row) => row.integrity_check);
  }

  /** Rows that break a foreign key (tokens of a missing session, …); [] when none. */
  foreignKeyViolations() {
    return this.db.pragma('foreign_key_check');
  }

  journalMode() {
    return this.db.pragma('journal_mode', { simple: true });
  }

  /**
   * Per session: revoked or not, how many tokens have no child ("current") and how many have no
   * parent (roots). Rotation appends one child per token (unique parent_id), so a live session's
   * tokens form one chain: one root, one current token.
   */
  sessionShapes() {
    return this.db
      .prepare(
        `SELECT s.id, s.revoked_at, s.revoked_reason,
           (SELECT COUNT(*) FROM refresh_tokens t WHERE t.session_id = s.id) AS tokens,
           (SELECT COUNT(*) FROM refresh_tokens t WHERE t.session_id = s.id
              AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = t.id)) AS current_tokens,
           (SELECT COUNT(*) FROM refresh_tokens t WHERE t.session_id = s.id AND t.parent_id IS NULL) AS roots
         FROM sessions s`,
      )
      .all();
  }

  /** Tokens whose parent is in another session, or whose parent row is missing; [] when none. */
  brokenParentLinks() {
    return this.db
      .prepare(
        `SELECT c.id, c.session_id, c.parent_id, p.session_id AS parent_session_id
         FROM refresh_tokens c LEFT JOIN refresh_tokens p ON p.id = c.parent_id
         WHERE c.parent_id IS NOT NULL AND (p.id IS NULL OR p.session_id <> c.session_id)`,
      )
      .all();
  }

  /** Which of these token hashes already have a child (were rotated). */
  rotatedAmong(hashes) {
    if (!hashes.length) return [];
    const marks = hashes.map(() => '?').join(',');
    return this.db
      .prepare(
        `SELECT p.token_hash AS h FROM refresh_tokens p JOIN refresh_tokens c ON c.parent_id = p.id WHERE p.token_hash IN (${marks})`,
      )
      .pluck()
      .all(...hashes);
  }

  token(rawToken) {
    return this.byHash.get(tokenHash(rawToken));
  }

  /** The children of a token row (0 or 1 while the unique index on parent_id holds). */
  children(tokenId) {
    return this.childOf.all(tokenId);
  }

  session(sessionId) {
    return this.sessionById.get(sessionId);
  }

  tokensInSession(sessionId) {
    return this.tokenCount.get(sessionId).n;
  }

  reuseAuditEvents(sessionId) {
    return this.reuseEvents.get(sessionId).n;
  }
}

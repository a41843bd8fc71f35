/** Hand-written statements of the session hot paths (see database/sql.ts). */

/** A presented token, its session, its child and grandchild (if rotated): everything rotate() decides on. */
export const LOAD_TOKEN_STATE = `
  SELECT t.id AS token_id, t.expires_at AS token_expires_at, t.session_id AS session_id,
         s.user_id AS user_id, s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at,
         c.id AS child_id, c.created_at AS child_created_at, c.expires_at AS child_expires_at,
         c.nonce AS child_nonce, c.token_hash AS child_token_hash, g.id AS grandchild_id
    FROM refresh_tokens t
    JOIN sessions s ON s.id = t.session_id
    LEFT JOIN refresh_tokens c ON c.parent_id = t.id
    LEFT JOIN refresh_tokens g ON g.parent_id = c.id
   WHERE t.token_hash = ?`;

export const INSERT_SESSION = `
  INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, ip)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export const INSERT_TOKEN = `
  INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, nonce, created_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

/** The user still has this password hash (a login checked it; it must not have changed since). */
export const USER_HAS_PASSWORD_HASH = 'SELECT 1 AS ok FROM users WHERE id = ? AND password_hash = ?';

export const TOUCH_SESSION = 'UPDATE sessions SET last_used_at = ? WHERE id = ?';

/**
 * A user's live sessions other than the one named, most recently used first, from the OFFSET-th
 * on: those beyond the per-user limit. Idle-expired sessions (no valid token left) are dead
 * already and do not count. Bounded, so a limit lowered by a lot is applied over a few logins.
 */
export const LIVE_SESSIONS_BEYOND = `
  SELECT s.id AS id FROM sessions s
   WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.id <> ?
     AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > ?)
   ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC
   LIMIT 1000 OFFSET ?`;

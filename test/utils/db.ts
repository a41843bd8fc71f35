import { DataSource } from 'typeorm';
import type { TestApp } from './create-test-app.js';

export interface SessionRow {
  id: string;
  user_id: string;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

/**
 * Reads a session straight from the app's database. E2E tests use it only where HTTP cannot tell
 * two outcomes apart (e.g. "expired" vs "revoked for reuse" both answer 401).
 */
export async function sessionRow(t: TestApp, sessionId: string): Promise<SessionRow | undefined> {
  const dataSource = t.app.get(DataSource);
  // Placeholders differ: `?` on SQLite, `$1` on PostgreSQL.
  const placeholder = dataSource.options.type === 'postgres' ? '$1' : '?';
  const rows = (await dataSource.query(
    `SELECT id, user_id, expires_at, revoked_at, revoked_reason FROM sessions WHERE id = ${placeholder}`,
    [sessionId],
  )) as SessionRow[];
  const row = rows[0];
  if (!row) return undefined;
  return {
    ...row,
    expires_at: Number(row.expires_at),
    revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

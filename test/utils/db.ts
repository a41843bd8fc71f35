import { DataSource } from 'typeorm';
import type { TestApp } from './create-test-app.js';

export interface SessionRow {
  id: string;
  user_id: string;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  scope: string | null;
}

/**
 * Reads a session straight from the app's database. E2E tests use it only where HTTP cannot tell
 * two outcomes apart (e.g. "expired" vs "revoked for reuse" both answer 401). Built with the
 * query builder so the placeholders suit SQLite and PostgreSQL alike; BIGINTs come back as numbers.
 */
export async function sessionRow(t: TestApp, sessionId: string): Promise<SessionRow | undefined> {
  const row = await t.app
    .get(DataSource)
    .createQueryBuilder()
    .select('s.id', 'id')
    .addSelect('s.user_id', 'user_id')
    .addSelect('s.expires_at', 'expires_at')
    .addSelect('s.revoked_at', 'revoked_at')
    .addSelect('s.revoked_reason', 'revoked_reason')
    .addSelect('s.scope', 'scope')
    .from('sessions', 's')
    .where('s.id = :id', { id: sessionId })
    .getRawOne<Record<string, string | number | null>>();
  if (!row) return undefined;
  return {
    id: String(row.id),
    user_id: String(row.user_id),
    expires_at: Number(row.expires_at),
    revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
    revoked_reason: row.revoked_reason === null ? null : String(row.revoked_reason),
    scope: row.scope === null ? null : String(row.scope),
  };
}

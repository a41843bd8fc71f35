import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { buildDataSourceOptions } from './data-source-options.js';

describe('buildDataSourceOptions (SQLite)', () => {
  it("sets each connection's page cache to SQLITE_CACHE_MB, besides WAL's companions", () => {
    const options = buildDataSourceOptions({
      type: 'sqlite',
      url: 'sqlite::memory:',
      sqlitePath: ':memory:',
      logging: false,
      busyTimeout: 5,
      sqliteCacheMb: 3,
    });
    const prepare = (options as { prepareDatabase?: (db: Database.Database) => void }).prepareDatabase;
    const db = new Database(':memory:');
    try {
      // better-sqlite3's own default, for contrast: 16 MB.
      expect(db.pragma('cache_size', { simple: true })).toBe(-16000);
      prepare?.(db);
      expect(db.pragma('cache_size', { simple: true })).toBe(-3 * 1024);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });
});

import { describe, expect, it } from '@jest/globals';
import { decodeCursor, encodeCursor } from './keyset-cursor.js';

const ID = '0b7d4a52-55a5-4c4b-9a4e-2f8b5d3c1e90';

describe('keyset cursor', () => {
  it('round-trips a position, opaque to the client', () => {
    const cursor = encodeCursor({ at: 1764748800123, id: ID });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ at: 1764748800123, id: ID });
  });

  it.each([
    ['empty', ''],
    ['not base64url of a position', 'hello'],
    ['a time that is not a number', Buffer.from(`x1:${ID}`).toString('base64url')],
    ['an id that is not a UUID', Buffer.from("1:' OR 1=1 --").toString('base64url')],
    ['a trailing part', Buffer.from(`1:${ID}:2`).toString('base64url')],
    ['a time beyond 15 digits', Buffer.from(`1${'0'.repeat(15)}:${ID}`).toString('base64url')],
  ])('refuses %s', (_label, cursor) => {
    expect(decodeCursor(cursor)).toBeUndefined();
  });
});

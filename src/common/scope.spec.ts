import { describe, expect, it } from '@jest/globals';
import { formatScope, InvalidScopeError, parseScope } from './scope.js';

describe('parseScope', () => {
  it('asks for nothing when absent, empty or only spaces', () => {
    expect(parseScope(undefined)).toEqual([]);
    expect(parseScope('')).toEqual([]);
    expect(parseScope('   ')).toEqual([]);
  });

  it('splits on runs of spaces and names each token once, in the order first named', () => {
    expect(parseScope(' b  a b ')).toEqual(['b', 'a']);
  });

  it('keeps case: scope tokens are case-sensitive', () => {
    expect(parseScope('Notes notes')).toEqual(['Notes', 'notes']);
  });

  it('accepts every NQCHAR (printable ASCII but space, " and \\)', () => {
    expect(parseScope('!#[]~ notes:read https://api.example/x')).toEqual([
      '!#[]~',
      'notes:read',
      'https://api.example/x',
    ]);
  });

  it.each(['"quoted"', 'back\\slash', 'tab\there', 'é', 'nul\u0000'])('refuses %j', (raw) => {
    expect(() => parseScope(raw)).toThrow(InvalidScopeError);
  });
});

describe('formatScope', () => {
  it('joins with single spaces, and is undefined for none', () => {
    expect(formatScope(['a', 'b'])).toBe('a b');
    expect(formatScope([])).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import { bearerToken } from './bearer-token.js';

const read = (authorization?: string | string[]) => bearerToken({ headers: { authorization } });

describe('bearerToken', () => {
  it('reads the token after the Bearer scheme, in any case, after one or more spaces', () => {
    expect(read('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(read('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(read('BEARER abc.def.ghi')).toBe('abc.def.ghi');
    expect(read('Bearer   abc.def.ghi  ')).toBe('abc.def.ghi');
  });

  it('refuses anything else', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer    ',
      'Basic dXNlcjpwYXNz',
      'Bearerabc.def.ghi',
      'Bearer\tabc.def.ghi',
      'Bearer abc def',
      'Bearer abc\tdef',
      ' Bearer abc',
      'Token abc',
    ]) {
      expect({ header, token: read(header) }).toEqual({ header, token: null });
    }
    expect(read(['Bearer a', 'Bearer b'])).toBeNull();
  });
});

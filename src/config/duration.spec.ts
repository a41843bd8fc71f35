import { describe, expect, it } from '@jest/globals';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['900', 900],
    ['0', 0],
    ['30s', 30],
    ['15m', 900],
    ['1h', 3600],
    ['1d', 86400],
    ['30d', 30 * 86400],
  ])('parses %j as %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    [' 15m', 900],
    ['15m ', 900],
    ['\t1h\n', 3600],
    ['15 m', 900],
  ])('ignores surrounding whitespace in %j', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '   ', '1w', '1y', '-5', '+5', '1.5h', '1.5', 'abc', 'h', '1hm', '1h30m', '1H', '0x10', '1e3', '１０'])(
    'rejects %j',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it('rejects numbers with more than ten digits', () => {
    expect(parseDuration('9999999999')).toBe(9_999_999_999);
    expect(parseDuration('99999999999')).toBeUndefined();
    expect(parseDuration('99999999999999999999999d')).toBeUndefined();
  });

  // Every caller turns the result into milliseconds (`seconds * 1000`) and adds it to Date.now(),
  // so an accepted value must still be a safe integer, and a valid Date, in milliseconds.
  it.each(['9999999999h', '9999999999d'])('rejects %j, too large to use as milliseconds', (text) => {
    const seconds = parseDuration(text);
    if (seconds !== undefined) {
      expect(Number.isSafeInteger(Date.now() + seconds * 1000)).toBe(true);
      expect(Number.isNaN(new Date(Date.now() + seconds * 1000).getTime())).toBe(false);
    }
  });
});

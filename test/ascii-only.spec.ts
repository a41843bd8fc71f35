import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
// @ts-expect-error: a build script in plain JavaScript, without types.
import { asciiOnly } from '../scripts/ascii-only.mjs';

const run = (code: string): unknown => runInNewContext(`(${code})`);
const isAscii = (text: string) => [...text].every((ch) => ch.charCodeAt(0) < 0x80);

describe('asciiOnly (the bundle step that keeps V8 holding the source one byte per character)', () => {
  it('leaves ASCII source as it is', () => {
    const source = 'const a = /x[a-z]+/gi; // plain\nexport { a };';
    expect(asciiOnly(source)).toEqual({ code: source, left: 0 });
  });

  it('escapes regular expressions without changing what they match', () => {
    const cases: Array<[string, string[], string[]]> = [
      ['/^[A-ZÄÖÜß]+$/i', ['GRÜSSE', 'straße'], ['GRUSS!', '']],
      ['/^[Α-ώ]+$/i', ['αβγ', 'ΩΣ'], ['abc']],
      ['/^(УНП )?\\d{9}$/', ['УНП 123456789', '123456789'], ['UNP 123456789']],
      ['/[😀-😂]/u', ['😁'], ['😃', 'a']],
      ['/^😀$/', ['😀'], ['😁']],
      ['/é/v', ['é'], ['e']],
      // Identity escapes of non-ASCII characters (legal outside u/v mode) and escapes next to them.
      ['/^[^\\–\\—]+$/', ['a-b'], ['a–b', 'a—b', 'a\\b']],
      ['/\\\\é/', ['\\é'], ['é']],
    ];
    for (const [literal, matches, misses] of cases) {
      const { code, left } = asciiOnly(literal);
      expect({ literal, left, ascii: isAscii(code) }).toEqual({ literal, left: 0, ascii: true });
      const original = run(literal) as RegExp;
      const escaped = run(code) as RegExp;
      expect(escaped.flags).toBe(original.flags);
      for (const text of [...matches, ...misses]) {
        expect({ literal, text, matches: escaped.test(text) }).toEqual({ literal, text, matches: original.test(text) });
      }
      for (const text of matches)
        expect({ literal, text, matches: escaped.test(text) }).toEqual({ literal, text, matches: true });
    }
  });

  it('keeps a line separator in a block comment a line break (automatic semicolon insertion)', () => {
    const { code } = asciiOnly('(function () { return/* \u2028 */1; })()');
    expect(run(code)).toBe(run('(function () { return/* \u2028 */1; })()'));
    expect(run(code)).toBeUndefined();
  });

  it('drops non-ASCII characters from comments only, and counts what it leaves elsewhere', () => {
    const source = '/** a — b § c */ const s = "ok"; // 北京\nconst t = String.raw`ü`;';
    const { code, left } = asciiOnly(source);
    expect(code).toBe('/** a ? b ? c */ const s = "ok"; // ??\nconst t = String.raw`ü`;');
    expect(left).toBe(1);
  });
});

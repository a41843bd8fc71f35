import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
// @ts-expect-error: a build script in plain JavaScript, without types.
import { restoreClassNames } from '../scripts/class-names.mjs';

const PLAIN = 'var A2=class{foo(){}},B=class{bar(){}},C=class _C{baz(){}};class D{qux(){}}';
const NAMED =
  'var A2=class{static{__name(this,"A")}foo(){}},B=class{static{__name(this,"B")}bar(){}},' +
  'C=class _C{static{__name(this,"C")}baz(){}};class D{static{__name(this,"D")}qux(){}}';
const namesOf = (code: string) => runInNewContext(`${code};[A2.name,B.name,C.name,D.name]`) as string[];

describe("restoreClassNames (the bundle's class names without esbuild's keepNames)", () => {
  it('gives back the names keepNames would give, and only where they differ', () => {
    expect(namesOf(PLAIN)).toEqual(['A2', 'B', '_C', 'D']);
    const restored = restoreClassNames(PLAIN, NAMED);
    expect(namesOf(restored)).toEqual(['A', 'B', 'C', 'D']);
    expect(restored.match(/static\{/g)).toHaveLength(2);
  });

  it('refuses two builds whose classes do not pair up', () => {
    const swapped = NAMED.replace('foo(){}', 'oops(){}');
    expect(() => restoreClassNames(PLAIN, swapped)).toThrow(/differs between the two builds/);
    expect(() => restoreClassNames(PLAIN, 'class X{}')).toThrow(/classes/);
  });
});

// scripts/code-cache.cjs, which `npm run start:prod` runs the bundle with: the first start writes
// V8's code cache once the app says it is listening, later starts use it and leave it alone, and a
// cache V8 refuses (damaged, or made by another build or Node) is ignored and written again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Module } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CODE_CACHE = fileURLToPath(new URL('../../scripts/code-cache.cjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nta-code-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A CommonJS file with enough functions for a cache to hold something; it reports what
// CommonJS gives a module, then says it is ready.
const app = join(dir, 'app.cjs');
const cache = `${app}.v8cache`;
writeFileSync(
  app,
  `'use strict';
${Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i}; }`).join('\n')}
let sum = 0;
${Array.from({ length: 200 }, (_, i) => `sum += f${i}(1);`).join('\n')}
const path = require('node:path');
console.log(JSON.stringify({ sum, file: __filename, dir: __dirname, isModule: typeof module.exports, join: path.join('a', 'b'), text: 'café → ok' }));
setImmediate(() => process.emit('ready'));
`,
);

/** Runs app.cjs through runWithCodeCache in a new process: { outcome, report }. */
function run() {
  const code = `import { runWithCodeCache } from ${JSON.stringify(CODE_CACHE)}; console.log(runWithCodeCache(${JSON.stringify(app)}, 'ready'));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  return {
    outcome: lines.find((line) => !line.startsWith('{')),
    report: JSON.parse(lines.find((line) => line.startsWith('{'))),
  };
}

describe('the code cache start:prod runs the bundle with', () => {
  it('is written by the first start, used by the next ones and left alone by them', () => {
    const first = run();
    assert.equal(first.outcome, 'none');
    assert.deepEqual(first.report, {
      sum: 39800,
      file: app,
      dir,
      isModule: 'object',
      join: join('a', 'b'),
      text: 'café → ok', // not ASCII: read as UTF-8
    });
    assert.ok(existsSync(cache), 'no cache after the first start');
    const written = statSync(cache).mtimeMs;

    const second = run();
    assert.equal(second.outcome, 'used');
    assert.deepEqual(second.report, first.report);
    assert.equal(statSync(cache).mtimeMs, written, 'a usable cache was written again');
  });

  it('ignores a damaged cache, runs the file all the same and writes a good cache', () => {
    writeFileSync(cache, Buffer.alloc(4096, 7));
    const damaged = run();
    assert.equal(damaged.outcome, 'refused');
    assert.equal(damaged.report.sum, 39800);
    assert.notDeepEqual(readFileSync(cache), Buffer.alloc(4096, 7));
    assert.equal(run().outcome, 'used');
  });

  it('refuses a cache whose header is right but whose V8 data is damaged (V8 would not check it)', () => {
    const good = readFileSync(cache);
    const bad = Buffer.from(good);
    bad[bad.length - 100] ^= 0xff;
    writeFileSync(cache, bad);
    const damaged = run();
    assert.equal(damaged.outcome, 'refused');
    assert.equal(damaged.report.sum, 39800);
    assert.equal(run().outcome, 'used');
  });

  it('starts with the digest of what it was made for: the source, Node and the architecture', () => {
    const key = createHash('sha256')
      .update(readFileSync(app))
      .update(`\0${process.version}\0${process.arch}\0${Module.wrap('')}`)
      .digest();
    assert.deepEqual(readFileSync(cache).subarray(0, 32), key);
  });

  it('replaces a link planted at the cache name instead of writing through it', () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'untouched');
    rmSync(cache);
    symlinkSync(victim, cache);
    assert.equal(run().outcome, 'refused');
    assert.equal(readFileSync(victim, 'utf8'), 'untouched');
    assert.ok(!lstatSync(cache).isSymbolicLink(), 'the cache is still the planted link');
    assert.equal(run().outcome, 'used');
  });

  it('leaves no temporary files behind', () => {
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith('.tmp')),
      [],
    );
  });

  it('refuses a cache made for another version of the file', () => {
    writeFileSync(app, readFileSync(app, 'utf8').replace('let sum = 0;', 'let sum = 1;'));
    const changed = run();
    assert.equal(changed.outcome, 'refused');
    assert.equal(changed.report.sum, 39801);
    assert.equal(run().outcome, 'used');
  });
});

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';

const ROOT = join(import.meta.dirname, '..');

describe('npm run start:prod on a fresh clone (nothing built)', () => {
  // A copy of what a clone has before `npm run build`: package.json and scripts/, no dist/.
  const clone = mkdtempSync(join(tmpdir(), 'nta-fresh-clone-'));
  mkdirSync(join(clone, 'scripts'));
  copyFileSync(join(ROOT, 'package.json'), join(clone, 'package.json'));
  for (const script of ['preload.cjs', 'start-prod.cjs'])
    copyFileSync(join(ROOT, 'scripts', script), join(clone, 'scripts', script));
  afterAll(() => rmSync(clone, { recursive: true, force: true }));

  it('says to run `npm run build` first, in one line, and exits 1', () => {
    const run = spawnSync('npm', ['run', 'start:prod'], { cwd: clone, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'dist/main.js does not exist: run `npm run build` first (or `npm start`, which builds when needed)',
    ]);
    expect(run.stdout + run.stderr).not.toMatch(/Cannot find module|\n\s+at /);
  });
});

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { transformFile, type Options } from '@swc/core';

const ROOT = join(import.meta.dirname, '..', '..');
/** The options jest compiles with (jest.config.js reads the same file). */
const SWC_OPTIONS = JSON.parse(readFileSync(join(import.meta.dirname, 'swc-options.json'), 'utf8')) as Options;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/**
 * src/ compiled to JavaScript in a temp dir (with SWC, as jest does: about a second, where tsc
 * takes most of a minute), for tests that spawn an entry point as operators run it. The dir
 * links this checkout's node_modules. `cleanup` removes it.
 */
export async function compileSrc(): Promise<{ dir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nta-compiled-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await Promise.all(
    sources(join(ROOT, 'src')).map(async (file) => {
      const { code } = await transformFile(file, SWC_OPTIONS);
      const out = join(dir, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, code);
    }),
  );
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

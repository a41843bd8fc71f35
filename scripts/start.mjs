// `npm start` (and other entry points): compile when dist/ is missing or older than src/,
// then run the compiled entry (default dist/main.js) in this process.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const entry = process.argv[2] ?? 'dist/main.js';
const marker = 'dist/.tsbuildinfo';
const stale =
  !existsSync(entry) ||
  !existsSync(marker) ||
  newestMtime('src') > statSync(marker).mtimeMs ||
  statSync('tsconfig.build.json').mtimeMs > statSync(marker).mtimeMs;
if (stale) {
  console.error('Building (npm run build)…');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
await import(pathToFileURL(entry).href);

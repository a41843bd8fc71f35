// `npm start`: compile when dist/ is missing or older than src/, then serve dist/main.js.
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

const entry = 'dist/main.js';
const stale =
  !existsSync(entry) ||
  newestMtime('src') > statSync(entry).mtimeMs ||
  statSync('tsconfig.build.json').mtimeMs > statSync(entry).mtimeMs;
if (stale) {
  console.log('Building (npm run build)…');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
await import(pathToFileURL(entry).href);

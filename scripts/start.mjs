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

/** True when `output` is missing or older than anything under `sources` or the tsconfig. */
function stale(output, sources, tsconfig) {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return newestMtime(sources) > built || statSync(tsconfig).mtimeMs > built;
}

const tsc = (project) =>
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });

if (!existsSync(entry) || stale('dist/.tsbuildinfo', 'src', 'tsconfig.build.json')) {
  console.error('Building the server (tsc -p tsconfig.build.json)…');
  tsc('tsconfig.build.json');
}
if (stale('client/dist/auth-client.js', 'client/src', 'client/tsconfig.json')) {
  console.error('Building the client library (tsc -p client/tsconfig.json)…');
  tsc('client/tsconfig.json');
}
await import(pathToFileURL(entry).href);

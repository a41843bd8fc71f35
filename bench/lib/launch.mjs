// The node command `npm run start:prod` runs, read from package.json so the bench starts the app
// exactly as production does (V8 flags, the thread-pool preload, scripts/start-prod.cjs, which runs
// the bundle) and cannot drift from it.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

const TAKES_A_FILE = new Set(['-r', '--require', '--import']);

/** `node <nodeArgs> <entry>` of package.json's start:prod, its file paths resolved against `root`. */
export function productionLaunch(root) {
  const script = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts['start:prod'];
  const words = script.trim().split(/\s+/);
  if (words[0] !== 'node' || words.length < 2 || words.at(-1).startsWith('-')) {
    throw new Error(`start:prod is not a plain \`node [flags] <script>\` command: ${script}`);
  }
  const file = (word) => (isAbsolute(word) ? word : join(root, word));
  const nodeArgs = words.slice(1, -1).map((word, i, all) => (TAKES_A_FILE.has(all[i - 1]) ? file(word) : word));
  return { nodeArgs, entry: file(words.at(-1)) };
}

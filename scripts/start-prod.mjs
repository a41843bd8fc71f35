// `npm run start:prod`: serves dist/ as it is, never compiling (that is `npm start`). On a fresh
// clone, where nothing is built yet, say what to run instead of a module-not-found stack.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/main.js does not exist: run `npm run build` first (or `npm start`, which builds when needed)');
  process.exit(1);
}
await import(entry.href);

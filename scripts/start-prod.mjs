// `npm run start:prod`: serves dist/ as it is, never compiling (that is `npm start`). On a fresh
// clone, where nothing is built yet, say what to run instead of a module-not-found stack.
// Runs the bundle `npm run build` makes (scripts/bundle.mjs: starts in ~0.6x the time) unless
// the app was compiled again after it (`npm start` compiles but does not bundle).
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/main.js does not exist: run `npm run build` first (or `npm start`, which builds when needed)');
  process.exit(1);
}
const bundle = new URL('../dist/main.bundle.cjs', import.meta.url);
const compiled = new URL('../dist/.tsbuildinfo', import.meta.url);
const mtime = (url) => (existsSync(url) ? statSync(url).mtimeMs : 0);
const fresh = existsSync(bundle) && mtime(bundle) >= mtime(compiled);
if (fresh) {
  // The V8 flags the app sets first thing, set before the bundle is compiled: V8 refuses a code
  // cache made under other flags.
  await import('../dist/preamble.js');
  const { runWithCodeCache } = await import('./code-cache.mjs');
  runWithCodeCache(fileURLToPath(bundle), 'app:listening');
} else {
  if (existsSync(bundle)) {
    console.error(
      'dist/main.bundle.cjs is older than the compiled app: running dist/main.js (`npm run build` bundles it again)',
    );
  }
  await import(entry.href);
}

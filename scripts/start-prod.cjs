// `npm run start:prod`: serves dist/ as it is, never compiling (that is `npm start`). On a fresh
// clone, where nothing is built yet, say what to run instead of a module-not-found stack.
// Runs the bundle `npm run build` makes (scripts/bundle.mjs: starts in ~0.6x the time) unless
// the app was compiled again after it (`npm start` compiles but does not bundle).
//
// CommonJS, as is what it loads on the bundle's path: an ES module entry brings up Node's ES module
// loader first (~25-40 ms of a ~600 ms restart on the VM of README's Performance section).
'use strict';
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const dist = join(__dirname, '..', 'dist');
const entry = join(dist, 'main.js');
if (!existsSync(entry)) {
  console.error('dist/main.js does not exist: run `npm run build` first (or `npm start`, which builds when needed)');
  process.exit(1);
}
const bundle = join(dist, 'main.bundle.cjs');
const preamble = join(dist, 'preamble.cjs');
const mtime = (file) => (existsSync(file) ? statSync(file).mtimeMs : 0);
const compiledAt = mtime(join(dist, '.tsbuildinfo'));
const fresh =
  existsSync(bundle) && existsSync(preamble) && mtime(bundle) >= compiledAt && mtime(preamble) >= compiledAt;
if (fresh) {
  // The V8 flags the app sets first thing, set before the bundle is compiled: V8 refuses a code
  // cache made under other flags.
  require(preamble);
  require('./code-cache.cjs').runWithCodeCache(bundle, 'app:listening');
} else {
  if (existsSync(bundle)) {
    console.error(
      'dist/main.bundle.cjs is older than the compiled app: running dist/main.js (`npm run build` bundles it again)',
    );
  }
  import(pathToFileURL(entry).href).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

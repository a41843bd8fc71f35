// The last step of `npm run build`: dist/main.js and what it imports, in one file,
// dist/main.bundle.js, which `npm run start:prod` runs. Why: importing ~2,600 module files was
// ~2/3 of a start; one file restarts in ~0.6x the time (README, Performance, "Cold start").
//
// Left outside the bundle, imported from node_modules as before:
// - native addons and packages that read files next to themselves at run time;
// - TypeORM: it loads its drivers by computed names, and bundled too it started no faster
//   (restart 1.03x wall, 0.99x CPU, 8 interleaved rounds) in an 8.1 MB file instead of 5.3 MB;
// - pg and ioredis, loaded only when configured; pino, whose transports start worker files;
// - optional Nest and Fastify packages we do not install (imported in a try, like unbundled).
import { readFileSync, statSync, writeFileSync } from 'node:fs';

// A checkout whose node_modules predate the bundle still builds: start:prod then runs
// dist/main.js (test/hardening/bundle.hardening-test.mjs fails, so CI does not miss it).
const esbuild = await import('esbuild').catch((error) => {
  if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  console.error('esbuild is not installed (run `npm install`): not bundling; start:prod runs dist/main.js');
  process.exit(0);
});

const EXTERNAL = [
  'better-sqlite3',
  'argon2',
  'typeorm',
  'pg',
  'pg-native',
  'ioredis',
  'pino',
  'pino-pretty',
  'swagger-ui-dist',
  '@nestjs/microservices',
  '@nestjs/microservices/*',
  '@nestjs/websockets/*',
  '@nestjs/platform-express',
  '@fastify/multipart',
  '@fastify/view',
];

const outfile = 'dist/main.bundle.js';
await esbuild.build({
  entryPoints: ['dist/main.js'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Class names are Nest's log contexts and the OpenAPI schema names.
  keepNames: true,
  minifyWhitespace: true,
  minifySyntax: true,
  external: EXTERNAL,
  // The CommonJS dependencies inside call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// acorn (a devDependency, like esbuild) tokenizes the bundle to find its comments and regular expressions.
const ascii = await import('./ascii-only.mjs').catch((error) => {
  if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  console.error('acorn is not installed (run `npm install`): the bundle keeps its non-ASCII characters');
});
if (ascii) {
  const { code, left } = ascii.asciiOnly(readFileSync(outfile, 'utf8'));
  writeFileSync(outfile, code);
  if (left)
    console.error(`${outfile}: ${left} non-ASCII characters left: V8 holds its source at 2 bytes per character`);
}
console.error(`Bundled dist/main.js into ${outfile} (${(statSync(outfile).size / 1e6).toFixed(1)} MB)`);

// The last step of `npm run build`: dist/main.js and what it imports, in one CommonJS file,
// dist/main.bundle.cjs, which `npm run start:prod` runs with V8's code cache (scripts/code-cache.cjs).
// Why: importing ~2,600 module files was ~2/3 of a start; one file restarts in ~0.6x the time, and
// with the code cache ~0.75x of that again (README, Performance, "Cold start").
//
// Left outside the bundle, required from node_modules:
// - native addons and packages that read files next to themselves at run time;
// - database and Redis drivers (TypeORM loads them by computed names), loaded only when configured;
// - pino-pretty (development only, loaded when LOG_FORMAT=pretty);
// - optional Nest and Fastify packages we do not install (required in a try, like unbundled).
// pino is inside: we give it a destination and never a transport (the one part of pino that starts
// worker files by path), and outside, its ~45 files were ~10 % of a restart.
// TypeORM is inside: outside, or loaded a second time through @nestjs/typeorm (below), its ~300
// files cost ~9 % of a restart. Inside, it cannot load entities or migrations from file paths (its
// importOrRequireFile builds an import() that a vm.Script cannot run): they are given as classes
// (src/database/entities.ts, src/database/migrations/index.ts), as they must stay.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { packageOf } from './package-of.mjs';

// The ES module bundle of earlier builds: a process manager still pointed at it would keep running
// the old code after an upgrade.
rmSync('dist/main.bundle.js', { force: true });
rmSync('dist/main.bundle.js.packages.json', { force: true });

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
  'pg',
  'pg-native',
  'ioredis',
  'pino-pretty',
  'swagger-ui-dist',
  '@nestjs/microservices',
  '@nestjs/microservices/*',
  '@nestjs/websockets/*',
  '@nestjs/platform-express',
  '@fastify/multipart',
  '@fastify/view',
];

// A package that loads a dependency through `createRequire(import.meta.url)` loads it from
// node_modules at run time, beside the copy in the bundle. @nestjs/mapped-types does so for
// class-validator and class-transformer (to copy their metadata in PickType/OmitType…): at every
// start that was a second class-validator, validator, libphonenumber-js and class-transformer,
// ~355 files to resolve, read and compile, and class-transformer metadata copied into a storage
// the bundle's ValidationPipe never reads; @nestjs/typeorm does so for TypeORM. Here their
// `require` serves the bundle's copies; any other name still goes to node_modules. If a new
// version changes the line, the build fails.
const CREATE_REQUIRE = 'const require = createRequire(import.meta.url);';
const BUNDLED_REQUIRES = [
  {
    file: /[\\/]@nestjs[\\/]mapped-types[\\/]dist[\\/]type-helpers\.utils\.js$/,
    modules: ['class-validator', 'class-transformer', 'class-transformer/cjs/storage'],
  },
  {
    file: /[\\/]@nestjs[\\/]typeorm[\\/]dist[\\/]common[\\/]typeorm-compat\.js$/,
    modules: ['typeorm'],
  },
];
const bundledRequires = {
  name: 'bundled-requires',
  setup(build) {
    for (const { file, modules } of BUNDLED_REQUIRES) {
      build.onLoad({ filter: file }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes(CREATE_REQUIRE)) {
          throw new Error(`${args.path} no longer has \`${CREATE_REQUIRE}\`: update scripts/bundle.mjs`);
        }
        const imports = modules.map((name, i) => `import * as __bundled${i} from '${name}';`).join(' ');
        const table = modules.map((name, i) => `'${name}': __bundled${i}`).join(', ');
        const served =
          `${imports} const __nodeRequire = createRequire(import.meta.url); const __bundled = { ${table} }; ` +
          'const require = (name) => (Object.hasOwn(__bundled, name) ? __bundled[name] : __nodeRequire(name));';
        return { contents: text.replace(CREATE_REQUIRE, served), loader: 'js' };
      });
    }
  },
};

const outfile = 'dist/main.bundle.cjs';
const options = {
  entryPoints: ['dist/main.js'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // import() in a vm.Script needs a flag Node 20 marks experimental (--experimental-vm-modules, or
  // a warning at every start): esbuild writes it as a require() in a promise instead. What is
  // imported this way at run time (ioredis, optional Nest packages) is CommonJS.
  supported: { 'dynamic-import': false },
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: EXTERNAL,
  // CommonJS, not an ES module: only a script can be compiled with V8's code cache on Node 20
  // (vm.Script; scripts/start-prod.cjs). The ES modules inside read import.meta: here it describes
  // the bundle file, as it did when the bundle was an ES module itself.
  define: {
    'import.meta.url': '__bundleUrl',
    'import.meta.filename': '__filename',
    'import.meta.dirname': '__dirname',
    'import.meta.resolve': '__bundleResolve',
  },
  banner: {
    // "use strict" first, as in the ES module bundle before: everything inside was strict code.
    js: "'use strict'; var __bundleUrl = require('node:url').pathToFileURL(__filename).href; var __bundleResolve = (name) => require('node:url').pathToFileURL(require.resolve(name)).href;",
  },
  plugins: [bundledRequires],
  logLevel: 'warning',
  write: false,
};
// Class names are Nest's log contexts and module names, TypeORM's entity names and the OpenAPI
// schema names, and esbuild renames a class whose name another module in the bundle's one scope
// uses too (our `Session` entity became `Session2`, `AppModule` `AppModule2`) or whose own name it
// drops (`ConfigModule = ConfigModule_1 = class {}`). keepNames restores every name, but of
// functions too, with a call that redefines `name` on each closure as it is created: closures
// made per request paid it on every request (GET /auth/me: 82 vs 57.5 µs of CPU, interleaved;
// unbundled 74). So the bundle is built without it, and the classes whose name would differ get
// it back from a static block (run once, when the class is defined, before its decorators read
// it), as keepNames writes it. A first build with keepNames says what each class's name is.
const [named] = (await esbuild.build({ ...options, keepNames: true })).outputFiles;
const built = await esbuild.build({ ...options, metafile: true });
const [bundle] = built.outputFiles;
// The packages inside, for test/hardening/bundle.hardening-test.mjs: none of them may also be
// loaded from node_modules at run time.
const inside = Object.keys(built.metafile.inputs).filter((input) => input.includes('node_modules/'));
writeFileSync(`${outfile}.packages.json`, `${JSON.stringify([...new Set(inside.map(packageOf))].sort(), null, 1)}\n`);
const names = await import('./class-names.mjs').catch((error) => {
  if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  console.error('acorn is not installed (run `npm install`): bundling with esbuild keepNames (slower per request)');
});
writeFileSync(outfile, names ? names.restoreClassNames(bundle.text, named.text) : named.text);

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
// The V8 flags the app sets first (src/preamble.ts), as CommonJS for scripts/start-prod.cjs, which
// sets them before compiling the bundle and loads no ES module on the way.
await esbuild.build({
  entryPoints: ['dist/preamble.js'],
  outfile: 'dist/preamble.cjs',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
console.error(`Bundled dist/main.js into ${outfile} (${(statSync(outfile).size / 1e6).toFixed(1)} MB)`);

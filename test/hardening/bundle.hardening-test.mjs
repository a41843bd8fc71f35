// The bundle `npm run build` makes (scripts/bundle.mjs), which `npm run start:prod` runs, against
// the unbundled dist/main.js it is made from: the same OpenAPI document (class names kept), the
// same answers, and no second copy of a package loaded at run time (a dependency that imports a
// package by a computed name, like terminus's health indicator did, loads it from node_modules
// beside the bundled one: +36 MB and 220 ms on the first /health; @nestjs/mapped-types'
// createRequire loaded a second class-validator, validator, libphonenumber-js and class-transformer
// at every start: ~355 files, ~10 % of a restart).
import * as acorn from 'acorn';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from '../../bench/lib/http.mjs';
import { walk } from '../../scripts/class-names.mjs';
import { packageOf } from '../../scripts/package-of.mjs';
import { freePort, spawnChild, stopChild } from '../../bench/lib/proc.mjs';

const file = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const PRELOAD = file('scripts/preload.cjs');
const LOADED_PACKAGES = file('test/hardening/fixtures/loaded-packages.cjs');
const PASS_THROUGH = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rssMB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]) / 1024;

const started = [];
after(async () => {
  for (const app of started) {
    await stopChild(app.child);
    rmSync(app.dir, { recursive: true, force: true });
  }
});

/** Starts `script` (after the production preload) on a new SQLite file; resolves once /health answers 200. */
async function start(script) {
  const dir = mkdtempSync(join(tmpdir(), 'nta-bundle-'));
  const port = await freePort();
  const env = Object.fromEntries(PASS_THROUGH.filter((k) => process.env[k]).map((k) => [k, process.env[k]]));
  Object.assign(env, {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: `sqlite:${join(dir, 'auth.sqlite')}`,
    JWT_ISSUER: 'http://127.0.0.1',
    COOKIE_SECURE: 'false',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    // Nest's debug lines name every module class: the bundle must keep the names esbuild renamed.
    LOG_LEVEL: 'debug',
  });
  env.LOADED_PACKAGES_FILE = join(dir, 'loaded-packages.json');
  const child = spawnChild(process.execPath, ['-r', PRELOAD, '-r', LOADED_PACKAGES, script], {
    cwd: dir,
    env,
    logFile: join(dir, 'app.log'),
  });
  const app = { child, dir, baseUrl: `http://127.0.0.1:${port}` };
  started.push(app);
  for (let waited = 0; ; waited += 20) {
    if (child.exitInfo) throw new Error(`${script} exited: ${child.lastOutput(10).join('\n')}`);
    if (waited > 60_000) throw new Error(`${script} did not start within 60 s`);
    const res = await request(app.baseUrl, { path: '/.well-known/jwks.json', timeoutMs: 1000 }).catch(() => undefined);
    if (res?.status === 200) return app;
    await sleep(20);
  }
}

const get = (app, path, headers = {}) => request(app.baseUrl, { path, headers });
const post = (app, path, body) =>
  request(app.baseUrl, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the bundled build (npm run start:prod)', () => {
  it('is there and newer than the compiled app, so start:prod runs it', () => {
    assert.ok(existsSync(file('dist/main.bundle.cjs')), 'dist/main.bundle.cjs is missing: run `npm run build`');
    assert.ok(statSync(file('dist/main.bundle.cjs')).mtimeMs >= statSync(file('dist/.tsbuildinfo')).mtimeMs);
    // The ES module bundle of earlier builds is gone, so nothing can keep running it after an upgrade.
    assert.ok(!existsSync(file('dist/main.bundle.js')), 'dist/main.bundle.js is still there');
  });

  it('has no import() left: start:prod runs it as a vm.Script, where Node 20 cannot import() without a flag', () => {
    const found = [];
    walk(acorn.parse(readFileSync(file('dist/main.bundle.cjs'), 'utf8'), { ecmaVersion: 'latest' }), (node) => {
      if (node.type === 'ImportExpression') found.push(node.start);
    });
    assert.deepEqual(found, [], 'import() at these offsets of dist/main.bundle.cjs');
  });

  it('serves what dist/main.js serves, without loading a second copy of anything on the first /health', async () => {
    const [bundled, plain] = await Promise.all([start(file('scripts/start-prod.cjs')), start(file('dist/main.js'))]);

    const [docsBundled, docsPlain] = await Promise.all([get(bundled, '/docs-json'), get(plain, '/docs-json')]);
    assert.equal(docsBundled.status, 200);
    assert.equal(docsBundled.body, docsPlain.body, 'the OpenAPI documents differ (class names lost?)');
    for (const path of ['/docs', '/docs/swagger-ui.css', '/', '/vendor/bowser.mjs']) {
      assert.equal((await get(bundled, path)).status, 200, path);
    }

    const before = rssMB(bundled.child.pid);
    const health = await get(bundled, '/health');
    assert.equal(health.status, 200, health.body);
    assert.ok(rssMB(bundled.child.pid) - before < 15, 'the first /health grew RSS by 15 MB or more');

    // Class names: esbuild renames classes whose names collide in the bundle's one scope (our
    // Session entity, AppModule); scripts/bundle.mjs gives them back.
    const modules = (app) =>
      [...readFileSync(join(app.dir, 'app.log'), 'utf8').matchAll(/(\w+) dependencies initialized/g)]
        .map((m) => m[1])
        .sort();
    assert.ok(modules(plain).includes('AppModule'), "no module lines in the unbundled app's log");
    assert.deepEqual(modules(bundled), modules(plain), 'the modules are named differently in the bundle');

    const credentials = { username: 'alice', password: 'correct horse battery' };
    assert.equal((await post(bundled, '/auth/register', credentials)).status, 201);
    const login = await post(bundled, '/auth/login', credentials);
    assert.equal(login.status, 200, login.body);
    const me = await get(bundled, '/auth/me', { authorization: `Bearer ${JSON.parse(login.body).access_token}` });
    assert.equal(me.status, 200, me.body);
    assert.equal(JSON.parse(me.body).username, 'alice');
    const bad = await post(bundled, '/auth/register', { username: 1 });
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), JSON.parse((await post(plain, '/auth/register', { username: 1 })).body));

    // What the bundle still loads from node_modules are the packages scripts/bundle.mjs leaves
    // outside and their dependencies; nothing it holds itself.
    await stopChild(bundled.child);
    const loadedPaths = JSON.parse(readFileSync(join(bundled.dir, 'loaded-packages.json'), 'utf8'));
    const loaded = [...new Set(loadedPaths.map(packageOf))];
    assert.ok(loaded.includes('better-sqlite3'), `the record looks wrong: ${loaded}`);
    const inBundle = JSON.parse(readFileSync(file('dist/main.bundle.cjs.packages.json'), 'utf8'));
    assert.ok(inBundle.includes('@nestjs/core'), `the bundle's package list looks wrong: ${inBundle}`);
    const twice = loaded.filter((name) => inBundle.includes(name));
    assert.deepEqual(twice, [], 'packages loaded from node_modules beside their copy in the bundle');
  });
});

// Runs a CommonJS file (the bundle) with V8's code cache, which Node 20 offers only through
// vm.Script (Node 22's module.enableCompileCache() would do this for any module).
//
// Why: compiling the bundle was the largest single item of a restart under --cpu-prof (~230 ms of
// ~1.2 s on the 2-core VM of README's Performance section). V8 can save the bytecode of every
// function that ran, and a start that finds it skips parsing and compiling them.
//
// The cache is written once the app signals that it is listening (so it holds what start-up
// compiled), next to the file as `<file>.v8cache`: a new file with a random name, then a rename, so
// that instances starting together never read half a cache and nothing planted at a predictable
// name is followed. V8 checks its own version and the flags, but of the source only the length (it
// would run old bytecode for a new file of the same length), and on Node 20 it does not verify the
// cache's checksum. So the file starts with two SHA-256 digests: of what the cache was made for
// (the source, Node's version, the architecture) and of the cache itself; a cache is handed to V8
// only when both match, so a damaged or stale one is never run. A refused cache is written again.
// A directory that cannot be written (a read-only image) only means starting without a cache.
'use strict';
const { isAscii } = require('node:buffer');
const { createHash, randomBytes } = require('node:crypto');
const { accessSync, constants, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { createRequire, Module } = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

const DIGEST_BYTES = 32;
const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/**
 * Runs `file` as Node runs a CommonJS module, from its code cache when there is a usable one;
 * writes the cache when process emits `readyEvent`, if it had none or it was refused.
 * Returns 'used', 'refused' or 'none' (what became of the cache).
 */
function runWithCodeCache(file, readyEvent) {
  const cacheFile = `${file}.v8cache`;
  // Read as bytes: hashing them, and decoding them as Latin-1 when they are ASCII (as
  // scripts/bundle.mjs makes the bundle), cost half of decoding and hashing UTF-8 text.
  const bytes = readFileSync(file);
  const madeFor = sha256(bytes, `\0${process.version}\0${process.arch}\0${Module.wrap('')}`);
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  let saved;
  try {
    saved = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  const script = new Script(Module.wrap(source), {
    filename: file,
    cachedData: usable(saved, madeFor),
    // No importModuleDynamically: on Node 20 it needs --experimental-vm-modules, so `file` must not
    // use import() (scripts/bundle.mjs writes those as require()).
  });
  const outcome = saved === undefined ? 'none' : script.cachedDataRejected !== false ? 'refused' : 'used';
  if (outcome !== 'used' && writable(dirname(cacheFile))) {
    // In a turn of its own, after the code that announced the app is listening has run.
    process.once(readyEvent, () => setImmediate(() => writeCache(script, madeFor, cacheFile)));
  }

  const bundleModule = { exports: {}, filename: file, id: file };
  const wrapper = script.runInThisContext();
  wrapper.call(bundleModule.exports, bundleModule.exports, createRequire(file), bundleModule, file, dirname(file));
  return outcome;
}

/** The V8 data of a saved cache when it was made for this source and is whole, else undefined. */
function usable(saved, madeFor) {
  if (!saved || saved.length <= 2 * DIGEST_BYTES) return undefined;
  const data = saved.subarray(2 * DIGEST_BYTES);
  const intact = saved.subarray(DIGEST_BYTES, 2 * DIGEST_BYTES).equals(sha256(data));
  return saved.subarray(0, DIGEST_BYTES).equals(madeFor) && intact ? data : undefined;
}

function writable(directory) {
  try {
    accessSync(directory, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function writeCache(script, madeFor, cacheFile) {
  const temporary = `${cacheFile}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const data = script.createCachedData();
    // 'wx': a new file, never one that is already there (or a link planted under that name).
    writeFileSync(temporary, Buffer.concat([madeFor, sha256(data), data]), { flag: 'wx', mode: 0o644 });
    renameSync(temporary, cacheFile);
  } catch (error) {
    // EEXIST: that name was not ours to remove.
    if (error.code !== 'EEXIST') rmSync(temporary, { force: true });
  }
}

module.exports = { runWithCodeCache };

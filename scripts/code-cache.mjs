// Runs a CommonJS file (the bundle) with V8's code cache, which Node 20 offers only through
// vm.Script (Node 22's module.enableCompileCache() would do this for any module).
//
// Why: compiling the 3.4 MB bundle was the largest single item of a restart under --cpu-prof
// (~230 ms of ~1.2 s on the 2-core VM of README's Performance section). V8 can save the bytecode of
// every function that ran, and a start that finds it skips parsing and compiling them.
//
// The cache is written once the app signals that it is listening (so it holds what start-up
// compiled), next to the file as `<file>.v8cache`, through a temporary file and a rename, so that
// instances starting together never read half a cache. V8 checks a cache before using it (its own
// version, the flags, a checksum) and refuses one that does not match; of the source it checks only
// the length, and would run the old bytecode for a new file of the same length. So the cache starts
// with the SHA-256 of the source it was made from, and is not handed to V8 unless that matches.
// A refused cache is written again. A directory that cannot be written (a read-only image) only
// means starting without a cache.
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/**
 * Runs `file` as Node runs a CommonJS module, from its code cache when there is a usable one;
 * writes the cache when process emits `readyEvent`, if it had none or V8 refused it.
 * Returns 'used', 'refused' or 'none' (what became of the cache).
 */
export function runWithCodeCache(file, readyEvent) {
  const cacheFile = `${file}.v8cache`;
  // Read as bytes: hashing them, and decoding them as Latin-1 when they are ASCII (as
  // scripts/bundle.mjs makes the bundle), cost half of decoding and hashing UTF-8 text.
  const bytes = readFileSync(file);
  const digest = createHash('sha256').update(bytes).digest();
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  let saved;
  try {
    saved = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  const cachedData = saved?.subarray(0, digest.length).equals(digest) ? saved.subarray(digest.length) : undefined;
  const script = new Script(Module.wrap(source), {
    filename: file,
    cachedData,
    // No importModuleDynamically: on Node 20 it needs --experimental-vm-modules, so `file` must not
    // use import() (scripts/bundle.mjs writes those as require()).
  });
  const outcome = saved === undefined ? 'none' : !cachedData || script.cachedDataRejected ? 'refused' : 'used';
  if (outcome !== 'used') process.once(readyEvent, () => writeCache(script, digest, cacheFile));

  const module = { exports: {}, filename: file, id: file };
  const wrapper = script.runInThisContext();
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return outcome;
}

function writeCache(script, digest, cacheFile) {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, Buffer.concat([digest, script.createCachedData()]));
    renameSync(temporary, cacheFile);
  } catch {
    rmSync(temporary, { force: true });
  }
}

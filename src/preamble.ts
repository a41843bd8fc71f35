import v8 from 'node:v8';

// Imported first by the entry points. (The thread-pool size cannot be set from here: by the time
// an ES module runs, the pool has started. scripts/preload.cjs sets it.)

// V8 lets the old generation grow by up to 4x between major collections when a server allocates
// fast: under a /auth/me storm that took the heap from ~45 MB live to ~170 MB. Growing by at most
// 50 % at a time: bench peak RSS 319 → 214 MB, req/s within the run-to-run noise (20 % saved
// 10 MB more but cost refreshes ~5 %; README, Performance). V8 reads the flag at every
// collection, so setting it here, after start, still applies. An explicit flag wins.
if (
  !/--heap-growing-percent/.test(process.env.NODE_OPTIONS ?? '') &&
  !process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))
) {
  v8.setFlagsFromString('--heap-growing-percent=50');
}

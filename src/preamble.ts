import v8 from 'node:v8';

// Imported first by the entry points. (The thread-pool size cannot be set from here: by the time
// an ES module runs, the pool has started. scripts/preload.cjs sets it.) V8 reads the flags below
// when it collects or allocates, not at start-up only, so setting them here still applies.
// Either can be overridden with an explicit flag (NODE_OPTIONS or the node command line).
const explicit = (flag: string) =>
  (process.env.NODE_OPTIONS ?? '').includes(flag) || process.execArgv.some((arg) => arg.includes(flag));

// V8 lets the old generation grow by up to 4x between major collections when a server allocates
// fast: under a /auth/me storm that took the heap from ~45 MB live to ~170 MB. Growing by at most
// 50 % at a time: bench peak RSS 319 → 214 MB, req/s within the run-to-run noise (20 % saved
// 10 MB more but cost refreshes ~5 %; README, Performance).
if (!explicit('heap-growing-percent')) v8.setFlagsFromString('--heap-growing-percent=50');

// Allocation-site pretenuring: V8 notices that objects from an allocation site survived the young
// generation (as nearly everything does while the app starts) and from then on allocates that
// site's objects straight in the old generation. Some of those sites then build the per-request
// objects of /auth/me: dead at once, but from the old generation they point at young objects, so
// every scavenge kept ~2.2 MB alive and promoted it, and the old generation filled up again every
// ~0.6 s. A process warmed by other traffic first had V8 revise the decision; one that met only
// /auth/me never did (issue 15). Measured, same run, fresh start, /auth/me only: 27 % → 47 % of the
// bare node:http ceiling, GC pauses 26 % → 6.5 % of the app's CPU, peak RSS 214 → 192 MB, and
// now level with a process warmed by mixed traffic (46 %).
if (!explicit('allocation-site-pretenuring')) v8.setFlagsFromString('--no-allocation-site-pretenuring');

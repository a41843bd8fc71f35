import { availableParallelism } from 'node:os';
import v8 from 'node:v8';

// Imported first by the entry points, before anything touches libuv's thread pool. argon2 hashes
// there, each with 19 MiB of memory: more hashing threads than cores adds memory, not speed.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));

// V8 lets the old generation grow by up to 4x between major collections when a server allocates
// fast: under a /auth/me storm that took the heap from ~45 MB live to ~170 MB (RSS ~300 MB).
// Growing by 20 % at a time keeps RSS under ~200 MB at no measurable throughput cost (README,
// Performance). Read by V8 at every collection, so setting it here, at start, still applies.
if (!/--heap-growing-percent/.test(process.env.NODE_OPTIONS ?? '') && !process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) {
  v8.setFlagsFromString('--heap-growing-percent=20');
}

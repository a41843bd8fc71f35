// Process settings that must be in place before Node loads the app: `node -r ./scripts/preload.cjs`.
// `npm start` and `npm run start:prod` use it, and so does the benchmark.
//
// Why a CommonJS `-r` preload and not a line in the app: libuv reads UV_THREADPOOL_SIZE once, when
// its thread pool starts, and the ESM loader (ours, and any `--import` preload) starts the pool
// while reading the first module files. By the time the app's first line runs, the pool has its
// default 4 threads. `-r` modules run before the ESM loader, so a size set here still counts.
//
// Why cores: argon2 hashes on that pool with 19 MiB each, and glibc keeps each thread's buffer
// after the hash. 4 threads on 2 cores hash no faster than 2, but keep 76 MiB instead of 38 MiB
// (measured here: RSS after a login storm 231 → 192 MB, logins/s unchanged). The app runs at
// most one hash per thread (src/users/password-hash.queue.ts) and signs access tokens on the
// event loop while all of them are hashing, so signatures never queue behind hashes.
const { availableParallelism } = require('node:os');

process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));

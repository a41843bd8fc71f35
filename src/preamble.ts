import { availableParallelism } from 'node:os';

// Imported first by the entry points, before anything touches libuv's thread pool. argon2 hashes
// there, each with 19 MiB of memory: more hashing threads than cores adds memory, not speed.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));

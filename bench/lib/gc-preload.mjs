// Preloaded into the app by the soak (NODE_OPTIONS="--expose-gc --import <this file>", with
// SOAK_GC=1 and the IPC channel that bench/lib/app.mjs opens). On { type: 'soak:gc', id } it runs
// a full garbage collection and answers with process.memoryUsage() before and after.
//
// Why: under steady load the app's RSS is a saw-tooth (the old generation grows for a minute or
// so, then a major GC gives memory back), with an amplitude larger than the 20 % growth the soak
// fails on. RSS right after a full GC is what the process really keeps, so growth of that is a
// leak and not a point on the saw-tooth. The pause happens once per 30 s window.
import { performance } from 'node:perf_hooks';

if (process.env.SOAK_GC === '1' && typeof process.send === 'function' && typeof globalThis.gc === 'function') {
  process.on('message', (message) => {
    if (message?.type !== 'soak:gc') return;
    const before = process.memoryUsage();
    const t0 = performance.now();
    globalThis.gc();
    const gcMs = performance.now() - t0;
    // Let freed pages go back to the OS before reading RSS again.
    setImmediate(() => process.send({ type: 'soak:gc', id: message.id, gcMs, before, after: process.memoryUsage() }));
  });
  process.channel?.unref();
}

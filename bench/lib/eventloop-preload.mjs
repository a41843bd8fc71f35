// Preloaded into the app under benchmark: `node --import <this file> dist/main.js`, spawned by
// the bench with an IPC channel and BENCH_EVENT_LOOP=1. Measures the app's own event-loop delay
// with monitorEventLoopDelay({ resolution: 10 }). When the bench sends { type: 'bench:eld', id },
// it answers with what it saw since the previous request (or since start) and resets.
//
// Why IPC and not a signal: Nest's enableShutdownHooks() with no arguments listens to SIGUSR2
// (and SIGHUP, SIGINT, SIGTERM, …) and shuts the app down on it; SIGUSR1 starts the inspector.
//
// With BENCH_GC=1 it also sums the garbage collector's pauses (perf_hooks 'gc' entries: time the
// main thread stood still for a scavenge, a mark-compact's final pause, …) per kind, since the
// previous request, and reports them with the event-loop delay, so the bench can say what share
// of the app's CPU went to GC. Off by default: one more observer is not what production runs.
//
// It writes nothing to stdout and keeps nothing alive (the histogram timer and the IPC channel
// are unref'd), so the app starts, runs and shuts down as it does in production.
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

if (process.env.BENCH_EVENT_LOOP === '1' && typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let since = Date.now();
  const ms = (ns) => (histogram.count && Number.isFinite(ns) ? ns / 1e6 : 0);
  const gc = process.env.BENCH_GC === '1' ? gcTotals() : undefined;

  process.on('message', (message) => {
    if (message?.type !== 'bench:eld') return;
    const now = Date.now();
    // Histogram values are the time between two timer ticks, so they include the resolution
    // interval itself; the bench subtracts RESOLUTION_MS to get the delay.
    const report = {
      type: 'bench:eld',
      id: message.id,
      windowMs: now - since,
      resolutionMs: RESOLUTION_MS,
      count: histogram.count,
      rawMaxMs: ms(histogram.max),
      rawP99Ms: ms(histogram.percentile(99)),
      rawP50Ms: ms(histogram.percentile(50)),
      rawMeanMs: ms(histogram.mean),
      gc: gc?.take(),
    };
    histogram.reset();
    since = now;
    process.send(report);
  });
  // If the bench dies without stopping us (kill -9), shut down like on SIGTERM instead of lingering.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel?.unref();
}

/** Sums GC pauses by kind; take() returns { pauseMs, count, byKind: { scavenge: { ms, count }, … } } and resets. */
function gcTotals() {
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'markCompact',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakCallbacks',
  };
  let totals = {};
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = kinds[entry.detail?.kind] ?? 'other';
      const t = (totals[kind] ??= { ms: 0, count: 0 });
      t.ms += entry.duration;
      t.count++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    take() {
      const byKind = totals;
      totals = {};
      const all = Object.values(byKind);
      return {
        pauseMs: all.reduce((sum, t) => sum + t.ms, 0),
        count: all.reduce((sum, t) => sum + t.count, 0),
        byKind,
        heapUsedBytes: process.memoryUsage().heapUsed,
      };
    },
  };
}

// Preloaded into the app under benchmark: `node --import <this file> dist/main.js`, spawned by
// the bench with an IPC channel and BENCH_EVENT_LOOP=1. Measures the app's own event-loop delay
// with monitorEventLoopDelay({ resolution: 10 }). When the bench sends { type: 'bench:eld', id },
// it answers with what it saw since the previous request (or since start) and resets.
//
// Why IPC and not a signal: Nest's enableShutdownHooks() with no arguments listens to SIGUSR2
// (and SIGHUP, SIGINT, SIGTERM, …) and shuts the app down on it; SIGUSR1 starts the inspector.
//
// It writes nothing to stdout and keeps nothing alive (the histogram timer and the IPC channel
// are unref'd), so the app starts, runs and shuts down as it does in production.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

if (process.env.BENCH_EVENT_LOOP === '1' && typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let since = Date.now();
  const ms = (ns) => (histogram.count && Number.isFinite(ns) ? ns / 1e6 : 0);

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
    };
    histogram.reset();
    since = now;
    process.send(report);
  });
  // If the bench dies without stopping us (kill -9), shut down like on SIGTERM instead of lingering.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel?.unref();
}

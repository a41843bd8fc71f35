import type { ServerResponse } from 'node:http';

/**
 * At most this many refusals are held at once. What it bounds is memory (a timer and the reply
 * per held refusal), not sockets: the client decides how long its connection lives either way.
 */
export const MAX_HELD_REFUSALS = 1000;

/**
 * What became of a refusal: `held` (it will be sent later), `full` (MAX_HELD_REFUSALS are held
 * already: send it now and close the connection, so a client with more connections than that has
 * to reconnect for every extra answer), `skipped` (no delay configured, or the client is gone).
 */
export type HoldOutcome = 'held' | 'full' | 'skipped';

/**
 * Holds throttled refusals (429, and 503 with Retry-After: "come back later") for
 * THROTTLED_REPLY_DELAY before sending them, as a tarpit does. A flooding client that sends its
 * next request as soon as an answer arrives would otherwise turn our cheap refusals into thousands
 * of requests a second, and every other client's request would queue behind them on the event
 * loop (measured: another user's refresh at 58–75 ms p50 during a 256-connection register + login
 * flood, 3–5 ms with a 1 s hold). A held refusal costs a timer, not CPU. It is never held longer
 * than the Retry-After it carries, which a well-behaved client waits anyway.
 */
export class RefusalDelay {
  private readonly held = new Set<() => void>();

  constructor(
    private readonly delayMs: number,
    private readonly maxHeld = MAX_HELD_REFUSALS,
  ) {}

  /** A refusal a throttle or a full queue gave: 429, or 503 telling the client when to retry. */
  static isRefusal(statusCode: number, retryAfter: unknown): boolean {
    return statusCode === 429 || (statusCode === 503 && retryAfter !== undefined);
  }

  /** Refusals held right now. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Schedules `send` after the delay (at most `retryAfter` seconds), or as soon as the connection
   * closes (nobody is waiting any more). Unless the outcome is `held`, `send` is not called and
   * the caller sends the reply now.
   */
  hold(response: ServerResponse, retryAfter: unknown, send: () => void): HoldOutcome {
    if (this.delayMs <= 0 || response.destroyed || !response.socket || response.socket.destroyed) return 'skipped';
    if (this.held.size >= this.maxHeld) return 'full';
    const retryAfterMs = Number(retryAfter) * 1000;
    const delayMs = retryAfterMs > 0 ? Math.min(this.delayMs, retryAfterMs) : this.delayMs;
    const release = () => {
      if (!this.held.delete(release)) return;
      clearTimeout(timer);
      response.off('close', release);
      send();
    };
    const timer = setTimeout(release, delayMs);
    response.once('close', release);
    this.held.add(release);
    return 'held';
  }

  /** Sends every held refusal now (the server is shutting down). */
  releaseAll(): void {
    for (const release of [...this.held]) release();
  }
}

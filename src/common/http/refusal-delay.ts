import type { ServerResponse } from 'node:http';

/**
 * At most this many refusals are held at once. Each holds its connection (a file descriptor), so a
 * client that opens a new connection per request and never waits must not be able to make us keep
 * more than this open; beyond it, refusals are answered at once.
 */
export const MAX_HELD_REFUSALS = 1000;

/**
 * Holds throttled refusals (429, and 503 with Retry-After: "come back later") for
 * THROTTLED_REPLY_DELAY before sending them, as a tarpit does. A flooding client that sends its
 * next request as soon as an answer arrives would otherwise turn our cheap refusals into thousands
 * of requests a second, and every other client's request would queue behind them on the event
 * loop (measured: another user's refresh at 75 ms p50 during a 256-connection register + login
 * flood, 3 ms with a 1 s hold). A held refusal costs a timer, not CPU; a client that honours
 * Retry-After waits longer than the hold anyway.
 */
export class RefusalDelay {
  private held = 0;

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
    return this.held;
  }

  /**
   * Schedules `send` after the delay, or as soon as the connection closes (nobody is waiting any
   * more); returns false, without calling it, when the reply is not held (no delay configured, or
   * MAX_HELD_REFUSALS already held) and the caller sends it now.
   */
  hold(response: ServerResponse, send: () => void): boolean {
    if (this.delayMs <= 0 || this.held >= this.maxHeld) return false;
    this.held += 1;
    const release = () => {
      clearTimeout(timer);
      response.off('close', release);
      this.held -= 1;
      send();
    };
    const timer = setTimeout(release, this.delayMs);
    response.once('close', release);
    return true;
  }
}

/** Most row keys remembered; past it the memory starts over (a spray of usernames must not grow it). */
const MAX_ROWS = 10_000;
/** Most (row, source) pairs remembered; past it the memory starts over (a spray of addresses must not grow it). */
const MAX_SOURCES = 50_000;
/** How long repeats are counted in memory before they are added to their rows. */
export const REPEAT_FLUSH_MS = 1000;

/**
 * Counts repeats of repeatable audit events in memory and hands them to `flush` about once a
 * second, so a flood of refusals costs one database write per row and second instead of one per
 * request. Only rows this process has already written are counted here (the first occurrence is
 * always written at once); a crash loses at most the last second's count, never an event.
 */
export class RepeatBuffer {
  /** Request key (type, username or session, scope) → the row it counts on (the username's, the no-account row, or the session's own). */
  private readonly rows = new Map<string, string>();
  /** `row key \n source` of sources already listed on their row (or found not to fit). */
  private readonly sources = new Set<string>();
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly flush: (counts: Map<string, number>) => Promise<void>) {}

  /** The row a request key was written to before, if this process wrote it. */
  rowOf(requestKey: string): string | undefined {
    return this.rows.get(requestKey);
  }

  remember(requestKey: string, rowKey: string): void {
    if (this.rows.size >= MAX_ROWS) this.rows.clear();
    this.rows.set(requestKey, rowKey);
  }

  /** True when this process listed `source` on the row before: no query needed. */
  knowsSource(rowKey: string, source: string): boolean {
    return this.sources.has(`${rowKey}\n${source}`);
  }

  rememberSource(rowKey: string, source: string): void {
    if (this.sources.size >= MAX_SOURCES) this.sources.clear();
    this.sources.add(`${rowKey}\n${source}`);
  }

  count(rowKey: string): void {
    this.pending.set(rowKey, (this.pending.get(rowKey) ?? 0) + 1);
    this.timer ??= setTimeout(() => void this.drain(), REPEAT_FLUSH_MS).unref();
  }

  /** Writes what is pending now (before reading the log, and at shutdown). */
  drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const counts = this.pending;
    this.pending = new Map();
    // One flush at a time, in order.
    this.flushing = this.flushing.then(() => (counts.size ? this.flush(counts) : undefined));
    return this.flushing;
  }
}

/** What the auth server said about a token: active (naming whose it is) or not. */
export type Introspection =
  { active: true; sub: string | undefined; sid: string | undefined; username: string | undefined } | { active: false };

interface Entry {
  startedAt: number;
  answer: Promise<Introspection>;
}

/**
 * At most one introspection call per token per second, however many requests carry it: callers
 * within the second share the call (its answer, or its failure). Keyed by the exact token string
 * and bounded: past `maxEntries`, calls older than the window go first, then the oldest.
 */
export class IntrospectionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly introspect: (token: string) => Promise<Introspection>,
    private readonly maxEntries: number,
    private readonly windowMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  check(token: string): Promise<Introspection> {
    const now = this.now();
    const known = this.entries.get(token);
    if (known && now - known.startedAt < this.windowMs) return known.answer;
    if (known) this.entries.delete(token);
    const answer = this.introspect(token);
    // The cached promise may be rejected with no one left to await it.
    answer.catch(() => {});
    this.makeRoom(now);
    this.entries.set(token, { startedAt: now, answer });
    return answer;
  }

  get size(): number {
    return this.entries.size;
  }

  private makeRoom(now: number): void {
    if (this.entries.size < this.maxEntries) return;
    for (const [token, entry] of this.entries) if (now - entry.startedAt >= this.windowMs) this.entries.delete(token);
    // Map order is insertion order: the first key is the oldest call.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

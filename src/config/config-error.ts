/**
 * Thrown for bad environment variables. `problems` holds one line per bad variable (all of them,
 * not just the first); the message is those lines joined, as printed at start-up.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const lines = typeof problems === 'string' ? [problems] : problems;
    super(lines.join('\n'));
    this.problems = lines;
  }
}

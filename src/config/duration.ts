const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration given as whole seconds (`900`) or with one unit (`30s`, `15m`, `1h`, `1d`).
 * Returns seconds, or undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d{1,10})\s*([smhd]?)\s*$/.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] || 's'];
  // Used as milliseconds too, so it must stay exact after * 1000.
  return Number.isSafeInteger(seconds * 1000) ? seconds : undefined;
}

// Latency summaries and the result table.

/** Percentile (nearest-rank) of an ascending-sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(latenciesMs) {
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

export function median(values) {
  return percentile(Float64Array.from(values).sort(), 50);
}

export const round = (value, digits = 1) =>
  Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : null;

export function fmt(value, unit = '', digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  if (typeof value === 'string') return value;
  const text = Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : String(round(value, digits));
  return unit ? `${text} ${unit}` : text;
}

export const pct = (ratio) => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)} %` : 'n/a');

/**
 * rows: [{ metric, value, baseline?, target, status }] or { section } separators. The baseline
 * column (the same metric in the accepted previous run) is shown when any row has one.
 */
export function renderTable(rows) {
  const head = { metric: 'metric', value: 'value', baseline: 'baseline', target: 'target', status: 'status' };
  const keys = rows.some((r) => r.baseline !== undefined)
    ? ['metric', 'value', 'baseline', 'target', 'status']
    : ['metric', 'value', 'target', 'status'];
  const right = new Set(['value', 'baseline']);
  const cells = rows.map((r) => (r.section ? { metric: `— ${r.section}` } : r));
  const w = Object.fromEntries(
    keys.map((key) => [key, Math.max(head[key].length, ...cells.map((r) => String(r[key] ?? '').length))]),
  );
  const line = (r) =>
    `| ${keys.map((k) => (right.has(k) ? String(r[k] ?? '').padStart(w[k]) : String(r[k] ?? '').padEnd(w[k]))).join(' | ')} |`;
  const rule = `|${keys.map((k) => '-'.repeat(w[k] + 2)).join('|')}|`;
  const out = [line(head), rule];
  for (const r of cells) out.push(line(r));
  return out.join('\n');
}

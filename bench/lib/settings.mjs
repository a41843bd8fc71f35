// Settings of the bench and the soak, read from the environment.

/** A positive number from env variable `name`, or `fallback` when unset; exits 2 on anything else. */
export function positiveNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

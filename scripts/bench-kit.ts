/** What the benchmark scripts share: their command-line options and percentiles. */

/** The value after `--name`, or the fallback. */
export function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** A positive number option; anything else stops the script with a message naming the option. */
export function numberArg(name: string, fallback: number): number {
  const raw = stringArg(name, String(fallback));
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number (got "${raw}"); see --help`);
    process.exit(2);
  }
  return value;
}

/** A comma-separated list of positive integers, e.g. `--callers 1,16`. */
export function numberListArg(name: string, fallback: number[]): number[] {
  const raw = stringArg(name, fallback.join(','));
  const values = raw.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) {
    console.error(`${name} must be positive whole numbers separated by commas (got "${raw}"); see --help`);
    process.exit(2);
  }
  return values;
}

/** The p-th percentile of `values` (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

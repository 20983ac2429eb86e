/** How the benchmarks report: percentiles of sorted samples, and the figures table before the JSON line. */

/** The q-quantile (0..1) of `sorted` (ascending), nearest-rank; 0 for no samples. */
export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Prints rows of [figure, value] or [figure, value, target] as an aligned table. */
export function printFigures(rows: ReadonlyArray<readonly [string, string, string?]>): void {
  const withTarget = rows.some((r) => r[2] !== undefined);
  process.stdout.write(`\n${'figure'.padEnd(26)}${'value'.padStart(10)}${withTarget ? '  target' : ''}\n`);
  for (const [name, v, target] of rows) process.stdout.write(`${name.padEnd(26)}${v.padStart(10)}${withTarget ? `  ${target ?? ''}` : ''}\n`);
}

/** What the benchmarks' command lines share: a whole-number option checked, or the usage and exit 2. */

/** `value` (the option `--name`) as a whole number ≥ `min`; otherwise prints why and `usage`, and exits 2. */
export function wholeOption(value: unknown, name: string, min: number, usage: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be a whole number ≥ ${min}\n\n${usage}`);
    process.exit(2);
  }
  return n;
}

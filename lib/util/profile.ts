/**
 * Wall-time spans for profiling (issue 24): `MADFORMER_PROFILE=1` makes every
 * {@linkcode span} add its time to a named total, printed to stderr as the process ends (and
 * readable with {@linkcode profileTotals}). Off, a span is a plain call.
 *
 * @module
 */

interface Total {
  ms: number;
  calls: number;
}

const totals = new Map<string, Total>();
let enabled = (() => {
  try {
    return Boolean(Deno.env.get("MADFORMER_PROFILE"));
  } catch {
    return false;
  }
})();
let reporting = false;

/** Turns span timing on or off in this process (the environment variable sets the start). */
export function setProfiling(on: boolean): void {
  enabled = on;
}

/** Runs `fn`, adding its wall time to the total of `name` when profiling is on. */
export function span<T>(name: string, fn: () => T): T {
  if (!enabled) return fn();
  if (!reporting) {
    reporting = true;
    globalThis.addEventListener("unload", () => console.error(profileReport()));
  }
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const total = totals.get(name) ?? { ms: 0, calls: 0 };
    total.ms += performance.now() - t0;
    total.calls++;
    totals.set(name, total);
  }
}

/** Adds `ms` to the total of `name` (for spans around asynchronous work). */
export function record(name: string, ms: number): void {
  if (!enabled) return;
  span(name, () => {});
  totals.get(name)!.ms += ms;
}

/** The totals so far, by span name (milliseconds and calls). */
export function profileTotals(): Record<string, Total> {
  return Object.fromEntries([...totals].map(([k, v]) => [k, { ...v }]));
}

/** Clears the totals. */
export function resetProfile(): void {
  totals.clear();
}

/** The totals as a table, the longest first. */
export function profileReport(): string {
  const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms);
  const width = Math.max(4, ...rows.map(([k]) => k.length));
  return ["profile (wall time, spans nest):"].concat(
    rows.map(([k, v]) =>
      `  ${k.padEnd(width)} ${(v.ms / 1000).toFixed(3).padStart(9)} s  ${
        String(v.calls).padStart(6)
      } calls`
    ),
  ).join("\n");
}

/**
 * Resident memory: the current RSS, the kernel's peak (VmHWM) for this or another process,
 * a poller that tracks a child process's peak while it runs, and a child process timed and
 * watched to its end.
 *
 * @module
 */

/** Reads `VmHWM` (peak RSS) from /proc in bytes, or null where /proc is missing. */
export function peakRss(pid: number | "self" = "self"): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Tracks the highest RSS seen: samples on demand and on a timer. */
export class RssTracker {
  #max = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Peak so far in bytes (the larger of samples and the kernel's VmHWM for this process). */
  get peak(): number {
    return Math.max(this.#max, peakRss() ?? 0);
  }

  /** Takes one sample of this process's RSS. */
  sample(): void {
    this.#max = Math.max(this.#max, Deno.memoryUsage().rss);
  }

  /** Samples every `ms` while the event loop is free (between steps). */
  start(ms = 200): void {
    this.stop();
    this.#timer = setInterval(() => this.sample(), ms);
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Polls a child's VmHWM until `done` settles; returns the highest value seen (bytes). */
export async function watchChildPeak(
  pid: number,
  done: Promise<unknown>,
  ms = 500,
): Promise<number> {
  let peak = 0;
  let finished = false;
  done.finally(() => (finished = true));
  while (!finished) {
    peak = Math.max(peak, peakRss(pid) ?? 0);
    await Promise.race([done.catch(() => {}), new Promise((r) => setTimeout(r, ms))]);
  }
  return peak;
}

/** Wall time and peak RSS of one child process, and whether it succeeded. */
export interface ProcessCost {
  seconds: number | null;
  peakRssBytes: number | null;
  /** Why it has no numbers (failed, skipped). */
  note?: string;
}

/**
 * Runs a command to completion: wall time, peak RSS (polled every 100 ms), stdout, and on
 * failure the last line of stderr (the one-line error of a `deno task`).
 */
export async function timedProcess(
  cmd: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<ProcessCost & { ok: boolean; stdout: string }> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, cwd: options.cwd, stdout: "piped", stderr: "piped" })
    .spawn();
  const output = child.output();
  const peak = await watchChildPeak(child.pid, output, 100);
  const done = await output;
  const seconds = (performance.now() - t0) / 1000;
  const stdout = new TextDecoder().decode(done.stdout);
  if (!done.success) {
    const err = new TextDecoder().decode(done.stderr).trim().split("\n").pop() ?? "";
    return { ok: false, stdout, seconds: null, peakRssBytes: peak || null, note: `failed: ${err}` };
  }
  return { ok: true, stdout, seconds, peakRssBytes: peak || null };
}

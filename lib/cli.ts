/**
 * Shared plumbing for the command-line entry points in `scripts/`: one-line errors, exit
 * codes, a progress bar and atomic writes. Flags and `--help` are in `flags.ts`.
 *
 * @module
 */
import { MadError } from "./errors.ts";

/**
 * Runs a script's main function: a MadError becomes `error: message` on stderr and its exit
 * code; any other error becomes one line too (its message), with exit code 1. Set
 * `MADFORMER_DEBUG=1` to see stack traces.
 */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (Deno.env.get("MADFORMER_DEBUG")) console.error(e);
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.error(`error: ${message}`);
    Deno.exit(e instanceof MadError ? e.exitCode : 1);
  }
}

/** A terminal progress bar that redraws one line on stderr (plain lines when not a TTY). */
export class Progress {
  #label: string;
  #total: number;
  #done = 0;
  #start = performance.now();
  #lastDraw = 0;
  #tty = Deno.stderr.isTerminal();
  #encoder = new TextEncoder();
  #quiet: boolean;

  constructor(label: string, total: number, options: { quiet?: boolean } = {}) {
    this.#label = label;
    this.#total = Math.max(total, 1);
    this.#quiet = options.quiet ?? false;
  }

  /** Advances by `n` units and redraws (at most ~10 times a second). */
  tick(n = 1, suffix = ""): void {
    this.#done = Math.min(this.#done + n, this.#total);
    const now = performance.now();
    if (this.#done < this.#total && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#draw(suffix);
  }

  /** Finishes the bar with a final line. */
  done(suffix = ""): void {
    this.#done = this.#total;
    this.#draw(suffix, true);
  }

  #draw(suffix: string, final = false): void {
    if (this.#quiet) return;
    const fraction = this.#done / this.#total;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = (performance.now() - this.#start) / 1000;
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const line = `${this.#label} [${bar}] ${this.#done}/${this.#total} ${
      seconds.toFixed(1)
    }s ${suffix}`;
    if (this.#tty) {
      Deno.stderr.writeSync(this.#encoder.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
    } else if (final || this.#done === this.#total || Math.round(fraction * 10) !== 0) {
      // Non-TTY output (logs, CI, notebooks) gets a line per ~10% rather than a redraw.
      const decile = Math.floor(fraction * 10);
      if (final || decile !== this.#lastDecile) {
        this.#lastDecile = decile;
        Deno.stderr.writeSync(this.#encoder.encode(line + "\n"));
      }
    }
  }
  #lastDecile = -1;
}

/** Writes a file atomically: to a temporary sibling first, then a rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  if (typeof data === "string") await Deno.writeTextFile(tmp, data);
  else await Deno.writeFile(tmp, data);
  const file = await Deno.open(tmp, { read: true, write: true });
  try {
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

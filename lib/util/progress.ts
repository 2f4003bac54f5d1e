/**
 * A terminal progress bar for long loops (downloads, training epochs, scoring): one redrawn line
 * on a terminal, a line per tenth of the work elsewhere.
 *
 * @module
 */

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

  /** Advances by `n` units without drawing (the next {@linkcode begin} shows them). */
  advance(n = 1): void {
    this.#done = Math.min(this.#done + n, this.#total);
  }

  /**
   * Draws the bar now, saying what comes next (`suffix`), also where a plain line is written
   * only per tenth: before a long unit of work that does not tick, so it is not silent.
   */
  begin(suffix = ""): void {
    this.#lastDraw = performance.now();
    this.#draw(suffix, false, true);
  }

  /** Ends the bar where it is, with a final line (work stopped before the end). */
  stop(suffix = "stopped"): void {
    this.#draw(suffix, true);
  }

  /** Finishes the bar with a final line. */
  done(suffix = ""): void {
    this.#done = this.#total;
    this.#draw(suffix, true);
  }

  #draw(suffix: string, final = false, always = false): void {
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
    } else if (always) {
      Deno.stderr.writeSync(this.#encoder.encode(line + "\n"));
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

/**
 * A `(done, total)` callback drawing a bar labelled `label`: made on the first call, advanced to
 * `done` on each, finished when `done` reaches `total`.
 */
export function progressReporter(label: string): (done: number, total: number) => void {
  let bar: Progress | null = null;
  let reported = 0;
  return (done, total) => {
    bar ??= new Progress(label, total);
    if (done < total) bar.tick(done - reported);
    else bar.done();
    reported = done;
  };
}

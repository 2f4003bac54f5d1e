/**
 * Run logging: `train.log` for people and `metrics.jsonl` (one JSON object per epoch) for
 * notebooks and tools. Lines also go to stderr unless quiet.
 *
 * @module
 */
import { join } from "node:path";
import { RUN_FILES } from "./run_files.ts";

/** One line of `metrics.jsonl`. */
export interface EpochRow {
  epoch: number;
  loss: number;
  recon_loss: number;
  anomaly_loss: number;
  /** Mean validation AUROC over datasets (normals vs synthetic anomalies). */
  val_auroc: number;
  /** Per-dataset validation AUROC and per-component AUROC. */
  val: Record<string, { auroc: number; components: Record<string, number> }>;
  seconds: number;
  lr: number;
  /** With weight averaging: the number of epochs whose mean weights were validated. */
  averaged_epochs?: number;
}

/**
 * The weights a run holds after `epoch`: that epoch's own, or with weight averaging the mean of
 * the last `averaged` epochs ("epoch 8", "the mean weights of epochs 4-10").
 */
export function weightsKept(epoch: number, averaged = 0): string {
  if (averaged <= 0) return `epoch ${epoch}`;
  return averaged === 1
    ? `the mean weights of epoch ${epoch}`
    : `the mean weights of epochs ${epoch - averaged + 1}-${epoch}`;
}

/** Writes the human log and the metrics lines of one run folder. */
export class RunLog {
  readonly logPath: string;
  readonly metricsPath: string;
  #quiet: boolean;
  #onLine?: (text: string) => void;
  #onWarning: (text: string) => void;
  /** Lines for train.log while held ({@linkcode hold}), else null. */
  #held: string[] | null = null;

  /**
   * `onLine`, when given, hears every line but the epochs' instead of stderr, quiet or not (a
   * notebook prints them as its own output, and its epochs from `onEpoch`); `onWarning` hears
   * the warnings instead of stderr.
   */
  constructor(
    out: string,
    quiet: boolean,
    onLine?: (text: string) => void,
    onWarning: (text: string) => void = console.error,
  ) {
    this.logPath = join(out, RUN_FILES.log);
    this.metricsPath = join(out, RUN_FILES.metrics);
    this.#quiet = quiet;
    this.#onLine = onLine;
    this.#onWarning = onWarning;
  }

  /**
   * Keeps train.log's lines in memory until {@linkcode release} (stderr still hears them at
   * once): nothing is written into the run folder before it is cleared for the run.
   */
  hold(): void {
    this.#held ??= [];
  }

  /** Writes the lines held since {@linkcode hold}, and every later line as it comes. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    if (held.length > 0) {
      Deno.writeTextFileSync(this.logPath, held.join(""), { append: true });
    }
  }

  /** Appends a timestamped line to train.log (and stderr, or `onLine`). */
  line(text: string): void {
    this.#write(text);
    if (this.#onLine) this.#onLine(text);
    else if (!this.#quiet) console.error(text);
  }

  #write(text: string): void {
    const stamped = `${new Date().toISOString()} ${text}\n`;
    if (this.#held) this.#held.push(stamped);
    else Deno.writeTextFileSync(this.logPath, stamped, { append: true });
  }

  /**
   * Appends a warning to train.log and stderr (or `onWarning`), even when quiet (quiet hides
   * progress only).
   */
  warn(text: string): void {
    this.#write(`warning: ${text}`);
    this.#onWarning(`warning: ${text}`);
  }

  /** Records an epoch in both files. */
  epoch(row: EpochRow, improved: boolean): Promise<void> {
    const perKey = Object.entries(row.val).map(([k, v]) => `${k} ${v.auroc.toFixed(4)}`).join(", ");
    const text =
      `epoch ${row.epoch}: loss ${row.loss.toFixed(4)} (recon ${row.recon_loss.toFixed(4)}, ` +
      `anomaly ${row.anomaly_loss.toFixed(4)}), val AUROC ${row.val_auroc.toFixed(4)} ` +
      `[${perKey}]` +
      (row.averaged_epochs ? ` (${weightsKept(row.epoch, row.averaged_epochs)})` : "") +
      `, ${row.seconds.toFixed(1)}s` +
      (improved ? (row.averaged_epochs ? ", kept" : ", best so far") : "");
    this.#write(text);
    if (!this.#onLine && !this.#quiet) console.error(text);
    return Deno.writeTextFile(this.metricsPath, JSON.stringify(row) + "\n", { append: true });
  }
}

/**
 * Run logging: `train.log` for people and `metrics.jsonl` (one JSON object per epoch) for
 * notebooks and tools. Lines also go to stderr unless quiet.
 *
 * @module
 */
import { join } from "node:path";
import type { EpochRow } from "./loop.ts";

/** Writes the human log and the metrics lines of one run folder. */
export class RunLog {
  readonly logPath: string;
  readonly metricsPath: string;
  #quiet: boolean;

  constructor(out: string, quiet: boolean) {
    this.logPath = join(out, "train.log");
    this.metricsPath = join(out, "metrics.jsonl");
    this.#quiet = quiet;
  }

  /** Appends a timestamped line to train.log (and stderr). */
  line(text: string): void {
    const stamped = `${new Date().toISOString()} ${text}`;
    Deno.writeTextFileSync(this.logPath, stamped + "\n", { append: true });
    if (!this.#quiet) console.error(text);
  }

  /** Records an epoch in both files. */
  epoch(row: EpochRow, improved: boolean): Promise<void> {
    const perKey = Object.entries(row.val).map(([k, v]) => `${k} ${v.auroc.toFixed(4)}`).join(", ");
    this.line(
      `epoch ${row.epoch}: loss ${row.loss.toFixed(4)} (recon ${row.recon_loss.toFixed(4)}, ` +
        `anomaly ${row.anomaly_loss.toFixed(4)}), val AUROC ${row.val_auroc.toFixed(4)} ` +
        `[${perKey}], ${row.seconds.toFixed(1)}s${improved ? ", best so far" : ""}`,
    );
    return Deno.writeTextFile(this.metricsPath, JSON.stringify(row) + "\n", { append: true });
  }
}

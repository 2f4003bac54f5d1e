/**
 * `deno task ablate [--full] [--seeds N] [--epochs N] [--variants a,b] [--out results/ablation]`:
 * trains every ablation variant for several seeds, evaluates each best checkpoint on the test
 * parts and writes `OUT/<variant>_seed<k>.json` and `OUT/summary.json` (mean ± std AUROC per
 * variant). Without `--full` it runs the tiny model on synthetic data (about a minute); with it,
 * the default model on `data/` (see `deno task data`); `--epochs` shortens every variant's run. The same grid runs in notebooks/03_ablation.ipynb.
 *
 * @module
 */
import { join } from "node:path";
import { numberFlag, parseFlags, Progress, runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import { type BackendName, useBackend } from "../lib/backend/mod.ts";
import { runAblation, selectVariants } from "../lib/train/ablation.ts";
import { experiment } from "../lib/train/setup.ts";
import { ablationRows } from "../lib/report/ablation.ts";
import { metricsTable } from "../lib/report/table.ts";

const USAGE = "usage: deno task ablate [--full] [--seeds N] [--epochs N] [--variants a,b] " +
  "[--out results/ablation] [--data data] [--keep-checkpoints] [--backend NAME]";

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    full: { type: "boolean", default: false },
    seeds: { type: "string" },
    epochs: { type: "string" },
    variants: { type: "string", multiple: true },
    out: { type: "string", default: "results/ablation" },
    data: { type: "string", default: "data" },
    "keep-checkpoints": { type: "boolean", default: false },
    backend: { type: "string", default: "auto" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) return console.log(USAGE);
  const seeds = numberFlag("seeds", flags.seeds) ?? (flags.full ? 3 : 2);
  if (!Number.isInteger(seeds) || seeds < 1) {
    throw new MadError(`--seeds must be a positive integer, got ${seeds}`, 2);
  }
  const variants = selectVariants(
    (flags.variants ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean),
  );
  await useBackend(flags.backend as BackendName);
  const setup = await experiment({ full: flags.full, dataDir: flags.data, workDir: flags.out });
  const epochs = numberFlag("epochs", flags.epochs);
  if (epochs !== undefined) {
    if (!Number.isInteger(epochs) || epochs < 1) {
      throw new MadError(`--epochs must be a positive integer, got ${flags.epochs}`, 2);
    }
    // Shorter runs make a full-data grid affordable; every variant gets the same budget.
    setup.config.train.epochs = epochs;
  }
  console.error(
    `${setup.full ? "full" : "tiny"} ablation: ${variants.length} variants x ${seeds} seeds x ` +
      `${setup.config.train.epochs} epochs ` +
      `into ${flags.out}/`,
  );
  const started = performance.now();
  const progress = new Progress("ablation", variants.length * seeds);
  const summary = await runAblation({
    variants,
    seeds,
    base: setup.config,
    data: setup,
    out: flags.out,
    quiet: !setup.full,
    cacheDir: join(flags.data, ".cache", "images"),
    onResult: (run) => progress.tick(1, `${run.variant} seed ${run.seed}`),
  });
  progress.done();
  console.log(metricsTable(ablationRows(summary)));
  console.log(
    `done in ${((performance.now() - started) / 1000).toFixed(0)} s: ` +
      `${join(flags.out, "summary.json")}`,
  );
}

if (import.meta.main) await runMain(main);

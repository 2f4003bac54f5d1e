/**
 * `deno task ablate` (`--help` lists the flags): trains every ablation variant for several seeds,
 * evaluates each best checkpoint on the test parts and writes `OUT/<variant>_seed<k>.json` and
 * `OUT/summary.json` (mean ± std AUROC per variant, of the combined score and of each evidence
 * component alone). Without `--full` it runs the tiny model on synthetic data (about a minute);
 * with it, the default model on `data/` (see `deno task data`); `--epochs` shortens every
 * variant's run. It prints the combined score and the encoder evidence alone per variant and,
 * when `full` is in the grid, each variant's differences from it and whether they exceed the seed
 * spread. The same grid runs in notebooks/03_ablation.ipynb.
 *
 * @module
 */
import { join } from "node:path";
import {
  asFolder,
  checkOutputFolder,
  counted,
  defineCommand,
  helpText,
  parseFlags,
  positiveIntegerFlag,
  Progress,
} from "../lib/util/mod.ts";
import { exitOnStop, runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import { checkTrainingSources } from "../lib/train/mod.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import {
  ABLATION_VARIANTS,
  compareToReference,
  ENCODER_STUDY,
  experiment,
  runAblation,
  runnableVariants,
  selectVariants,
  tinyConfig,
} from "../lib/experiment/mod.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import { dataSetId, type ExperimentData, namesData } from "../lib/experiment/data_set.ts";
import {
  ablationDifferenceRows,
  ablationScoreRows,
  headlineDatasets,
  metricsTable,
} from "../lib/report/mod.ts";
import { TABLE_FORMATS } from "../lib/data/table_name.ts";
import { testClassProblem } from "../lib/data/images.ts";
import type { PreparedImages, PreparedTable } from "../lib/train/datasets.ts";
import { oneClassReason } from "../lib/metrics/validate.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task ablate",
  summary: "trains every ablation variant (one part of the model switched off) for several " +
    "seeds, evaluates each on the test parts and writes OUT/<variant>_seed<k>.json and " +
    "OUT/summary.json (mean ± std AUROC per variant, combined and each evidence alone), and " +
    "prints each variant's differences from full against the seed spread. Finished runs in OUT " +
    "are reused.",
  flags: {
    full: {
      type: "boolean",
      default: false,
      description: "the default model on data/ (long) instead of the tiny one on synthetic data",
    },
    seeds: {
      type: "string",
      value: "N",
      description: "seeds per variant (0 to N-1)",
      defaultText: "2, or 3 with --full",
    },
    epochs: {
      type: "string",
      value: "N",
      description: "epochs for every variant, to shorten a --full grid",
      defaultText:
        `the config's (tiny ${tinyConfig().train.epochs}, full ${DEFAULT_CONFIG.train.epochs})`,
    },
    variants: {
      type: "string",
      multiple: true,
      value: "a,b",
      description: "only these variants (comma-separated or repeated; names below)",
      defaultText: "all",
    },
    out: {
      type: "string",
      value: "DIR",
      description: "folder for the runs' results",
      defaultText: "results/ablation with --full, else results/ablation-tiny; " +
        "results/ablation-<id> (ablation-tiny-<id>) for --images and --table",
    },
    images: {
      type: "string",
      multiple: true,
      value: "DIR",
      description:
        "image category folder (MVTec AD or course layout) to ablate on; repeat for more",
      defaultText: "--data's categories with --full, else synthetic images",
    },
    table: {
      type: "string",
      multiple: true,
      value: "FILE",
      description: `table (${TABLE_FORMATS}) to ablate on; repeat ` +
        "for more",
      defaultText: "--data's thyroid with --full, else a synthetic table",
    },
    data: {
      type: "string",
      value: "DIR",
      description: "the datasets for --full without --images and --table (as deno task data " +
        "left them); --full's decoded images are cached in DIR/.cache/images",
      defaultText: "data",
    },
    "keep-checkpoints": {
      type: "boolean",
      default: false,
      description: "keep each run's checkpoints under OUT/runs/ (else only its logs)",
    },
    backend: BACKEND_FLAG,
  },
  notes: [
    `variants: ${ABLATION_VARIANTS.map((v) => v.name).join(", ")}`,
    "a difference from full exceeds the seed spread when |difference of means| > the larger of " +
    "the two stds (at least 2 seeds each)",
    "--images and --table replace the datasets, not the model: with --full the default model " +
    "trains on them, without it the tiny one",
  ],
  examples: [
    "deno task ablate",
    "deno task ablate --full --seeds 1 --epochs 3 --variants full,no_isolation_head",
    `deno task ablate --full --seeds 3 --variants ${ENCODER_STUDY.join(",")}`,
    "deno task ablate --full --seeds 2 --variants full,no_modality_embedding,separate_encoders " +
    "--images data/images/dev/screw --table data/tables/adbench/44_Wilt.npz --out results/ablation-dev",
  ],
});

/**
 * Where a run goes without `--out`: `--full` on data/ in `results/ablation` (which notebook 03
 * in full mode reads), the tiny run in `results/ablation-tiny`, so that the README's first tiny
 * run does not hold the folder a later `--full` run needs; a user's own data in a folder of its
 * own (`results/ablation-<id>`, tiny `results/ablation-tiny-<id>`), so the default data's runs
 * stay as they are.
 */
export function defaultAblationOut(full: boolean, own: ExperimentData): string {
  const base = full ? "results/ablation" : "results/ablation-tiny";
  return namesData(own) ? `${base}-${dataSetId(own)}` : base;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const seeds = positiveIntegerFlag("seeds", flags.seeds) ?? (flags.full ? 3 : 2);
  if (flags.data !== undefined && !flags.full) {
    throw new MadError(
      `--data ${flags.data} is read with --full only: the tiny run trains on synthetic data ` +
        "(add --full, or leave --data out)",
      2,
    );
  }
  const dataDir = flags.data ?? "data";
  const names = (flags.variants ?? []).flatMap((v) => v.split(",")).map((v) => v.trim())
    .filter(Boolean);
  // `--variants ''` (an unset shell variable, say) is not "all": that could be hours of runs.
  if (flags.variants !== undefined && names.length === 0) {
    throw new MadError(
      "--variants is empty: give variant names (see --help), or leave it out for all",
      2,
    );
  }
  let variants = selectVariants(names);
  await useBackend(flags.backend as BackendName);
  const own = { imageDirs: flags.images ?? [], tablePaths: flags.table ?? [] };
  const out = flags.out ?? defaultAblationOut(flags.full, own);
  checkOutputFolder(out, "--out");
  const setup = await experiment({
    full: flags.full,
    dataDir,
    workDir: out,
    data: own,
  });
  if (names.length === 0) {
    // The whole grid on data of one modality: the variants of the other one cannot run.
    const { runnable, leftOut } = runnableVariants(variants, setup);
    if (leftOut.length > 0) {
      console.error(
        `left out ${counted(leftOut.length, "variant")} that ${
          leftOut.length === 1 ? "needs" : "need"
        } ${setup.tablePaths.length === 0 ? "a table" : "images"}: ${
          leftOut.map((v) => v.name).join(", ")
        }`,
      );
    }
    variants = runnable;
  }
  const epochs = positiveIntegerFlag("epochs", flags.epochs);
  if (epochs !== undefined) {
    // Shorter runs make a full-data grid affordable; every variant gets the same budget.
    setup.config.train.epochs = epochs;
  }
  console.error(
    `${setup.full ? "full" : "tiny"} ablation: ${counted(variants.length, "variant")} x ` +
      `${counted(seeds, "seed")} x ${counted(setup.config.train.epochs, "epoch")} on ` +
      `${[...setup.imageDirs, ...setup.tablePaths].join(", ")} into ${asFolder(out)}`,
  );
  // A stop keeps every finished run in OUT/; say how to continue.
  exitOnStop(
    `finished runs are kept in ${asFolder(out)} and the same command reuses them ` +
      "(the run under way starts over)",
  );
  // Before runAblation makes the output folder: a missing folder, or a table training would
  // refuse (no labels, say), leaves nothing behind and stops no grid halfway.
  checkMeasurable(await checkTrainingSources(setup, setup.config));
  const started = performance.now();
  const progress = new Progress("ablation", variants.length * seeds);
  let reusedRuns = 0;
  const summary = await runAblation({
    variants,
    seeds,
    base: setup.config,
    data: setup,
    out,
    quiet: !setup.full,
    keepCheckpoints: flags["keep-checkpoints"],
    // The tiny run's images stay in memory: a cache on disk would fill data/ of a run that
    // reads nothing from it.
    cacheDir: setup.full ? join(dataDir, ".cache", "images") : undefined,
    onResult: (run, _done, _total, reused) => {
      if (reused) reusedRuns++;
      progress.tick(1, `${run.variant} seed ${run.seed}${reused ? " (reused)" : ""}`);
    },
  });
  progress.done();
  if (reusedRuns > 0) {
    console.error(
      `${reusedRuns} of ${variants.length * seeds} runs reused from ${
        asFolder(out)
      } (same config and data)`,
    );
  }
  const datasets = headlineDatasets(summary);
  console.log(metricsTable(ablationScoreRows(summary, { datasets })));
  const differences = ablationDifferenceRows(compareToReference(summary), { datasets });
  if (differences.length > 0) {
    console.log("differences from full (exceeds: |Δ| > the larger std, at least 2 seeds each)");
    console.log(metricsTable(differences));
  }
  console.log(
    `done in ${((performance.now() - started) / 1000).toFixed(0)} s: ` +
      `${join(out, "summary.json")}`,
  );
}

/**
 * Refuses, before any training, a dataset whose test part has one class: variants are compared
 * by AUROC, and such a dataset would read "-" for every one of them (and hide a folder's mean).
 * Reads the data as the check before it prepared them, not the files again.
 */
function checkMeasurable(
  prepared: { images: PreparedImages[]; tables: PreparedTable[] },
): void {
  const problems = [
    ...prepared.images.map((p) => [p.record.source, testClassProblem(p)] as const),
    ...prepared.tables.map((p) => {
      const why = oneClassReason(p.testLabels);
      return [p.record.source, why && `the test part ${why}`] as const;
    }),
  ];
  const found = problems.find(([, problem]) => problem);
  if (found) {
    throw new MadError(`${found[0]}: ${found[1]}; the variants are compared by its AUROC`);
  }
}

if (import.meta.main) await runMain(main);

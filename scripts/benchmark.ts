/**
 * `deno task benchmark` (`--help` lists the flags): runs MADformer and the in-project baselines
 * on every image category in `--images` and every table in `--tables` for several seeds, one
 * model per dataset and one joint model for all, and writes `OUT/benchmark.json` and the
 * self-contained `OUT/report.html`. Finished runs (`OUT/runs/*.json`) are reused, so a killed
 * benchmark continues where it stopped when run again. See lib/benchmark/.
 *
 * @module
 */
import { join } from "node:path";
import { IMAGE_CACHE_FLAG } from "../lib/data/image_cache.ts";
import { exitOnStop, runMain } from "../lib/cli.ts";
import {
  asFolder,
  checkOutputFolder,
  counted,
  defineCommand,
  helpText,
  parseFlags,
  positiveIntegerFlag,
  usageError,
} from "../lib/util/mod.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, loadConfigFile, mergeConfig } from "../lib/model/config.ts";
import {
  benchmarkRows,
  discoverBenchmark,
  JOINT_MODES,
  type JointMode,
  runBenchmark,
  TABLE_EXTENSIONS,
  winLines,
} from "../lib/benchmark/mod.ts";
import { metricsTable } from "../lib/report/mod.ts";

/** Epochs of a `--quick` run. */
export const QUICK_EPOCHS = 2;

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task benchmark",
  summary: "runs MADformer and the baselines (Isolation Forest, kNN, one-class SVM, raw-patch " +
    "kNN) on every image category and table in the given folders for N seeds, one model per " +
    "dataset and one joint model for all, on the same splits, and writes OUT/benchmark.json and " +
    "OUT/report.html. " +
    "Finished runs in OUT/runs/ are reused: rerun the same command after a stop to continue.",
  flags: {
    images: {
      type: "string",
      value: "DIR",
      description: "folder of image categories (MVTec AD or course layout), or one category",
      defaultText: "none",
    },
    tables: {
      type: "string",
      value: "DIR",
      description: `folder of tables (${TABLE_EXTENSIONS.join(", ")} files, or split folders ` +
        "with train-set.csv and test-set.csv, or folders of them per seed: s0, s1, ...)",
      defaultText: "none",
    },
    seeds: { type: "string", default: "3", value: "N", description: "seeds per run (0 to N-1)" },
    out: {
      type: "string",
      default: "results/benchmark",
      value: "DIR",
      description: "folder for the runs, benchmark.json and report.html",
    },
    joint: {
      type: "string",
      default: "both",
      value: "MODE",
      description: "both: one model per dataset and one joint model for all; only: the joint " +
        "model alone; none: per-dataset models alone",
    },
    quick: {
      type: "boolean",
      default: false,
      description: `a smoke run: ${QUICK_EPOCHS} epochs per model`,
    },
    epochs: {
      type: "string",
      value: "N",
      description: "epochs per model",
      defaultText: `the config's, ${DEFAULT_CONFIG.train.epochs} (--quick: ${QUICK_EPOCHS})`,
    },
    config: {
      type: "string",
      value: "FILE.json",
      description: 'config overrides, {"model": {...}, "train": {...}} (see lib/model/config.ts)',
      defaultText: "the built-in config",
    },
    cache: IMAGE_CACHE_FLAG,
    "keep-checkpoints": {
      type: "boolean",
      default: false,
      description: "keep each run's checkpoints under OUT/work/ (else only its logs)",
    },
    backend: BACKEND_FLAG,
    quiet: { type: "boolean", default: false, description: "no training progress bars" },
  },
  notes: [
    "After `deno task data` the image categories are in data/images/mvtec (official downloads) " +
    "or data/images/course (`--from`), the tables in data/tables/adbench; give these folders, not " +
    "data/images or data/tables, which hold them one level down.",
    "Tables run under the half-normals protocol (split folders as given); one line per run " +
    "shows its time, the elapsed time and an ETA.",
    "On the scikit-learn peers' own splits: `sklearn_tables.py split SRC OUT` writes OUT/<table>/s<k>; " +
    "with `sklearn_tables.py peers OUT` beside it (OUT/peers.json), `--tables OUT` runs seed k on " +
    "split k and reports the peers' Isolation Forest, kNN and OCSVM next to MADformer.",
  ],
  examples: [
    "deno task benchmark --images data/images/mvtec --tables data/tables/adbench",
    "deno task benchmark --images data/images/course --seeds 1 --quick --joint none --out /tmp/bench",
    "deno task benchmark --tables data/tables/adbench --seeds 1 --quick --joint none",
  ],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const seeds = positiveIntegerFlag("seeds", flags.seeds)!;
  let joint = flags.joint as JointMode;
  if (!JOINT_MODES.includes(joint)) {
    throw usageError(COMMAND, `--joint must be one of ${JOINT_MODES.join(", ")}, got '${joint}'`);
  }
  if (!flags.images && !flags.tables) {
    throw usageError(COMMAND, "give --images DIR and/or --tables DIR");
  }
  checkOutputFolder(flags.out, "--out");
  const base = flags.config ? await loadConfigFile(flags.config) : DEFAULT_CONFIG;
  const epochs = positiveIntegerFlag("epochs", flags.epochs) ??
    (flags.quick ? QUICK_EPOCHS : undefined);
  const config = mergeConfig(base, epochs ? { train: { epochs } } : {}, "command-line flags");
  const data = await discoverBenchmark({ imagesDir: flags.images, tablesDir: flags.tables });
  for (const s of data.skipped) console.error(`skipped ${s.source}: ${s.reason}`);
  if (joint === "both" && data.datasets.length === 1) {
    // Trained on the one dataset, the joint model is its own model a second time.
    console.error("one dataset: no joint model beside its own (it would be the same training)");
    joint = "none";
  }
  await useBackend(flags.backend as BackendName);
  const runsPerSeed = data.datasets.length * (joint === "only" ? 1 : 2) +
    (joint === "none" ? 0 : 1);
  console.error(
    `benchmark: ${data.datasets.map((d) => d.name).join(", ")}; ${seeds} seed(s) x ` +
      `${counted(runsPerSeed, "run")}, ${counted(config.train.epochs, "epoch")} per model, into ${
        asFolder(flags.out)
      }`,
  );
  // A stop leaves every finished run in OUT/runs/; say how to continue.
  exitOnStop(
    `finished runs are kept in ${asFolder(flags.out)}runs/ and the same command reuses them ` +
      "(the run under way starts over)",
  );
  const started = performance.now();
  const summary = await runBenchmark({
    data,
    config,
    seeds,
    out: flags.out,
    joint,
    settings: { images: flags.images, tables: flags.tables, quick: flags.quick },
    cacheDir: flags.cache,
    keepCheckpoints: flags["keep-checkpoints"],
    quiet: flags.quiet,
  });
  console.log(metricsTable(benchmarkRows(summary)));
  const wins = winLines(summary);
  if (wins.baselines.length) {
    console.log(`of the three table baselines: ${wins.baselines.join("; ")}`);
  }
  if (wins.peers.length) console.log(`of scikit-learn's peers: ${wins.peers.join("; ")}`);
  console.log(
    `done in ${((performance.now() - started) / 1000).toFixed(0)} s: ` +
      `${join(flags.out, "benchmark.json")}, ${join(flags.out, "report.html")}`,
  );
  Deno.exit(0);
}

if (import.meta.main) await runMain(main);

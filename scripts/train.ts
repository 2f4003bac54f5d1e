/**
 * `deno task train`: trains MADformer on image folders and tables (by default on what
 * `deno task data` prepared), validating every epoch and keeping the best checkpoint.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { IMAGE_CACHE_FLAG } from "../lib/data/image_cache.ts";
import { removeOwnScratch, runMain } from "../lib/cli.ts";
import {
  checkOutputFolder,
  counted,
  defineCommand,
  helpText,
  isFile,
  numberFlag,
  parseFlags,
  positiveIntegerFlag,
  samePath,
} from "../lib/util/mod.ts";
import { MadError } from "../lib/errors.ts";
import { backendFailure } from "../lib/model/backend_failure.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig, readConfigFile } from "../lib/model/config.ts";
import { RUN_FILES, train, weightsKept } from "../lib/train/mod.ts";
import { assertFolderFree } from "../lib/util/run_lock.ts";
import { defaultDataPaths } from "../lib/data/sources.ts";
import { TABLE_FORMATS } from "../lib/data/table_name.ts";

const T = DEFAULT_CONFIG.train;

/** A flag that sets one of the config's training numbers; help names the config's default. */
function trainFlag(key: keyof typeof T, value: string, description: string) {
  return { type: "string", value, description, defaultText: `the config's, ${T[key]}` } as const;
}

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task train",
  summary: "trains MADformer on image folders and tables, validating every epoch and keeping the " +
    "best checkpoint (OUT/best_model_checkpoint.safetensors), the last one, train.log and " +
    "metrics.jsonl. Ctrl-C finishes the step and writes a checkpoint to resume from.",
  flags: {
    images: {
      type: "string",
      multiple: true,
      value: "DIR",
      description: "image category folder (MVTec AD or course layout); repeat for more",
      defaultText: "the categories deno task data put in data/images/",
    },
    table: {
      type: "string",
      multiple: true,
      value: "FILE",
      description: `table to train on (${TABLE_FORMATS}); repeat for more`,
      defaultText: "data/thyroid/odds/thyroid.mat when present",
    },
    config: {
      type: "string",
      value: "FILE.json",
      description: 'config overrides, {"model": {...}, "train": {...}} (see lib/model/config.ts)',
      defaultText: "the built-in config (on --resume: the checkpoint's)",
    },
    epochs: trainFlag("epochs", "N", "epochs in all (on --resume: the epoch to reach)"),
    "batch-size": trainFlag(
      "batchSize",
      "N",
      "images per training batch (no effect on tables: see --table-batch-size)",
    ),
    "table-batch-size": trainFlag("tableBatchSize", "N", "table rows per training batch"),
    lr: trainFlag("lr", "X", "peak AdamW learning rate (cosine schedule)"),
    seed: trainFlag("seed", "N", "random seed; it also draws the train / validation / test splits"),
    shards: trainFlag(
      "shards",
      "N",
      "shards each batch is cut into, one thread each; 0 = one per CPU core",
    ),
    resume: {
      type: "string",
      value: "CKPT",
      description: "continue from a checkpoint (OUT/last_checkpoint.safetensors) where it stopped",
    },
    out: {
      type: "string",
      value: "DIR",
      description: "run folder for checkpoints and logs; refused when it holds a checkpoint " +
        "already (unless --resume of that checkpoint, or --overwrite)",
      defaultText: "results/<date and time>; on --resume, the checkpoint's folder",
    },
    overwrite: {
      type: "boolean",
      description: "train into an --out folder that holds an earlier run: its checkpoints, " +
        "train.log and metrics.jsonl are moved to OUT/previous/ (replacing a run kept there) " +
        "once the new data has been read",
    },
    backend: BACKEND_FLAG,
    cache: IMAGE_CACHE_FLAG,
    quiet: { type: "boolean", description: "no progress bars" },
  },
  examples: [
    "deno task train",
    "deno task train --images DIR --table FILE.csv --epochs 10 --out results/mine",
    "deno task train --resume results/mine/last_checkpoint.safetensors --epochs 15",
  ],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  // On resume without --config the checkpoint's own config is the base (see train()).
  const overrides = flags.config ? await readConfigFile(flags.config) : undefined;
  const base = flags.config ? mergeConfig(DEFAULT_CONFIG, overrides, flags.config) : DEFAULT_CONFIG;
  const train_: Record<string, number> = {};
  // Where each explicitly set training setting came from: on --resume a differing one is refused.
  const given: Record<string, string> = {};
  for (const key of trainKeys(overrides)) given[key] = `${flags.config}: train.${key}`;
  const set = (key: string, flag: string, value: string | undefined) => {
    const counts = flag === "epochs" || flag === "batch-size" || flag === "table-batch-size";
    const n = counts ? positiveIntegerFlag(flag, value) : numberFlag(flag, value);
    if (n !== undefined) {
      train_[key] = n;
      given[key] = `--${flag}`;
    }
  };
  set("epochs", "epochs", flags.epochs);
  set("batchSize", "batch-size", flags["batch-size"]);
  set("tableBatchSize", "table-batch-size", flags["table-batch-size"]);
  set("lr", "lr", flags.lr);
  set("seed", "seed", flags.seed);
  set("shards", "shards", flags.shards);
  const config = mergeConfig(base, { train: train_ }, "command-line flags");

  let imageDirs = flags.images ?? [];
  let tablePaths = flags.table ?? [];
  if (imageDirs.length + tablePaths.length === 0 && !flags.resume) {
    const prepared = defaultDataPaths("data");
    imageDirs = prepared.imagesDirs;
    tablePaths = isFile(prepared.thyroidMat) ? [prepared.thyroidMat] : [];
    if (imageDirs.length + tablePaths.length === 0) {
      throw new MadError(
        "no training data: run `deno task data` first, or give --images DIR / --table FILE",
      );
    }
  }
  // A resumed run continues in its own folder: its log and metrics go on where they stopped.
  const out = flags.out ??
    (flags.resume
      ? dirname(flags.resume)
      : join("results", new Date().toISOString().replace(/[:.]/g, "-")));
  // The earlier run an --overwrite replaces moves aside once the new data has been read.
  const replaced = await checkRunFolder(out, flags.resume, Boolean(flags.overwrite));
  await useBackend(flags.backend as BackendName);
  // SIGINT / SIGTERM: stop at the next safe point (after a step, between epochs, between the
  // calibration's datasets), keep what is finished and exit 130 / 143. `deno task` passes a
  // signal on to this process, which may get it from the terminal as well: a second signal
  // within a second is the same request, a later one stops at once.
  let signal: Deno.Signal | null = null;
  let signalled = 0;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const listener = () => {
      if (signal) {
        if (performance.now() - signalled < 1000) return;
        console.error(`${name} again: stopping now; what was written so far is kept`);
        // The run folder's lock and a checkpoint write under way go, as any stopped task's do.
        removeOwnScratch();
        Deno.exit(name === "SIGINT" ? 130 : 143);
      }
      signal = name;
      signalled = performance.now();
      console.error(
        `${name}: stopping after the current step (or the current dataset's validation or ` +
          `calibration), then keeping what is finished; a second ${name} stops at once`,
      );
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  const data = flags.resume ?? [...imageDirs, ...tablePaths].join(", ");
  const result = await train({
    config,
    imageDirs,
    tablePaths,
    out,
    resume: flags.resume,
    epochs: numberFlag("epochs", flags.epochs),
    explicitConfig: Boolean(flags.config),
    trainSettingsGiven: given,
    cacheDir: flags.cache,
    quiet: flags.quiet,
    shouldStop: () => signal !== null,
    clearFolder: replaced ? () => moveEarlierRun(out, replaced) : undefined,
  }).catch((e) => {
    throw backendFailure(e, `training on ${data}`, "any");
  });
  for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  if (result.stoppedEarly) {
    const by = `stopped by ${signal}`;
    const epochs = counted(result.epochs, "epoch");
    console.error(
      result.resumeFrom === null
        ? `${by} before the first step: nothing was trained; run the same command again`
        : result.stoppedIn === "calibration"
        ? `${by} while calibrating on all normals, with all ${epochs} finished; calibrate the ` +
          `rest with deno task train --resume ${result.resumeFrom}`
        : `${by} with ${epochs} finished; resume with deno task train --resume ` +
          result.resumeFrom,
    );
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  }
  const kept = weightsKept(result.bestEpoch, result.averagedEpochs);
  console.log(
    `${result.averagedEpochs ? kept : `best ${kept}`} ` +
      `(validation AUROC ${result.bestMetric.toFixed(4)}): ${result.best}`,
  );
}

/** The checkpoints a training run writes in its folder: what marks it as an earlier run's. */
const CHECKPOINT_FILES = [RUN_FILES.best, RUN_FILES.last, RUN_FILES.interrupted];

/**
 * Checks `--out` before any work: it must be a folder (or not exist yet), and one that holds an
 * earlier run's checkpoint is refused unless it is the folder of the checkpoint resumed (the run
 * goes on there) or told to overwrite. Returns the checkpoint files of the earlier run to move
 * aside ({@linkcode moveEarlierRun}, once the new run's data is read), or null. A resumed run
 * into another run's folder is a new run there: it would replace that run's checkpoints and mix
 * the two runs' logs.
 */
async function checkRunFolder(
  out: string,
  resume: string | undefined,
  overwrite: boolean,
): Promise<string[] | null> {
  checkOutputFolder(out, "--out"); // a file in the way, or a folder that cannot be written
  if (!(await Deno.stat(out).catch(() => null))) return null;
  assertFolderFree(out);
  const held = CHECKPOINT_FILES.filter((name) => isFile(join(out, name)));
  if (held.length === 0 || (resume !== undefined && samePath(out, dirname(resume)))) return null;
  if (!overwrite) {
    const files = held.join(", ");
    throw new MadError(
      resume === undefined
        ? `${out}: holds an earlier run (${files}); give another --out, ` +
          `--resume ${join(out, held.includes(RUN_FILES.last) ? RUN_FILES.last : held[0])} to ` +
          `continue it, or --overwrite to replace it`
        : `${out}: holds another run (${files}), not the one of ${resume}; leave out --out to ` +
          `continue in ${dirname(resume)}, give an empty --out, or --overwrite to move that run ` +
          `to ${join(out, "previous")}/`,
    );
  }
  // --overwrite replaces OUT/previous/ with OUT's run: the run resumed from there would go.
  if (resume !== undefined && samePath(dirname(resume), join(out, "previous"))) {
    throw new MadError(
      `${resume}: --overwrite would replace ${join(out, "previous")}/, the run it resumes; ` +
        `copy that folder elsewhere and resume from there, or give another --out`,
    );
  }
  return held;
}

/**
 * `--overwrite`: moves the earlier run's files to `OUT/previous/` (so the logs describe one run),
 * replacing the run an earlier `--overwrite` kept there, and says so in one line. Called once the
 * new run's data is read: should that fail, the earlier run stays where it was.
 */
async function moveEarlierRun(out: string, held: string[]): Promise<void> {
  const previous = join(out, "previous");
  const older = await Deno.stat(previous).then(() => true, () => false);
  await Deno.remove(previous, { recursive: true }).catch(() => {});
  await Deno.mkdir(previous);
  for (const name of Object.values(RUN_FILES)) {
    await Deno.rename(join(out, name), join(previous, name)).catch(() => {});
  }
  console.error(
    `--overwrite: moved the earlier run (${held.join(", ")}) to ${previous}/` +
      (older ? ", replacing the run an earlier --overwrite had kept there" : ""),
  );
}

/** The `train` settings a config file's overrides set (checked by mergeConfig already). */
function trainKeys(overrides: unknown): string[] {
  const train = (overrides as { train?: unknown } | undefined)?.train;
  return train && typeof train === "object" ? Object.keys(train) : [];
}

if (import.meta.main) await runMain(main);

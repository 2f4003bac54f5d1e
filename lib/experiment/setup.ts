/**
 * The two experiment setups the notebooks and `deno task ablate` share: TINY (a small model on
 * synthetic data written on the spot, seconds per run, used in CI) and FULL (the default model
 * on what `deno task data` prepared in `data/`). One flag switches between them. The demo's
 * model, which TINY starts from, is here too.
 *
 * @module
 */
import { dirname, join } from "node:path";
import type { Config, ConfigOverrides } from "../model/config.ts";
import { DEFAULT_CONFIG, mergeConfig, validateConfig } from "../model/config.ts";
import { writeSyntheticImages, writeSyntheticTableCsv } from "../data/synthetic.ts";
import { defaultDataPaths } from "../data/sources.ts";
import { type ExperimentData, namesData } from "./data_set.ts";

export type { ExperimentData };
import { MadError } from "../errors.ts";
import { counted } from "../util/text.ts";
import { train } from "../train/loop.ts";
import { unfinishedRun } from "../train/run_state.ts";
import { folderHolder } from "../util/run_lock.ts";
import { isFile, projectPath } from "../util/files.ts";

/** A ready-to-train setup. */
export interface Experiment extends ExperimentData {
  full: boolean;
  config: Config;
}

/** The demo's model: small enough to train in a minute or two on two CPU cores. */
export const DEMO_OVERRIDES: ConfigOverrides = {
  model: {
    imageSize: 64,
    stem: [2, 2, 2],
    stemChannels: [32, 64],
    width: 64,
    layers: 2,
    heads: 4,
  },
  train: { epochs: 8, batchSize: 16, tableBatchSize: 128, lr: 2e-3 },
};

/** The demo config (defaults plus {@linkcode DEMO_OVERRIDES}, plus `extra`). */
export function demoConfig(extra: ConfigOverrides = {}): Config {
  const base = mergeConfig(DEFAULT_CONFIG, DEMO_OVERRIDES, "demo config");
  return mergeConfig(base, extra, "demo config");
}

/**
 * The tiny model on top of the demo config: 32-pixel images (a 4x4 token grid), one narrow
 * layer and a few epochs, so one training plus evaluation takes about a second.
 */
export const TINY_OVERRIDES: ConfigOverrides = {
  model: {
    imageSize: 32,
    stem: [2, 2, 2],
    stemChannels: [16, 32],
    width: 32,
    layers: 1,
    heads: 2,
    knnBankSize: 2000,
  },
  train: { epochs: 3, tableStepsPerEpoch: 8 },
};

/** The tiny config (demo config plus {@linkcode TINY_OVERRIDES}, plus `extra`). */
export function tinyConfig(extra: ConfigOverrides = {}): Config {
  return mergeConfig(demoConfig(TINY_OVERRIDES), extra, "tiny config");
}

/**
 * Writes the tiny synthetic data set under `dir` (images in `dir/images`, a table in
 * `dir/table.csv`); the same call always writes the same files.
 */
export async function writeTinyData(dir: string, size = 32): Promise<ExperimentData> {
  const images = join(dir, "images");
  await writeSyntheticImages(images, { seed: 1, size, nTrain: 16, nTestGood: 6, nTestBad: 6 });
  const table = join(dir, "table.csv");
  await writeSyntheticTableCsv(table, { seed: 1, n: 400, d: 6 });
  return { imageDirs: [images], tablePaths: [table] };
}

/**
 * The real data as `deno task data` left it under `dataDir`: the image categories and the ODDS
 * thyroid table. Throws a one-line MadError when neither is there.
 */
export function fullData(dataDir = "data"): ExperimentData {
  const paths = defaultDataPaths(dataDir);
  const tablePaths: string[] = [];
  try {
    if (Deno.statSync(paths.thyroidMat).isFile) tablePaths.push(paths.thyroidMat);
  } catch {
    // Missing thyroid: train on the images alone, or fail below when there are none either.
  }
  if (paths.imagesDirs.length === 0 && tablePaths.length === 0) {
    throw new MadError(`${dataDir}: no datasets found; run 'deno task data' first`);
  }
  return { imageDirs: paths.imagesDirs, tablePaths };
}

/**
 * The experiment for a flag: FULL uses the default config, TINY {@linkcode tinyConfig}. Each
 * runs on `data` when given (a user's own image folders and tables); otherwise FULL on what
 * `deno task data` left in `dataDir`, TINY on synthetic data it writes into `workDir/data`.
 */
export async function experiment(
  options: { full: boolean; dataDir?: string; workDir: string; data?: ExperimentData },
): Promise<Experiment> {
  const config = options.full ? structuredClone(DEFAULT_CONFIG) : tinyConfig();
  const given = options.data;
  if (namesData(given)) {
    return {
      full: options.full,
      config,
      imageDirs: [...given.imageDirs],
      tablePaths: [...given.tablePaths],
    };
  }
  const data = options.full
    ? fullData(options.dataDir)
    : await writeTinyData(join(options.workDir, "data"));
  return { full: options.full, config, ...data };
}

/**
 * Makes `out` ready for a new run of `config` (notebook 02's train cell): checks `config` first
 * (a one-line MadError naming the field), refuses a folder another live process is training in,
 * and only then removes the previous run there, so a mistyped edit leaves the last run intact.
 */
export async function clearRunFolder(out: string, config: Config): Promise<void> {
  validateConfig(config);
  const pid = folderHolder(out);
  if (pid !== null) {
    throw new MadError(
      `${projectPath(out)}: in use by another training run (pid ${pid}, e.g. this notebook ` +
        `in another tab); wait until it has finished`,
    );
  }
  await Deno.remove(out, { recursive: true }).catch(() => {});
}

/**
 * Refuses, in one line, a run folder whose best checkpoint is not yet (or never became) the
 * run's model: one another live process is still training in (notebook 02 in another tab), or
 * one whose run stopped part way (an interrupted kernel: fewer epochs than configured, or the
 * best checkpoint not calibrated). Each message says what to do instead.
 */
export async function assertFinishedRun(run: string): Promise<void> {
  const pid = folderHolder(run);
  if (pid !== null) {
    throw new MadError(
      `${projectPath(run)}: still training (pid ${pid}, e.g. notebook 02 in another tab); ` +
        `wait until it has finished, then run this cell again`,
    );
  }
  const reason = await unfinishedRun(run);
  if (reason) {
    throw new MadError(
      `${projectPath(run)}: this run did not finish (${reason}), so its best checkpoint is not ` +
        `its model; run 02's train cell again to the end, or name another checkpoint with ` +
        `MADFORMER_CHECKPOINT`,
    );
  }
}

/**
 * The checkpoint at `path` when it exists (e.g. the one notebooks/02 trained) and its run has
 * finished ({@linkcode assertFinishedRun}), otherwise trains one for `setup` into `out` and
 * returns its best checkpoint, so evaluation works on its own; `onProgress` hears that it
 * trains, each epoch, and each dataset it calibrates after the last epoch.
 */
export async function checkpointOrTrain(
  path: string,
  setup: Experiment,
  out: string,
  onProgress?: (line: string) => void,
): Promise<string> {
  if (isFile(path)) {
    await assertFinishedRun(dirname(path));
    return path;
  }
  // Said, with each epoch: on the full data this is the default training, many minutes.
  const epochs = setup.config.train.epochs;
  onProgress?.(
    `no checkpoint at ${projectPath(path)}: training one into ${projectPath(out)} ` +
      `(${counted(epochs, "epoch")})`,
  );
  const trained = await train({
    config: setup.config,
    imageDirs: setup.imageDirs,
    tablePaths: setup.tablePaths,
    out,
    quiet: true,
    recordSource: projectPath,
    onCalibrate: onProgress,
    onEpoch: (r) =>
      onProgress?.(
        `epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)}, val AUROC ` +
          `${r.val_auroc.toFixed(4)}, ${r.seconds.toFixed(1)} s`,
      ),
  });
  return trained.best;
}

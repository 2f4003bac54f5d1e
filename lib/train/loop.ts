/**
 * The training loop, top to bottom: prepare data (`training_data.ts`), build or restore the model
 * (`resume.ts` says what a resumed run may change), then per epoch alternate image and table
 * batches (`batches.ts`), validate on validation normals plus deterministic synthetic anomalies
 * (test labels are never looked at), and write checkpoints atomically; at the end the best
 * checkpoint is calibrated on all normals (`calibrate.ts`). One run per folder (`util/run_lock.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dirname, join, resolve } from "node:path";
import { systemBlasInUse } from "../backend/blas.ts";
import { type Config, type TrainConfig, validateConfig } from "../model/config.ts";
import { initParams, type Params, type TableSpec } from "../model/madformer.ts";
import { fitKey, type FittedKey, type Samples } from "../model/scorer.ts";
import { isPixelComponent, type KeyStats } from "../model/detector.ts";
import type { MemoryBank } from "../model/knn.ts";
import { type AdamState, initAdam } from "./optimizer.ts";
import { GradientPool } from "./parallel.ts";
import {
  type Checkpoint,
  disposeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type TrainingProgress,
} from "./checkpoint.ts";
import { datasetKey, type DatasetRecord } from "./datasets.ts";
import { type EpochRow, RunLog } from "./log.ts";
import { banksOf } from "./fitted.ts";
import { lockRunFolder } from "../util/run_lock.ts";
import { isCalibrated } from "./run_state.ts";
import { RUN_FILES } from "./run_files.ts";
import { resumeConfig } from "./resume.ts";
import {
  checkResumedSources,
  describeData,
  prepareTrainingData,
  type TableData,
} from "./training_data.ts";
import { epochPlan, imageBatch, tableBatch } from "./batches.ts";
import { calibrateBest } from "./calibrate.ts";
import { addToAverage, averagingStart, disposeAverage, type WeightAverage } from "./averaging.ts";
import { microBatchNote } from "./step.ts";
import { backendFailure } from "../model/backend_failure.ts";
import { Progress } from "../util/progress.ts";
import { isFile, samePath } from "../util/files.ts";
import { counted } from "../util/text.ts";
import { MadError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { record, span } from "../util/profile.ts";

/** What a training run needs. */
export interface TrainOptions {
  config: Config;
  imageDirs: string[];
  tablePaths: string[];
  /** Output folder for checkpoints and logs. */
  out: string;
  /** Checkpoint to continue from. */
  resume?: string;
  /** On resume: the total number of epochs to reach, when it should change. */
  epochs?: number;
  /**
   * On resume, whether `config` was chosen explicitly (a config file): then its evidence and
   * scoring settings replace the checkpoint's and its architecture and training settings must
   * match them (see `resume.ts`). If not, the checkpoint's own config is used and only the
   * epoch count is taken from `config`.
   */
  explicitConfig?: boolean;
  /**
   * Where each explicitly set training setting came from (`--lr`, `cfg.json: train.lr`): on
   * resume one that differs from the checkpoint's is refused (see `resume.ts`); a batch size
   * given for a modality the run has none of gets a warning naming the one that applies.
   */
  trainSettingsGiven?: Partial<Record<keyof TrainConfig, string>>;
  /** Folder of the decoded-image disk cache. */
  cacheDir?: string;
  /** No progress bars (tests, notebooks that print their own). */
  quiet?: boolean;
  /**
   * How the checkpoints record each dataset's path (default: as given). The notebooks, whose
   * kernel runs in `notebooks/` and reads absolute paths, record them from the project's folder
   * (`projectPath`), as `deno task train` run there does, so `deno task eval` finds the data.
   */
  recordSource?: (path: string) => string;
  /**
   * Hears the run's log lines (its data and model, notes, the calibration's result) instead of
   * stderr, quiet or not; the epochs' lines are left to `onEpoch`. Warnings stay on stderr.
   */
  onLog?: (line: string) => void;
  /**
   * Hears the run's warnings (`warning: …`) instead of stderr, to print them elsewhere (a
   * notebook, with paths from the project's folder); train.log has them either way.
   */
  onWarning?: (line: string) => void;
  /** Called after every epoch with its metrics row. */
  onEpoch?: (row: EpochRow) => void;
  /**
   * Called before each dataset the calibration after the last epoch refits, with a line such as
   * `calibrating image:screw on all normals (1 of 2)`: that step can take longer than an epoch
   * and, quiet, would print nothing meanwhile.
   */
  onCalibrate?: (line: string) => void;
  /** Stops after this many epochs of this call (resume tests). */
  stopAfterEpochs?: number;
  /**
   * Polled after every step, before every epoch and between the datasets of the final
   * calibration. True after a step: the run writes `interrupted_checkpoint.safetensors` and
   * returns with `stoppedEarly`; before an epoch, it returns with the finished epochs; in the
   * calibration, it keeps the datasets calibrated so far and returns (`stoppedIn` "calibration").
   */
  shouldStop?: () => boolean;
  /**
   * Makes room in `out` for the run (`train --overwrite` moves an earlier run aside), called once
   * the data has been read and checked, before anything is written there: a data error leaves
   * the earlier run in place.
   */
  clearFolder?: () => Promise<void>;
}

/** The outcome of a run. */
export interface TrainResult {
  out: string;
  best: string;
  last: string;
  bestEpoch: number;
  bestMetric: number;
  /** With weight averaging: how many epochs' mean weights the best checkpoint holds (else 0). */
  averagedEpochs: number;
  epochs: number;
  rows: EpochRow[];
  stoppedEarly: boolean;
  /** Where a stopped run stopped: in its epochs, or in the calibration after the last one. */
  stoppedIn?: "training" | "calibration";
  /**
   * The checkpoint to resume from: `last` once an epoch has been written there, else (a run
   * stopped in its first epoch) `interrupted_checkpoint.safetensors`; null when the run stopped
   * before its first step.
   */
  resumeFrom: string | null;
}

/** Trains a model as configured; see the module doc. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  // A config edited by hand (a notebook's cell) is checked before anything is written: one line
  // naming the field, not an error from inside the first step.
  validateConfig(options.config);
  const created = await firstMissing(options.out);
  await Deno.mkdir(options.out, { recursive: true });
  const unlock = await lockRunFolder(options.out);
  let ok = false;
  try {
    const result = await trainLocked(options);
    ok = true;
    return result;
  } finally {
    await unlock();
    // A run that failed before writing anything leaves no empty folders behind.
    if (!ok && created) await removeEmptyUpTo(options.out, created);
  }
}

/** The outermost folder of `path` that does not exist yet (mkdir will create it), or null. */
async function firstMissing(path: string): Promise<string | null> {
  let missing: string | null = null;
  for (let p = resolve(path);; p = dirname(p)) {
    try {
      await Deno.lstat(p);
      return missing;
    } catch {
      missing = p;
    }
    if (dirname(p) === p) return missing;
  }
}

/** Removes `path` and its parents up to `top` (inclusive) while they are empty. */
async function removeEmptyUpTo(path: string, top: string): Promise<void> {
  for (let p = resolve(path); p.startsWith(top); p = dirname(p)) {
    try {
      await Deno.remove(p); // fails unless empty
    } catch {
      return;
    }
    if (p === top) return;
  }
}

async function trainLocked(options: TrainOptions): Promise<TrainResult> {
  let config = options.config;
  const log = new RunLog(options.out, options.quiet ?? false, options.onLog, options.onWarning);
  // A folder to clear first keeps its earlier run's files untouched until the data is read.
  if (options.clearFolder) log.hold();
  // A folder whose run died before its first checkpoint is taken again (nothing to resume):
  // its log goes on, and says where this run begins.
  if (
    !options.resume && !options.clearFolder &&
    await Deno.stat(log.logPath).then(() => true, () => false)
  ) {
    log.line(
      "a new run starts here; the lines above are an earlier run's, stopped before its " +
        "first checkpoint",
    );
  }

  // Resume: the checkpoint's config wins, except for the number of epochs and (from an explicit
  // config) the evidence and scoring settings, which every validation refits.
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    resumed = await loadCheckpoint(options.resume);
    checkResumedSources(resumed.datasets, options.imageDirs, options.tablePaths, options.resume);
    const next = resumeConfig(
      resumed.config,
      config,
      options.resume,
      options.explicitConfig ?? false,
      options.epochs,
      options.trainSettingsGiven,
    );
    config = next.config;
    await checkEpochsToReach(resumed, options, config.train.epochs);
    if (next.note) log.line(next.note);
  }
  const m = config.model;
  const t = config.train;

  // Data.
  const data = await prepareTrainingData({
    imageDirs: options.imageDirs,
    tablePaths: options.tablePaths,
    resumed: resumed?.datasets,
    cacheDir: options.cacheDir,
    quiet: options.quiet ?? false,
    // Into train.log too: a duplicate-rows or leaked-label warning belongs with the run.
    warn: (line) => log.warn(line.replace(/^warning: /, "")),
  }, config);
  const { images: imageData, tables: tableData, specs } = data;
  const recordSource = options.recordSource;
  const records = recordSource
    ? data.records.map((r) => ({ ...r, source: recordSource(r.source) }))
    : data.records;
  if (options.clearFolder) {
    // A stop asked for while the data was read: the earlier run stays where it is, untouched.
    if (options.shouldStop?.()) {
      const [best, last] = [RUN_FILES.best, RUN_FILES.last].map((f) => join(options.out, f));
      return {
        out: options.out,
        best,
        last,
        bestEpoch: 0,
        bestMetric: -Infinity,
        averagedEpochs: 0,
        epochs: 0,
        rows: [],
        stoppedEarly: true,
        resumeFrom: null,
      };
    }
    await options.clearFolder();
    log.release();
  }
  log.line(describeData(data));
  for (const line of batchSizeNotes(options.trainSettingsGiven, config, data)) log.warn(line);

  // Model and optimiser.
  // With weight averaging a checkpoint's `params` are the mean and training resumes from its
  // latest weights.
  const params: Params = resumed
    ? resumed.averaging?.latest ?? resumed.params
    : initParams(m, specs, t.seed);
  let average: WeightAverage | null = resumed?.averaging
    ? { epochs: resumed.averaging.epochs, params: resumed.params }
    : null;
  const averageFrom = averagingStart(t);
  // How many epochs' mean weights the best checkpoint holds (0: one epoch's own weights).
  // (A checkpoint that holds a mean was saved in an averaged epoch, which every run keeps.)
  let keptMean = resumed?.averaging?.epochs ?? 0;
  const adam: AdamState = resumed?.adam ?? initAdam(params);
  const progress: TrainingProgress = resumed
    ? { ...resumed.progress }
    : { epoch: 0, step: 0, rngState: new Rng(t.seed).state, bestMetric: -Infinity, bestEpoch: 0 };
  const rng = new Rng(0);
  rng.state = progress.rngState;
  if (resumed) {
    const left = t.epochs - progress.epoch;
    log.line(
      `resumed from ${options.resume}: ${progress.epoch} of ${t.epochs} epochs done` +
        (left > 0
          ? `, ${left} to go`
          : m.calibrateOnAllNormals
          ? "; calibrating on all normals what is not calibrated yet"
          : ""),
    );
  }
  const last = join(options.out, RUN_FILES.last);
  const best = join(options.out, RUN_FILES.best);
  if (resumed) {
    const copied = await copyBestOfResumed(options.resume!, resumed, best);
    if (copied) {
      log.line(`best checkpoint so far (epoch ${progress.bestEpoch}) copied from ${copied}`);
    }
    const history = await copyEarlierMetrics(options.resume!, log.metricsPath, progress.epoch);
    if (history) {
      log.line(`metrics of ${counted(history.lines, "earlier epoch")} copied from ${history.from}`);
    }
  }
  const count = [...params.values()].reduce((s, p) => s + p.size, 0);
  const blas = systemBlasInUse();
  log.line(
    `model: ${count.toLocaleString("en")} parameters, ${tf.getBackend()} backend` +
      (blas
        ? `, products on ${blas.split(" ")[0]}`
        : tf.getBackend() === "wasm" && Deno.env.get("MADFORMER_BLAS") !== "off"
        ? ", products on tfjs-wasm (no BLAS library found: libopenblas0 makes steps ~3x faster)"
        : ""),
  );

  const rows: EpochRow[] = [];
  let stoppedEarly = false;
  let fitted = new Map<string, FittedKey>();
  // The model config `fitted` was fitted with: a resumed run's banks and statistics keep the
  // checkpoint's evidence and scoring settings until its first validation refits them.
  let fittedModel = m;
  if (resumed) {
    fittedModel = resumed.config.model;
    for (const [key, stats] of Object.entries(resumed.stats)) {
      fitted.set(key, { banks: banksOf(resumed, key), stats });
    }
  }
  const epochsThisCall = options.stopAfterEpochs ?? Infinity;
  const startEpoch = progress.epoch;
  // Banks of raw-pixel evidence depend on the data alone: built in the first validation, reused.
  const pixelBanks = new Map<string, Record<string, MemoryBank>>();
  const cores = navigator.hardwareConcurrency || 1;
  // Shards beyond the cores only add workers waiting for a core (on 2 cores, 99 shards made
  // each step over 20 times slower): the gradients are the same up to rounding in any number.
  const shards = t.shards > 0 ? Math.min(t.shards, cores) : cores;
  if (t.shards > cores) {
    const from = options.trainSettingsGiven?.shards ?? "train.shards";
    log.warn(
      `${from} ${t.shards} is more than the ${cores} CPU cores: training in ${cores} shards ` +
        `(more would only wait for a core)`,
    );
  }
  const pool = await GradientPool.start(shards, config, specs);
  if (shards > 1) {
    log.line(`training steps in ${shards} shards (this thread + ${shards - 1} workers)`);
  }
  for (const d of tableData) {
    const note = microBatchNote(config, d.prepared.record.name, d.prepared.d, shards);
    if (note) log.line(note);
  }
  try {
    while (progress.epoch < t.epochs && progress.epoch - startEpoch < epochsThisCall) {
      // A stop asked for during the data's preparation or the last validation: before a step.
      if (options.shouldStop?.()) {
        stoppedEarly = true;
        break;
      }
      const epoch = progress.epoch + 1;
      const started = performance.now();
      const lr = learningRate(t.lr, epoch, t.epochs);
      const plan = epochPlan(imageData, tableData, t, rng);
      const bar = new Progress(`epoch ${epoch}/${t.epochs}`, plan.length, {
        quiet: options.quiet,
      });
      let sum = { loss: 0, recon: 0, anomaly: 0 };
      let stepsDone = 0;
      const stepsStarted = performance.now();
      for (const step of plan) {
        const losses = step.kind === "image"
          ? await pool.imageStep(
            params,
            adam,
            config,
            imageBatch(config, imageData, step.indices, rng),
            lr,
          )
          : await pool.tableStep(
            params,
            adam,
            config,
            tableBatch(config, tableData[step.table], step.indices, rng),
            lr,
          ).catch((e) => {
            throw backendFailure(e, tableStepWhat(tableData[step.table], step.indices.length));
          });
        if (!Number.isFinite(losses.loss)) {
          throw new MadError(
            `loss became ${losses.loss} at epoch ${epoch} step ${progress.step + 1}; stopped. ` +
              lastGoodCheckpoint(last, options.resume, t.lr),
          );
        }
        progress.step++;
        stepsDone++;
        sum = {
          loss: sum.loss + losses.loss,
          recon: sum.recon + losses.recon,
          anomaly: sum.anomaly + losses.anomaly,
        };
        bar.tick(1, `loss ${losses.loss.toFixed(4)}`);
        if (options.shouldStop?.()) {
          stoppedEarly = true;
          break;
        }
      }
      if (stoppedEarly) {
        // The weights of the unfinished epoch go to their own file; the epoch is not counted, so
        // resuming from `last` repeats it exactly as an uninterrupted run would have run it.
        const interrupted = join(options.out, RUN_FILES.interrupted);
        await saveCheckpoint(
          interrupted,
          checkpointOf(
            { ...config, model: fittedModel },
            specs,
            records,
            params,
            adam,
            fitted,
            progress,
            average,
          ),
        );
        log.line(
          `interrupted in epoch ${epoch} after step ${stepsDone} of ${plan.length}; ` +
            `weights so far in ` +
            `${interrupted}; resume with --resume ${
              await resumeFile(last, interrupted) ?? interrupted
            }`,
        );
        break;
      }
      bar.done();
      record("train: steps", performance.now() - stepsStarted);

      // From the first averaged epoch on, the model is the mean of the weights so far (a mean
      // carried over from a run resumed with more epochs starts again).
      let model = params;
      if (epoch >= averageFrom) {
        if (epoch === averageFrom) {
          disposeAverage(average);
          average = null;
        }
        average = addToAverage(average, params);
        model = average.params;
      }
      const averaged = model !== params;

      // Validate: fit banks and statistics, score validation normals vs synthetic anomalies.
      const val: EpochRow["val"] = {};
      const nextFitted = new Map<string, FittedKey>();
      // Each dataset's fit runs without a pause (tens of seconds): say which one is under way.
      const validating = new Progress(
        `epoch ${epoch}/${t.epochs} validation`,
        imageData.length + tableData.length,
        { quiet: options.quiet },
      );
      for (const d of imageData) {
        const key = datasetKey(d.prepared.record);
        validating.begin(key);
        const aligned = d.prepared.record.pose?.aligned;
        const { fitted: f, report } = fitKey(
          model,
          m,
          { modality: "image", images: d.train, aligned },
          { modality: "image", images: d.val, aligned },
          { modality: "image", images: d.valAnomalies, aligned },
          t.seed,
          pixelBanks.get(key),
        );
        pixelBanks.set(key, pixelBanksOf(f.banks));
        nextFitted.set(key, f);
        val[key] = report;
        validating.advance();
      }
      for (const d of tableData) {
        const key = datasetKey(d.prepared.record);
        validating.begin(key);
        const p = d.prepared;
        const samples = (rows: Float32Array): Samples => ({
          modality: "table",
          table: p.record.name,
          rows,
          d: p.d,
        });
        const { fitted: f, report } = span("train: table validation", () =>
          fitKey(
            model,
            m,
            samples(p.train),
            samples(p.val),
            samples(d.valAnomalies),
            t.seed,
          ));
        nextFitted.set(key, f);
        val[key] = report;
        validating.advance();
      }
      validating.done();
      fitted = nextFitted;
      fittedModel = m;
      const keys = Object.keys(val);
      const valAuroc = keys.reduce((s, k) => s + val[k].auroc, 0) / keys.length;
      const n = plan.length || 1;
      const row: EpochRow = {
        epoch,
        loss: sum.loss / n,
        recon_loss: sum.recon / n,
        anomaly_loss: sum.anomaly / n,
        val_auroc: valAuroc,
        val,
        seconds: (performance.now() - started) / 1000,
        lr,
        ...(averaged ? { averaged_epochs: average!.epochs } : {}),
      };
      rows.push(row);
      progress.epoch = epoch;
      progress.rngState = rng.state;
      // With weight averaging the run keeps the mean, whatever validation says: choosing among
      // means of different lengths picks a draw of the synthetic anomalies, and the longest mean
      // read the dev data at least as well (docs/transformer-evidence.md, "Fourteenth pass").
      const improved = averaged || valAuroc > progress.bestMetric;
      if (improved) {
        progress.bestMetric = valAuroc;
        progress.bestEpoch = epoch;
        keptMean = averaged ? average!.epochs : 0;
      }
      const ckpt = checkpointOf(config, specs, records, params, adam, fitted, progress, average);
      await saveCheckpoint(last, ckpt);
      // A resumed run's interrupted weights are behind `last` now.
      await Deno.remove(join(options.out, RUN_FILES.interrupted)).catch(() => {});
      if (improved) await saveCheckpoint(best, ckpt);
      await log.epoch(row, improved);
      options.onEpoch?.(row);
    }
  } finally {
    pool.close();
    disposeAverage(average);
  }
  if (resumed) {
    disposeCheckpoint({ ...resumed, params: new Map(), adam: null, averaging: undefined });
  }
  let stoppedIn: TrainResult["stoppedIn"] = stoppedEarly ? "training" : undefined;
  if (!stoppedEarly && progress.epoch >= t.epochs && m.calibrateOnAllNormals) {
    const finished = await calibrateBest(
      best,
      imageData,
      tableData,
      pixelBanks,
      t.seed,
      log,
      options.quiet ?? false,
      options.shouldStop,
      options.onCalibrate,
    );
    if (!finished) {
      stoppedEarly = true;
      stoppedIn = "calibration";
    }
  }
  return {
    out: options.out,
    best,
    last,
    bestEpoch: progress.bestEpoch,
    bestMetric: progress.bestMetric,
    averagedEpochs: keptMean,
    epochs: progress.epoch,
    rows,
    stoppedEarly,
    ...(stoppedIn ? { stoppedIn } : {}),
    resumeFrom: await resumeFile(last, join(options.out, RUN_FILES.interrupted)),
  };
}

/**
 * Warning lines for a batch size flag given for a modality the run has no data of:
 * `--batch-size` counts images, so on tables alone it changes nothing (their rows per step are
 * `--table-batch-size`), and the other way round. A config file's values pass in silence (a
 * whole config sets both).
 */
export function batchSizeNotes(
  given: Partial<Record<keyof TrainConfig, string>> | undefined,
  config: Config,
  data: { images: unknown[]; tables: unknown[] },
): string[] {
  const t = config.train;
  // The two sizes mirror each other: each note names the other size's flag, key and value.
  const sizes = [
    {
      key: "batchSize",
      flag: "--batch-size",
      samples: data.images,
      counts: "images (images per training batch)",
      otherSetBy: "the rows of a table batch are set by",
    },
    {
      key: "tableBatchSize",
      flag: "--table-batch-size",
      samples: data.tables,
      counts: "tables (rows per training batch)",
      otherSetBy: "images per batch are set by",
    },
  ] as const;
  return sizes.flatMap((size, i) => {
    if (given?.[size.key] !== size.flag || size.samples.length > 0) return [];
    const other = sizes[1 - i];
    return [
      `${size.flag} ${t[size.key]} applies to ${size.counts} and this run has none: ` +
      `${size.otherSetBy} ${other.flag} (train.${other.key}, now ${t[other.key]})`,
    ];
  });
}

/**
 * The checkpoint a stopped run resumes from: `last` when an epoch wrote it (resuming repeats
 * the unfinished epoch exactly), else the interrupted one (stopped in its first epoch), else
 * none (stopped before its first step).
 */
async function resumeFile(last: string, interrupted: string): Promise<string | null> {
  for (const path of [last, interrupted]) {
    if (await Deno.stat(path).then((s) => s.isFile, () => false)) return path;
  }
  return null;
}

/**
 * Refuses, before anything is written, a resume whose epoch to reach (`epochs`) is below the
 * epochs the checkpoint has done (the run cannot go back), or equal to them when nothing is left
 * to do (calibrated, or nothing to calibrate): such a run would write no checkpoint in its folder
 * yet name one. A run at its last epoch whose calibration was stopped still resumes, to finish it.
 */
async function checkEpochsToReach(
  resumed: Checkpoint,
  options: TrainOptions,
  epochs: number,
): Promise<void> {
  const done = resumed.progress.epoch;
  const path = options.resume!;
  const from = options.trainSettingsGiven?.epochs ?? "--epochs";
  if (epochs < done) {
    throw new MadError(
      `${path}: has ${
        counted(done, "epoch")
      } done already; ${from} ${epochs} is the epoch to reach and ` +
        `must be above ${done} to train on (the checkpoints of those ${done} are in ` +
        `${dirname(path)})`,
    );
  }
  if (epochs > done) return;
  const bestPath = join(dirname(path), RUN_FILES.best);
  if (resumed.config.model.calibrateOnAllNormals && !(await isCalibrated(bestPath))) return;
  throw new MadError(
    `${path}: nothing to train: all ${counted(done, "epoch")} are done` +
      (resumed.config.model.calibrateOnAllNormals ? " and calibrated" : "") +
      `; the run's checkpoints are in ${dirname(path)} (best: ${bestPath}); give --epochs above ` +
      `${done} to train on`,
  );
}

/**
 * A run resumed into another folder than its checkpoint's goes on there: its best checkpoint so
 * far (in the checkpoint's folder, when it is that run's best epoch) is copied to `best`, so the
 * folder holds the run's best even when no later epoch beats it, and the final calibration has
 * it to refit. Returns the path copied, or null (same folder, or no such best checkpoint).
 */
/**
 * On a resume into another folder: copies the resumed run's `metrics.jsonl` lines of epochs up
 * to `epoch` (those the checkpoint holds) into `metrics`, so that the new folder's history starts
 * at epoch 1, not at the first resumed epoch. Does nothing when resuming in the same folder, when
 * the resumed folder has no metrics, or when `metrics` already holds lines. Lines that are not an
 * epoch's JSON are left out; an epoch written twice keeps its last line.
 */
async function copyEarlierMetrics(
  resume: string,
  metrics: string,
  epoch: number,
): Promise<{ from: string; lines: number } | null> {
  const source = join(dirname(resume), RUN_FILES.metrics);
  if (samePath(source, metrics) || !isFile(source)) return null;
  if (isFile(metrics) && (await Deno.stat(metrics)).size > 0) return null;
  // By epoch, the last line of each: a run stopped between an epoch's line and its checkpoint
  // and resumed in place wrote that epoch twice.
  const byEpoch = new Map<number, string>();
  for (const line of (await Deno.readTextFile(source)).split("\n")) {
    let row: Partial<EpochRow>;
    try {
      row = JSON.parse(line);
    } catch {
      continue;
    }
    const e = row?.epoch;
    if (typeof e === "number" && Number.isInteger(e) && e >= 1 && e <= epoch) byEpoch.set(e, line);
  }
  const lines = [...byEpoch.entries()].sort(([a], [b]) => a - b).map(([, line]) => line);
  if (lines.length === 0) return null;
  await Deno.writeTextFile(metrics, lines.join("\n") + "\n");
  return { from: source, lines: lines.length };
}

async function copyBestOfResumed(
  resume: string,
  resumed: Checkpoint,
  best: string,
): Promise<string | null> {
  const source = join(dirname(resume), RUN_FILES.best);
  if (samePath(source, best) || !isFile(source)) return null;
  const ckpt = await loadCheckpoint(source, { optimizer: false });
  const epoch = ckpt.progress.epoch;
  disposeCheckpoint(ckpt);
  if (epoch !== resumed.progress.bestEpoch) return null;
  await Deno.copyFile(source, best);
  return source;
}

/**
 * The end of the message for a loss that is not a number: the checkpoint to go back to when
 * there is one (this run's last epoch, else the one it resumed from), else that none was
 * written yet, with what to change.
 */
function lastGoodCheckpoint(last: string, resume: string | undefined, lr: number): string {
  const good = isFile(last) ? last : resume;
  if (good) return `The last good checkpoint is ${good} (a run with a lower --lr may get further)`;
  return `No checkpoint was written yet (the first epoch did not finish): train again with a ` +
    `lower --lr (this run's is ${lr})`;
}

/** What a table step that failed was doing, for the one-line error. */
function tableStepWhat(d: TableData, rows: number): string {
  const p = d.prepared;
  return `${p.record.source}: a training step on table ${p.record.name} (${rows} rows x ${p.d} ` +
    `features)`;
}

/** The banks of a fit that depend on the data alone (see `isPixelComponent`). */
function pixelBanksOf(banks: Record<string, MemoryBank>): Record<string, MemoryBank> {
  return Object.fromEntries(Object.entries(banks).filter(([name]) => isPixelComponent(name)));
}

/** Cosine decay after a one-epoch warm-up. */
function learningRate(base: number, epoch: number, epochs: number): number {
  if (epochs <= 1) return base;
  const progress = (epoch - 1) / (epochs - 1);
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

function checkpointOf(
  config: Config,
  tables: TableSpec[],
  datasets: DatasetRecord[],
  params: Params,
  adam: AdamState,
  fitted: Map<string, FittedKey>,
  progress: TrainingProgress,
  average: WeightAverage | null,
): Checkpoint {
  const banks = new Map<string, MemoryBank>();
  const stats: Record<string, KeyStats> = {};
  for (const [key, f] of fitted) {
    for (const [component, bank] of Object.entries(f.banks)) banks.set(`${key}|${component}`, bank);
    stats[key] = f.stats;
  }
  // Averaging: the mean is the model the banks and statistics were fitted to; the latest weights
  // go along for resuming.
  const weights = average && progress.epoch >= averagingStart(config.train)
    ? { params: average.params, averaging: { epochs: average.epochs, latest: params } }
    : { params };
  return { config, tables, datasets, ...weights, adam, banks, stats, progress: { ...progress } };
}

/**
 * The training loop, top to bottom: prepare data, build or restore the model, then per epoch
 * alternate image and table batches, validate on validation normals plus deterministic synthetic
 * anomalies (test labels are never looked at), and write checkpoints atomically.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { systemBlasInUse } from "../backend/blas.ts";
import type { Config } from "../model/config.ts";
import {
  geometry,
  initParams,
  type Params,
  randomMaskValues,
  type TableSpec,
} from "../model/madformer.ts";
import { fitImageKey, fitKey, type FittedKey, type Samples } from "../model/scorer.ts";
import { isPixelComponent, type KeyStats } from "../model/detector.ts";
import type { MemoryBank } from "../model/knn.ts";
import {
  syntheticImageAnomaly,
  syntheticTableAnomaly,
  validationImageAnomalies,
} from "../data/anomalies.ts";
import type { SplitSpec } from "../data/types.ts";
import { ImageCache } from "../data/image_cache.ts";
import { type AdamState, initAdam } from "./optimizer.ts";
import type { ImageBatchData, TableBatchData } from "./step.ts";
import { GradientPool } from "./parallel.ts";
import {
  type Checkpoint,
  disposeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type TrainingProgress,
} from "./checkpoint.ts";
import {
  assertDistinctTableNames,
  datasetKey,
  type DatasetRecord,
  decodeAll,
  type PreparedImages,
  type PreparedTable,
  prepareImages,
  prepareTable,
} from "./datasets.ts";
import { type EpochRow, RunLog } from "./log.ts";
import { banksOf } from "./fitted.ts";
import { Progress } from "../util/progress.ts";
import { MadError } from "../errors.ts";
import { ANOMALY_SEED_OFFSET, Rng } from "../rng.ts";
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
   * On resume, whether `config` was chosen explicitly (a config file); if not, the
   * checkpoint's own config is used and only the epoch count is taken from `config`.
   */
  explicitConfig?: boolean;
  /** Folder of the decoded-image disk cache. */
  cacheDir?: string;
  /** No progress bars (tests, notebooks that print their own). */
  quiet?: boolean;
  /** Called after every epoch with its metrics row. */
  onEpoch?: (row: EpochRow) => void;
  /** Stops after this many epochs of this call (resume tests). */
  stopAfterEpochs?: number;
  /**
   * Polled after every step; when it returns true the run writes
   * `interrupted_checkpoint.safetensors` and returns with `stoppedEarly`.
   */
  shouldStop?: () => boolean;
}

/** The outcome of a run. */
export interface TrainResult {
  out: string;
  best: string;
  last: string;
  bestEpoch: number;
  bestMetric: number;
  epochs: number;
  rows: EpochRow[];
  stoppedEarly: boolean;
}

/** A decoded image category ready for batches. */
interface ImageData {
  prepared: PreparedImages;
  train: Float32Array[];
  val: Float32Array[];
  valAnomalies: Float32Array[];
}

/** A table ready for batches. */
interface TableData {
  prepared: PreparedTable;
  valAnomalies: Float32Array;
}

/** Trains a model as configured; see the module doc. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  await Deno.mkdir(options.out, { recursive: true });
  const unlock = await lockRunFolder(options.out);
  try {
    return await trainLocked(options);
  } finally {
    await unlock();
  }
}

/**
 * Claims a run folder for this process: two runs writing the same checkpoints would corrupt
 * each other's resume state. A lock left by a process that no longer exists is taken over.
 */
async function lockRunFolder(out: string): Promise<() => Promise<void>> {
  const path = join(out, ".lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, String(Deno.pid), { createNew: true });
      return () => Deno.remove(path).catch(() => {});
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const pid = Number(await Deno.readTextFile(path).catch(() => ""));
      if (pid > 0 && pid !== Deno.pid && processAlive(pid)) {
        throw new MadError(`${out}: in use by another training run (pid ${pid})`);
      }
      await Deno.remove(path).catch(() => {});
    }
  }
  throw new MadError(`${out}: cannot lock the run folder`);
}

function processAlive(pid: number): boolean {
  try {
    return Deno.statSync(`/proc/${pid}`).isDirectory;
  } catch {
    return false;
  }
}

async function trainLocked(options: TrainOptions): Promise<TrainResult> {
  let config = options.config;
  const log = new RunLog(options.out, options.quiet ?? false);

  // Resume: the checkpoint's config wins, except for the number of epochs.
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    resumed = await loadCheckpoint(options.resume);
    if (options.explicitConfig) assertCompatible(resumed.config, config, options.resume);
    // The run's own epoch count unless a new one was asked for (to extend the run).
    const epochs = options.epochs ??
      (options.explicitConfig ? config.train.epochs : resumed.config.train.epochs);
    config = { ...resumed.config, train: { ...resumed.config.train, epochs } };
  }
  const m = config.model;
  const t = config.train;
  const split: SplitSpec = { protocol: "half-normals", seed: t.seed, valShare: t.valShare };
  const tableOptions = { logSkewed: m.tableLogSkewed };

  // Data.
  const images = resumed
    ? await prepareImages(uniqueSources(resumed.datasets, "image"), split)
    : await prepareImages(options.imageDirs, split);
  const tables = resumed
    ? resumed.datasets.filter((d) => d.modality === "table").map((d) =>
      prepareTable(d.source, d.split, undefined, d.name, tableOptions)
    )
    : options.tablePaths.map((p) =>
      prepareTable(p, { ...split, protocol: protocolFor(p) }, undefined, undefined, tableOptions)
    );
  assertDistinctTableNames(tables.map((p) => p.record));
  if (images.length === 0 && tables.length === 0) {
    throw new MadError("no training data: give --images DIR and/or --table FILE");
  }
  const cache = new ImageCache(options.cacheDir);
  const imageData = await decodeImages(images, cache, m.imageSize, t.seed, options.quiet ?? false);
  const tableData = tables.map((p, i) => ({
    prepared: p,
    valAnomalies: tableAnomalies(p.val, p.train, p.d, new Rng(t.seed + 7919 * (i + 1))),
  }));
  const records: DatasetRecord[] = [
    ...images.map((p) => p.record),
    ...tables.map((p) => p.record),
  ];
  const specs: TableSpec[] = tables.map((p) => ({ name: p.record.name, features: p.d }));
  log.line(
    `data: ${
      imageData.map((d) => `${d.prepared.record.name} ${d.train.length}/${d.val.length}`)
        .concat(tableData.map((d) =>
          `${d.prepared.record.name} ${d.prepared.train.length / d.prepared.d}/${
            d.prepared.val.length / d.prepared.d
          }`
        )).join(", ")
    } (train/val normals)`,
  );

  // Model and optimiser.
  const params: Params = resumed ? resumed.params : initParams(m, specs, t.seed);
  const adam: AdamState = resumed?.adam ?? initAdam(params);
  const progress: TrainingProgress = resumed
    ? { ...resumed.progress }
    : { epoch: 0, step: 0, rngState: new Rng(t.seed).state, bestMetric: -Infinity, bestEpoch: 0 };
  const rng = new Rng(0);
  rng.state = progress.rngState;
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

  const last = join(options.out, "last_checkpoint.safetensors");
  const best = join(options.out, "best_model_checkpoint.safetensors");
  const rows: EpochRow[] = [];
  let stoppedEarly = false;
  let fitted = new Map<string, FittedKey>();
  if (resumed) {
    for (const [key, stats] of Object.entries(resumed.stats)) {
      fitted.set(key, { banks: banksOf(resumed, key), stats });
    }
  }
  const epochsThisCall = options.stopAfterEpochs ?? Infinity;
  const startEpoch = progress.epoch;
  // Banks of raw-pixel evidence depend on the data alone: built in the first validation, reused.
  const pixelBanks = new Map<string, Record<string, MemoryBank>>();
  const shards = t.shards > 0 ? t.shards : navigator.hardwareConcurrency || 1;
  const pool = await GradientPool.start(shards, config, specs);
  if (shards > 1) {
    log.line(`training steps in ${shards} shards (this thread + ${shards - 1} workers)`);
  }
  try {
    while (progress.epoch < t.epochs && progress.epoch - startEpoch < epochsThisCall) {
      const epoch = progress.epoch + 1;
      const started = performance.now();
      const lr = learningRate(t.lr, epoch, t.epochs);
      const plan = epochPlan(imageData, tableData, t, rng);
      const bar = new Progress(`epoch ${epoch}/${t.epochs}`, plan.length, {
        quiet: options.quiet,
      });
      let sum = { loss: 0, recon: 0, anomaly: 0 };
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
          );
        if (!Number.isFinite(losses.loss)) {
          throw new MadError(
            `loss became ${losses.loss} at epoch ${epoch} step ${progress.step + 1}; stopped. ` +
              `The last good checkpoint is ${last} (try a lower --lr)`,
          );
        }
        progress.step++;
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
        const interrupted = join(options.out, "interrupted_checkpoint.safetensors");
        await saveCheckpoint(
          interrupted,
          checkpointOf(config, specs, records, params, adam, fitted, progress),
        );
        log.line(
          `interrupted in epoch ${epoch} after step ${progress.step}; weights so far in ` +
            `${interrupted}; resume with --resume ${last}`,
        );
        break;
      }
      bar.done();
      record("train: steps", performance.now() - stepsStarted);

      // Validate: fit banks and statistics, score validation normals vs synthetic anomalies.
      const val: EpochRow["val"] = {};
      const nextFitted = new Map<string, FittedKey>();
      for (const d of imageData) {
        const key = datasetKey(d.prepared.record);
        const { fitted: f, report } = fitKey(
          params,
          m,
          { modality: "image", images: d.train },
          { modality: "image", images: d.val },
          { modality: "image", images: d.valAnomalies },
          t.seed,
          pixelBanks.get(key),
        );
        pixelBanks.set(key, pixelBanksOf(f.banks));
        nextFitted.set(key, f);
        val[key] = report;
      }
      for (const d of tableData) {
        const key = datasetKey(d.prepared.record);
        const p = d.prepared;
        const samples = (rows: Float32Array): Samples => ({
          modality: "table",
          table: p.record.name,
          rows,
          d: p.d,
        });
        const { fitted: f, report } = span("train: table validation", () =>
          fitKey(
            params,
            m,
            samples(p.train),
            samples(p.val),
            samples(d.valAnomalies),
            t.seed,
          ));
        nextFitted.set(key, f);
        val[key] = report;
      }
      fitted = nextFitted;
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
      };
      rows.push(row);
      progress.epoch = epoch;
      progress.rngState = rng.state;
      const improved = valAuroc > progress.bestMetric;
      if (improved) {
        progress.bestMetric = valAuroc;
        progress.bestEpoch = epoch;
      }
      const ckpt = checkpointOf(config, specs, records, params, adam, fitted, progress);
      await saveCheckpoint(last, ckpt);
      if (improved) await saveCheckpoint(best, ckpt);
      await log.epoch(row, improved);
      options.onEpoch?.(row);
    }
  } finally {
    pool.close();
  }
  if (resumed) disposeCheckpoint({ ...resumed, params: new Map(), adam: null });
  if (!stoppedEarly && progress.epoch >= t.epochs && m.calibrateOnAllNormals) {
    await calibrateBest(best, imageData, pixelBanks, t.seed, log, options.quiet ?? false);
  }
  return {
    out: options.out,
    best,
    last,
    bestEpoch: progress.bestEpoch,
    bestMetric: progress.bestMetric,
    epochs: progress.epoch,
    rows,
    stoppedEarly,
  };
}

/** The banks of a fit that depend on the data alone (see `isPixelComponent`). */
function pixelBanksOf(banks: Record<string, MemoryBank>): Record<string, MemoryBank> {
  return Object.fromEntries(Object.entries(banks).filter(([name]) => isPixelComponent(name)));
}

/**
 * Refits the best checkpoint's image categories on all their normals (`calibrateImageKey`) and
 * rewrites it; a checkpoint whose categories are already calibrated is left as it is. The
 * banks are rebuilt as validation built them (same features, same seed), so they are the same.
 */
async function calibrateBest(
  best: string,
  imageData: ImageData[],
  pixelBanks: Map<string, Record<string, MemoryBank>>,
  seed: number,
  log: RunLog,
  quiet: boolean,
): Promise<void> {
  // No best checkpoint when no epoch validated: nothing to calibrate.
  if (!(await Deno.stat(best).then(() => true, () => false))) return;
  const ckpt = await loadCheckpoint(best);
  try {
    const todo = imageData.filter((d) => !ckpt.stats[datasetKey(d.prepared.record)]?.calibrated);
    if (todo.length === 0) return;
    const bar = new Progress("calibrating on all normals", todo.length, { quiet });
    const lines: string[] = [];
    for (const d of todo) {
      const key = datasetKey(d.prepared.record);
      const index = imageData.indexOf(d);
      const { fitted, report } = fitImageKey(
        ckpt.params,
        ckpt.config.model,
        d.train,
        d.val,
        seed,
        seed + ANOMALY_SEED_OFFSET * (index + 1),
        pixelBanks.get(key),
      );
      ckpt.stats[key] = fitted.stats;
      for (const [component, bank] of Object.entries(fitted.banks)) {
        ckpt.banks.set(`${key}|${component}`, bank);
      }
      lines.push(
        `${key} ${report.auroc.toFixed(4)} on ${fitted.stats.calibrated} normals` +
          ` (${report.smooth ? "smoothed" : "plain"} map maximum)`,
      );
      bar.tick(1);
    }
    bar.done();
    await saveCheckpoint(best, ckpt);
    log.line(`calibrated ${best}: ${lines.join(", ")}`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}

function protocolFor(path: string): SplitSpec["protocol"] {
  try {
    if (Deno.statSync(path).isDirectory) return "given";
  } catch {
    // prepareTable reports the missing file
  }
  return "half-normals";
}

function uniqueSources(records: DatasetRecord[], modality: "image" | "table"): string[] {
  return [...new Set(records.filter((r) => r.modality === modality).map((r) => r.source))];
}

function assertCompatible(saved: Config, wanted: Config, path: string): void {
  const a = JSON.stringify(saved.model);
  const b = JSON.stringify(wanted.model);
  if (a !== b) {
    const diff = Object.keys(saved.model).filter((k) =>
      JSON.stringify((saved.model as unknown as Record<string, unknown>)[k]) !==
        JSON.stringify((wanted.model as unknown as Record<string, unknown>)[k])
    );
    throw new MadError(
      `${path}: cannot resume with a different model config (differs in ${diff.join(", ")})`,
    );
  }
}

/** Cosine decay after a one-epoch warm-up. */
function learningRate(base: number, epoch: number, epochs: number): number {
  if (epochs <= 1) return base;
  const progress = (epoch - 1) / (epochs - 1);
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

async function decodeImages(
  images: PreparedImages[],
  cache: ImageCache,
  size: number,
  seed: number,
  quiet: boolean,
): Promise<ImageData[]> {
  const total = images.reduce((s, p) => s + p.train.length + p.val.length, 0);
  const bar = new Progress("decoding images", total, { quiet });
  const out: ImageData[] = [];
  for (const [i, p] of images.entries()) {
    const train = await decodeAll(cache, p.train, size);
    bar.tick(p.train.length);
    const val = await decodeAll(cache, p.val, size);
    bar.tick(p.val.length);
    const valAnomalies = validationImageAnomalies(
      seed + ANOMALY_SEED_OFFSET * (i + 1),
      val,
      train,
      size,
    );
    out.push({ prepared: p, train, val, valAnomalies });
  }
  if (total > 0) bar.done();
  return out;
}

function tableAnomalies(val: Float32Array, train: Float32Array, d: number, rng: Rng): Float32Array {
  const n = val.length / d;
  const nTrain = train.length / d;
  const out = new Float32Array(val.length);
  for (let i = 0; i < n; i++) {
    const at = rng.int(nTrain) * d;
    const donor = train.subarray(at, at + d);
    out.set(syntheticTableAnomaly(rng, val.subarray(i * d, i * d + d), donor), i * d);
  }
  return out;
}

type Step =
  | { kind: "image"; indices: Array<[number, number]> }
  | { kind: "table"; table: number; indices: number[] };

/** The order of an epoch's steps: image batches, each followed by table batches in turn. */
function epochPlan(images: ImageData[], tables: TableData[], t: Config["train"], rng: Rng): Step[] {
  const imagePairs: Array<[number, number]> = [];
  images.forEach((d, c) => d.train.forEach((_, i) => imagePairs.push([c, i])));
  rng.shuffle(imagePairs);
  const imageSteps: Step[] = [];
  for (
    let i = 0;
    i + t.batchSize <= imagePairs.length || (i === 0 && imagePairs.length > 0);
    i += t.batchSize
  ) {
    imageSteps.push({ kind: "image", indices: imagePairs.slice(i, i + t.batchSize) });
  }
  const tableSteps = imageSteps.length > 0
    ? imageSteps.length * t.tableStepsPerImageStep
    : t.tableStepsPerEpoch;
  const orders = tables.map((d) =>
    rng.shuffle([...Array(d.prepared.train.length / d.prepared.d).keys()])
  );
  const cursors = tables.map(() => 0);
  const nextTableStep = (k: number): Step => {
    const table = k % tables.length;
    const order = orders[table];
    const size = Math.min(t.tableBatchSize, order.length);
    if (cursors[table] + size > order.length) {
      rng.shuffle(order);
      cursors[table] = 0;
    }
    const indices = order.slice(cursors[table], cursors[table] + size);
    cursors[table] += size;
    return { kind: "table", table, indices };
  };
  const plan: Step[] = [];
  let k = 0;
  if (imageSteps.length === 0) {
    for (; k < tableSteps; k++) plan.push(nextTableStep(k));
    return plan;
  }
  for (const step of imageSteps) {
    plan.push(step);
    if (tables.length === 0) continue;
    for (let j = 0; j < t.tableStepsPerImageStep; j++, k++) plan.push(nextTableStep(k));
  }
  return plan;
}

/** The data of an image step: flips and synthetic anomalies drawn with `rng`, and token masks. */
function imageBatch(
  config: Config,
  data: ImageData[],
  indices: Array<[number, number]>,
  rng: Rng,
): ImageBatchData {
  const m = config.model;
  const S = m.imageSize;
  const g = geometry(m);
  const B = indices.length;
  const clean = new Float32Array(B * S * S * 3);
  const input = new Float32Array(B * S * S * 3);
  const masks = new Float32Array(B * S * S);
  const labels = new Float32Array(B);
  indices.forEach(([c, i], b) => {
    const img = flipMaybe(data[c].train[i], S, rng);
    clean.set(img, b * S * S * 3);
    if (m.anomalyHead && rng.next() < config.train.anomalyShare) {
      const donorSet = data[rng.int(data.length)].train;
      const donor = donorSet[rng.int(donorSet.length)];
      const a = syntheticImageAnomaly(rng, { size: S, data: img }, { size: S, data: donor });
      input.set(a.data, b * S * S * 3);
      masks.set(a.mask, b * S * S);
      labels[b] = 1;
    } else {
      input.set(img, b * S * S * 3);
    }
  });
  const tokenMask = randomMaskValues(rng, B, g.tokens, m.reconstructionHead ? m.maskRatio : 0);
  return { n: B, size: S, input, clean, masks, labels, tokenMask };
}

/** Random horizontal flip: a symmetry most inspection images have. */
function flipMaybe(img: Float32Array, S: number, rng: Rng): Float32Array {
  if (rng.next() < 0.5) return img;
  const out = new Float32Array(img.length);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const src = (y * S + (S - 1 - x)) * 3;
      const dst = (y * S + x) * 3;
      out[dst] = img[src];
      out[dst + 1] = img[src + 1];
      out[dst + 2] = img[src + 2];
    }
  }
  return out;
}

/** The data of a table step: synthetic anomalies drawn with `rng`, and feature masks. */
function tableBatch(
  config: Config,
  data: TableData,
  indices: number[],
  rng: Rng,
): TableBatchData {
  const m = config.model;
  const p = data.prepared;
  const d = p.d;
  const B = indices.length;
  const nTrain = p.train.length / d;
  const clean = new Float32Array(B * d);
  const input = new Float32Array(B * d);
  const labels = new Float32Array(B);
  indices.forEach((r, b) => {
    const row = p.train.subarray(r * d, r * d + d);
    clean.set(row, b * d);
    if (m.anomalyHead && rng.next() < config.train.anomalyShare) {
      const donor = rng.int(nTrain);
      input.set(syntheticTableAnomaly(rng, row, p.train.subarray(donor * d, donor * d + d)), b * d);
      labels[b] = 1;
    } else {
      input.set(row, b * d);
    }
  });
  const mask = randomMaskValues(rng, B, d, m.reconstructionHead ? m.tableMaskRatio : 0);
  return { table: p.record.name, n: B, d, input, clean, labels, mask };
}

function checkpointOf(
  config: Config,
  tables: TableSpec[],
  datasets: DatasetRecord[],
  params: Params,
  adam: AdamState,
  fitted: Map<string, FittedKey>,
  progress: TrainingProgress,
): Checkpoint {
  const banks = new Map<string, MemoryBank>();
  const stats: Record<string, KeyStats> = {};
  for (const [key, f] of fitted) {
    for (const [component, bank] of Object.entries(f.banks)) banks.set(`${key}|${component}`, bank);
    stats[key] = f.stats;
  }
  return { config, tables, datasets, params, adam, banks, stats, progress: { ...progress } };
}

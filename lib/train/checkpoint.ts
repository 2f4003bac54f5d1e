/**
 * Checkpoints: model weights, optimiser state, memory banks and scoring statistics as
 * safetensors tensors; config, tables, dataset splits, normalisation and training progress as
 * JSON in the metadata. Written atomically, versioned, and checked on load.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Config } from "../model/config.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../model/config.ts";
import {
  initParams,
  newInstance,
  type Params,
  paramVariable,
  stemInputChannels,
  tableGroups,
  type TableSpec,
} from "../model/madformer.ts";
import {
  type BankProjection,
  CELL_COORDINATES,
  type MemoryBank,
  storedWidth,
} from "../model/knn.ts";
import { type KeyStats, knnDim } from "../model/detector.ts";
import { CLASSIC_FOREST } from "../model/isolation.ts";
import { isTailScale } from "../model/tail_scale.ts";
import { componentOf, evidenceSwitches } from "../model/evidence/registry.ts";
import type { AdamState } from "./optimizer.ts";
import type { DatasetRecord } from "./datasets.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { isDirectory, writeFileAtomic } from "../util/files.ts";
import { isNotFound, MadError } from "../errors.ts";
import { checkNormalisation } from "../data/normalise.ts";
import type { FlagSpec } from "../util/flags.ts";

/** Identifies our checkpoints in their metadata (`format`). */
export const CHECKPOINT_FORMAT = "madformer-checkpoint";
/** The checkpoint layout version written, and the only one read (`version`). */
export const CHECKPOINT_VERSION = 1;

/** The `--checkpoint` flag of the scripts that use a trained model (eval, score). */
export const CHECKPOINT_FLAG = {
  type: "string",
  required: true,
  value: "CKPT",
  description: "the trained model (a .safetensors file from deno task train)",
} as const satisfies FlagSpec;

/** Where a run stands, for `--resume`. */
export interface TrainingProgress {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken. */
  step: number;
  /** State of the run's random stream after `epoch`. */
  rngState: number;
  bestMetric: number;
  bestEpoch: number;
}

/** Everything a checkpoint holds. */
export interface Checkpoint {
  config: Config;
  tables: TableSpec[];
  datasets: DatasetRecord[];
  params: Params;
  adam: AdamState | null;
  banks: Map<string, MemoryBank>;
  stats: Record<string, KeyStats>;
  progress: TrainingProgress;
  /**
   * A run that averages weights (`train.averageWeights`): `params` is then the mean over
   * `epochs` epochs (what the banks, the statistics and every score belong to) and `latest` the
   * weights the next training step starts from.
   */
  averaging?: { epochs: number; latest: Params };
}

/** Serialises a checkpoint to safetensors bytes. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const tensors = new Map<string, NamedTensor>();
  const put = (name: string, t: tf.Tensor) =>
    tensors.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
  for (const [name, p] of ckpt.params) put(`param.${name}`, p);
  for (const [name, p] of ckpt.averaging?.latest ?? []) put(`latest.${name}`, p);
  if (ckpt.adam) {
    for (const [name, m] of ckpt.adam.m) put(`adam.m.${name}`, m);
    for (const [name, v] of ckpt.adam.v) put(`adam.v.${name}`, v);
  }
  for (const [key, bank] of ckpt.banks) {
    tensors.set(`bank.${key}`, { shape: [storedWidth(bank), bank.rows], data: bank.transposed });
    const projection = bank.projection;
    if (projection) {
      tensors.set(`bankproj.${key}.mean`, { shape: [bank.dim], data: projection.mean });
      tensors.set(`bankproj.${key}.basis`, {
        shape: [bank.dim, projection.width],
        data: projection.basis,
      });
      tensors.set(`bankproj.${key}.norms`, { shape: [bank.rows], data: projection.norms });
    }
    if (bank.cellStep) {
      tensors.set(`bankcell.${key}`, { shape: [1], data: Float32Array.of(bank.cellStep) });
    }
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    config: JSON.stringify(ckpt.config),
    tables: JSON.stringify(ckpt.tables),
    datasets: JSON.stringify(ckpt.datasets),
    stats: JSON.stringify(ckpt.stats),
    progress: JSON.stringify(ckpt.progress),
    adam_step: String(ckpt.adam?.step ?? 0),
    ...(ckpt.averaging ? { averaged_epochs: String(ckpt.averaging.epochs) } : {}),
  };
  return encodeSafetensors(tensors, metadata);
}

/** Writes a checkpoint atomically (a kill mid-write leaves the previous file intact). */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ckpt));
}

/** Reads and checks a checkpoint; every problem is a one-line error naming the file. */
export async function loadCheckpoint(
  path: string,
  options: CheckpointReadOptions = {},
): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new MadError(
      `${path}: ${
        isNotFound(e)
          ? "checkpoint not found"
          : isDirectory(path)
          ? "is a folder; give the checkpoint file in it (best_model_checkpoint.safetensors)"
          : `cannot read checkpoint (${e instanceof Error ? e.message.split("\n")[0] : e})`
      }`,
    );
  }
  return decodeCheckpoint(bytes, path, options);
}

/** What a reader of a checkpoint needs of it. */
export interface CheckpointReadOptions {
  /**
   * Whether to make the optimiser state (for resuming training; default true). Scoring and
   * evaluation leave it out: it is twice the model's weights, and a tenth of a second to make.
   */
  optimizer?: boolean;
}

/**
 * Parses checkpoint bytes (see {@linkcode loadCheckpoint}). Refuses, with a one-line MadError
 * naming `path`: damaged safetensors, files without our format tag (foreign safetensors),
 * another format version, metadata that is missing or malformed, and weights whose names or
 * shapes do not match the stored config (a checkpoint of another model config).
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  path: string,
  options: CheckpointReadOptions = {},
): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const fail = (problem: string): never => {
    throw new MadError(`${path}: ${problem}`);
  };
  if (metadata.format !== CHECKPOINT_FORMAT) {
    fail("not a MADformer checkpoint (no madformer format tag in its metadata)");
  }
  if (metadata.version === undefined) fail("checkpoint has no format version");
  if (Number(metadata.version) !== CHECKPOINT_VERSION) {
    fail(
      `checkpoint format version ${metadata.version}, this MADformer reads ${CHECKPOINT_VERSION}`,
    );
  }
  const json = (key: string): unknown => {
    try {
      return JSON.parse(metadata[key]);
    } catch {
      return fail(`metadata '${key}' is missing or not JSON`);
    }
  };
  const storedConfig = json("config");
  const config = mergeConfig(DEFAULT_CONFIG, storedConfig, `${path} (config)`);
  // Checkpoints from before model.knnTokenLayer existed built their token banks from the encoder
  // output; the new default would silently compare other features with them.
  const storedModel = (storedConfig as { model?: Record<string, unknown> } | null)?.model;
  if (!storedModel || !("knnTokenLayer" in storedModel)) {
    config.model.knnTokenLayer = config.model.layers;
  }
  // Checkpoints from before later settings and evidence switches keep scoring as they did.
  for (const [key, legacy] of Object.entries({ ...LEGACY_MODEL, ...legacySwitches() })) {
    if (!storedModel || !(key in storedModel)) {
      (config.model as unknown as Record<string, unknown>)[key] = structuredClone(legacy);
    }
  }
  // Runs from before weight averaging resume as they were trained.
  const storedTrain = (storedConfig as { train?: Record<string, unknown> } | null)?.train;
  if (!storedTrain || !("averageWeights" in storedTrain)) config.train.averageWeights = 0;
  const tables = checkTables(json("tables"), fail);
  const datasets = checkDatasets(json("datasets"), tables, path, fail);
  const stats = checkStats(json("stats"), fail);
  const progress = checkProgress(json("progress"), fail);
  const adamStep = Number(metadata.adam_step ?? 0);
  if (!Number.isSafeInteger(adamStep) || adamStep < 0) fail("metadata 'adam_step' is not a count");

  // Refuse a config that implies more weights than the file holds before allocating any, so a
  // damaged or hostile config cannot ask for gigabytes.
  const stored = [...tensors].reduce(
    (s, [n, t]) => s + (n.startsWith("param.") ? t.data.length : 0),
    0,
  );
  const needed = minimumParameters(config, tables);
  if (!(needed <= stored)) {
    fail(
      `its config needs at least ${needed} weights but the file holds ${stored} ` +
        `(damaged, or saved with another model config)`,
    );
  }
  // The expected parameter set and shapes come from the config, so a checkpoint from another
  // config or a damaged one is caught here rather than deep inside a forward pass.
  const created: tf.Variable[] = [];
  try {
    const expected = expectedShapes(config, tables);
    // One set of weights under `prefix` (`param.`: the model's; `latest.`: where an averaging
    // run's steps resume), each checked against the shape the config implies.
    const weightsAt = (prefix: string, what: string): Params => {
      const out: Params = new Map();
      const instance = newInstance();
      for (const [name, shape] of expected) {
        const t = tensors.get(`${prefix}${name}`);
        if (!t) {
          return fail(`${what} ${prefix}${name} is missing (saved with another model config?)`);
        }
        const [got, want] = [t.shape.join("x"), shape.join("x")];
        if (got !== want) {
          fail(
            `${what} ${prefix}${name} has shape ${got}, expected ${want} ` +
              `(saved with another model config?)`,
          );
        }
        if (!t.data.every(Number.isFinite)) {
          fail(`${what} ${prefix}${name} holds NaN or infinite values`);
        }
        const v = paramVariable(name, tf.tensor(t.data, t.shape), instance);
        created.push(v);
        out.set(name, v);
      }
      return out;
    };
    const params = weightsAt("param.", "parameter");
    const unexpected = [...tensors.keys()].find((n) =>
      n.startsWith("param.") && !expected.has(n.slice(6))
    );
    if (unexpected) fail(`unexpected tensor ${unexpected} (saved with another model config?)`);
    const banks = new Map<string, MemoryBank>();
    const directions: BankProjection[] = [];
    for (const [name, t] of tensors) {
      if (!name.startsWith("bank.")) continue;
      const key = name.slice(5);
      const component = key.split("|")[1] ?? "";
      // Only components that keep a bank (see lib/model/evidence/registry.ts) may have one.
      if (componentOf(component)?.stored !== "bank") {
        fail(`memory bank ${key} names no known component`);
      }
      const table = tables.find((t) => `table:${t.name}` === key.split("|")[0]);
      const cellStep = bankCellStep(tensors, key, fail);
      const dim = knnDim(config.model, component, table?.features ?? 0) +
        (cellStep ? CELL_COORDINATES : 0);
      const projection = sharedDirections(
        directions,
        bankProjection(tensors, key, dim, t.shape[1], fail),
      );
      const width = projection?.width ?? dim;
      // A bank in a form an earlier version saved, read as this version's.
      const old = table && componentOf(component)!.readOldBank?.(t, params, config.model, table);
      if (old) {
        banks.set(key, { dim, rows: t.shape[1], transposed: old });
        continue;
      }
      if (t.shape.length !== 2 || t.shape[0] !== width || t.shape[1] < 1) {
        fail(
          `memory bank ${key} has shape ${
            t.shape.join("x")
          }, expected ${width}xN (saved with another model config?)`,
        );
      }
      banks.set(key, {
        dim,
        rows: t.shape[1],
        transposed: t.data,
        ...(projection ? { projection } : {}),
        ...(cellStep ? { cellStep } : {}),
      });
    }
    let adam: AdamState | null = null;
    if ((options.optimizer ?? true) && [...tensors.keys()].some((n) => n.startsWith("adam."))) {
      const m = new Map<string, tf.Variable>();
      const v = new Map<string, tf.Variable>();
      for (const [name, shape] of expected) {
        for (const [kind, into] of [["m", m], ["v", v]] as const) {
          const t = tensors.get(`adam.${kind}.${name}`);
          if (!t) return fail(`optimiser state adam.${kind}.${name} is missing`);
          if (t.shape.join("x") !== shape.join("x")) {
            fail(`optimiser state adam.${kind}.${name} has shape ${t.shape.join("x")}`);
          }
          const variable = tf.variable(tf.tensor(t.data, shape), false);
          created.push(variable);
          into.set(name, variable);
        }
      }
      adam = { step: adamStep, m, v };
    }
    let averaging: Checkpoint["averaging"];
    if ((options.optimizer ?? true) && metadata.averaged_epochs !== undefined) {
      const epochs = Number(metadata.averaged_epochs);
      if (!(Number.isSafeInteger(epochs) && epochs >= 1)) {
        fail("metadata 'averaged_epochs' is not a positive count");
      }
      averaging = { epochs, latest: weightsAt("latest.", "latest weight") };
    }
    return {
      config,
      tables,
      datasets,
      params,
      adam,
      banks,
      stats,
      progress,
      ...(averaging ? { averaging } : {}),
    };
  } catch (e) {
    for (const v of created) v.dispose();
    if (e instanceof MadError) throw e;
    // A safety net: whatever else goes wrong building the model is still one line.
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return fail(`not a usable checkpoint (${message})`);
  }
}

type Fail = (problem: string) => never;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Largest feature count a table may have (keeps a damaged checkpoint from allocating). */
const MAX_FEATURES = 1_000_000;

function checkTables(value: unknown, fail: Fail): TableSpec[] {
  if (!Array.isArray(value)) return fail("metadata 'tables' is not a list");
  const seen = new Set<string>();
  return value.map((t, i) => {
    if (!isObject(t) || typeof t.name !== "string" || t.name === "") {
      return fail(`metadata 'tables' entry ${i + 1} has no name`);
    }
    const f = t.features;
    if (!Number.isSafeInteger(f) || (f as number) < 1 || (f as number) > MAX_FEATURES) {
      fail(`table ${t.name} has a bad feature count ${JSON.stringify(f)}`);
    }
    if (seen.has(t.name)) fail(`table ${t.name} appears twice`);
    seen.add(t.name);
    return { name: t.name, features: f as number };
  });
}

function checkDatasets(
  value: unknown,
  tables: TableSpec[],
  path: string,
  fail: Fail,
): DatasetRecord[] {
  if (!Array.isArray(value)) return fail("metadata 'datasets' is not a list");
  return value.map((d, i) => {
    const what = `dataset ${i + 1}`;
    if (!isObject(d) || typeof d.name !== "string" || d.name === "") {
      return fail(`${what} has no name`);
    }
    if (d.modality !== "image" && d.modality !== "table") {
      fail(`dataset ${d.name} has modality ${JSON.stringify(d.modality)}`);
    }
    if (typeof d.source !== "string") fail(`dataset ${d.name} has no source`);
    if (d.digest !== undefined && typeof d.digest !== "string") {
      fail(`dataset ${d.name} has a bad digest`);
    }
    const split = d.split;
    if (
      !isObject(split) || (split.protocol !== "half-normals" && split.protocol !== "given") ||
      !Number.isFinite(split.seed) ||
      !((split.valShare as number) >= 0 && (split.valShare as number) < 1)
    ) {
      fail(`dataset ${d.name} has a bad split record`);
    }
    if (d.modality === "table") {
      const spec = tables.find((t) => t.name === d.name);
      if (!spec) fail(`table dataset ${d.name} has no entry in metadata 'tables'`);
      const norm = checkNormalisation(d.normalisation, `${path} (dataset ${d.name})`);
      if (norm.mean.length !== spec!.features) {
        fail(
          `dataset ${d.name}: normalisation has ${norm.mean.length} columns, expected ${
            spec!.features
          }`,
        );
      }
      if (
        d.columns !== undefined &&
        (!Array.isArray(d.columns) || d.columns.length !== spec!.features ||
          !d.columns.every((c) => typeof c === "string"))
      ) {
        fail(`dataset ${d.name} has bad column names`);
      }
      if (d.columnsFromHeader !== undefined && typeof d.columnsFromHeader !== "boolean") {
        fail(`dataset ${d.name} has a bad columnsFromHeader`);
      }
    } else if (
      d.normalisation !== undefined || d.columns !== undefined || d.columnsFromHeader !== undefined
    ) {
      fail(`image dataset ${d.name} has table fields`);
    } else if (
      d.pose !== undefined &&
      !(isObject(d.pose) && typeof d.pose.aligned === "boolean" &&
        Number.isFinite(d.pose.elongation) && Number.isFinite(d.pose.axisConsistency) &&
        (d.pose.scale === undefined || (typeof d.pose.scale === "number" && d.pose.scale >= 1)))
    ) {
      fail(`image dataset ${d.name} has a bad pose record`);
    }
    return d as unknown as DatasetRecord;
  });
}

function checkStats(value: unknown, fail: Fail): Record<string, KeyStats> {
  if (!isObject(value)) return fail("metadata 'stats' is not an object");
  const moments = (m: unknown) =>
    isObject(m) &&
    Object.values(m).every((x) =>
      isObject(x) && Number.isFinite(x.mean) && Number.isFinite(x.std) && (x.std as number) > 0
    );
  for (const [key, s] of Object.entries(value)) {
    if (!isObject(s) || !Number.isFinite(s.threshold) || !moments(s.sample) || !moments(s.tokens)) {
      fail(`scoring statistics for ${key} are malformed`);
    }
    if (
      s.tails !== undefined && !(isObject(s.tails) && Object.values(s.tails).every(isTailScale))
    ) {
      fail(`scoring statistics for ${key} have a malformed tail scale`);
    }
    if (s.normalScores !== undefined && !isTailScale(s.normalScores)) {
      fail(`scoring statistics for ${key} have malformed calibration scores`);
    }
  }
  return value as unknown as Record<string, KeyStats>;
}

function checkProgress(value: unknown, fail: Fail): TrainingProgress {
  if (!isObject(value)) return fail("metadata 'progress' is not an object");
  for (const key of ["epoch", "step", "bestEpoch"]) {
    const v = value[key];
    if (!Number.isSafeInteger(v) || (v as number) < 0) fail(`progress.${key} is not a count`);
  }
  if (!Number.isFinite(value.rngState)) fail("progress.rngState is not a number");
  // JSON has no -Infinity: a run that never improved stores null.
  const best = value.bestMetric === null ? -Infinity : value.bestMetric;
  if (typeof best !== "number" || Number.isNaN(best)) fail("progress.bestMetric is not a number");
  return {
    epoch: value.epoch as number,
    step: value.step as number,
    rngState: value.rngState as number,
    bestMetric: best as number,
    bestEpoch: value.bestEpoch as number,
  };
}

/**
 * A lower bound on the number of weights a config implies (stem, embeddings, table weights and
 * the encoder's attention and MLP matrices), computed without allocating anything.
 */
function minimumParameters(config: Config, tables: TableSpec[]): number {
  const m = config.model;
  const D = m.width;
  let n = 0;
  let channels = stemInputChannels(m);
  const outs = [...m.stemChannels, D];
  m.stem.forEach((f, i) => {
    n += f * f * channels * outs[i];
    channels = outs[i];
  });
  const patch = m.stem.reduce((a, b) => a * b, 1);
  n += (m.imageSize / patch) ** 2 * D + 4 * D;
  for (const t of tables) n += (3 * t.features + tableGroups(m, t.features).tokens) * D;
  const experts = (half: string) => m.sharedEncoder && m.modalityExperts === half ? 2 : 1;
  n += m.layers * (4 * D * D * experts("attention") + 2 * D * D * m.mlpRatio * experts("mlp")) *
    (m.sharedEncoder ? 1 : 2);
  return n;
}

/**
 * `projection` with the directions of an earlier bank's (`seen`) when they are the same numbers:
 * banks fitted in one set of directions (a table's `enc` and `enc_kde`) are saved each with its
 * copy, and read back they share one again, so that their queries are projected once (see
 * `tableRowsFor`, lib/model/evidence/common.ts).
 */
function sharedDirections(
  seen: BankProjection[],
  projection: BankProjection | null,
): BankProjection | null {
  if (!projection) return null;
  const same = (a: Float32Array, b: Float32Array) =>
    a.length === b.length && a.every((v, i) => v === b[i]);
  const earlier = seen.find((s) =>
    s.width === projection.width && same(s.mean, projection.mean) &&
    same(s.basis, projection.basis)
  );
  if (earlier) return { ...projection, mean: earlier.mean, basis: earlier.basis };
  seen.push(projection);
  return projection;
}

/**
 * The principal directions stored beside a memory bank, or null when it compares features
 * whole; `fail` reports a missing part or a shape that does not fit the bank.
 */
function bankProjection(
  tensors: Map<string, NamedTensor>,
  key: string,
  dim: number,
  rows: number,
  fail: (message: string) => never,
): BankProjection | null {
  const part = (name: string) => tensors.get(`bankproj.${key}.${name}`);
  const [mean, basis, norms] = [part("mean"), part("basis"), part("norms")];
  if (!mean && !basis && !norms) return null;
  if (!mean || !basis || !norms) fail(`memory bank ${key} has an incomplete projection`);
  const width = basis.shape[1];
  if (
    mean.shape.join("x") !== `${dim}` || basis.shape.length !== 2 || basis.shape[0] !== dim ||
    !(width >= 1) || norms.shape.join("x") !== `${rows}`
  ) {
    fail(`memory bank ${key} has a projection that does not fit its ${dim}-wide features`);
  }
  return { width, mean: mean.data, basis: basis.data, norms: norms.data };
}

/**
 * The cell step stored beside a memory bank that compares image cells where they lie, or null;
 * `fail` reports one that is not a single positive number.
 */
function bankCellStep(
  tensors: Map<string, NamedTensor>,
  key: string,
  fail: (message: string) => never,
): number | null {
  const t = tensors.get(`bankcell.${key}`);
  if (!t) return null;
  if (t.shape.join("x") !== "1" || !(t.data[0] > 0) || !Number.isFinite(t.data[0])) {
    fail(`memory bank ${key} has a cell step that is not one positive number`);
  }
  return t.data[0];
}

/** What model settings added since the first checkpoints meant before they existed. */
const LEGACY_MODEL: Partial<Config["model"]> = {
  knnContrastPatches: [],
  knnStandardPatches: [],
  imageWeights: "validation",
  imageHeadEvidence: true,
  calibrateOnAllNormals: false,
  tableScale: "moments",
  tableOneSided: false,
  // Before `v31` the one-sided components kept the two-sided ones' scale.
  tableOneSidedTail: false,
  tableEncoderDensity: false,
  // `v28` read its token density at three widths.
  tableKernelWidths: [0.25, 0.5, 2],
  pixelProjectionShare: 1,
  tableLogSkewed: false,
  tableHeadEvidence: true,
  isolationSample: CLASSIC_FOREST.sample,
  isolationTrees: CLASSIC_FOREST.trees,
  tableWeights: "validation",
  // Before `v30` a table's weights did not ask how its components agree.
  tableAgreementPower: 0,
  // The stem and the loss as they were before the encoder evidence (v18).
  stemStandardise: false,
  stemContrast: false,
  visibleReconWeight: 0,
  // Tables had no encoder evidence, and when asked for it, it read the last block.
  tableEncoderEvidence: false,
  tableEncoderBlocks: 0,
  imageEncoderBlocks: 0,
  // Images were seen as decoded, and their cells compared wherever they lay.
  alignObjects: false,
  cellPositionWeight: 0,
  // Aligned images were scored at the pose found alone.
  poseJitter: [],
  // Every block was shared whole by the two modalities.
  modalityExperts: "none",
  // Every table feature was its own token, however wide the table.
  tableMaxTokens: 0,
};

/** What evidence switches added since the first checkpoints meant before they existed. */
function legacySwitches(): Partial<Config["model"]> {
  return Object.fromEntries(
    evidenceSwitches().filter((s) => s.legacy !== undefined).map((s) => [s.key, s.legacy]),
  );
}

/** Frees the tensors a checkpoint holds. */
export function disposeCheckpoint(ckpt: Checkpoint): void {
  for (const v of ckpt.params.values()) v.dispose();
  for (const v of ckpt.averaging?.latest.values() ?? []) v.dispose();
  if (ckpt.adam) {
    for (const v of ckpt.adam.m.values()) v.dispose();
    for (const v of ckpt.adam.v.values()) v.dispose();
  }
}

/** Parameter shapes a config implies, without keeping any tensors. */
function expectedShapes(config: Config, tables: TableSpec[]): Map<string, number[]> {
  const fresh = initParams(config.model, tables, 0);
  const shapes = new Map([...fresh].map(([n, v]) => [n, [...v.shape]]));
  for (const v of fresh.values()) v.dispose();
  return shapes;
}

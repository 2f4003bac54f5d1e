/**
 * The anomaly detector around the model: turns forward passes into anomaly evidence (masked
 * reconstruction error, sigmoid head logits, nearest-neighbour distance of token features to
 * per-dataset memory banks of normals at several scales), standardises each on validation
 * normals of the same dataset or image category, and combines them into one score and, for
 * images, an anomaly map.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ModelConfig, tableEncoderDepth } from "./config.ts";
import {
  encodeImages,
  forwardTable,
  geometry,
  type Params,
  stemStages,
  tableGroups,
} from "./madformer.ts";
import {
  disposeTableLines,
  type TableLines,
  tableLines,
  tableResidualOnLines,
} from "./table_pass.ts";
import type { BankDirections, MemoryBank } from "./knn.ts";
import { upsampleMap } from "./maps.ts";
import {
  type BankSettings,
  type Component,
  componentOf,
  type Evidence,
  EVIDENCE_COMPONENTS,
  type EvidenceOptions,
  type EvidenceRequest,
  type EvidenceWriter,
  type FeatureSet,
  headsCount,
  type ImageBatch,
  requireComponent,
  switchedOn,
  type TableBatch,
  type TablePass,
  type TokenMap,
} from "./evidence/mod.ts";
import { tableBatchRows } from "./table_batch.ts";
import { type TailScale, tailValue } from "./tail_scale.ts";

export {
  activeComponents,
  CONTRAST_FLOOR,
  contrastNormalise,
  contrastPatches,
  knnLevels,
  pixelPatches,
  standardiseImages,
  standardPatches,
} from "./evidence/mod.ts";
export type { Component, Evidence, EvidenceOptions, FeatureSet, TokenMap } from "./evidence/mod.ts";

/** Mean and standard deviation of a component on validation normals. */
export interface Moments {
  mean: number;
  std: number;
}

/** Scoring statistics for one dataset or image category. */
export interface KeyStats {
  sample: Record<Component, Moments>;
  tokens: Record<Component, Moments>;
  /** Decision threshold on the combined score, chosen on validation. */
  threshold: number;
  /**
   * Weight of each component in the combined score, from its validation AUROC against
   * held-out kinds of synthetic anomaly; equal weights when absent.
   */
  weights?: Record<Component, number>;
  /**
   * Image scores take the maximum of the 3x3-smoothed map rather than of the map itself, as
   * validation chose for this dataset; absent in older checkpoints (the config's `smoothMaps`).
   */
  smooth?: boolean;
  /**
   * How many normals the statistics were fitted on when calibrated on all of a dataset's
   * normals (`calibrateOnAllNormals`); 0 when a table had too few normals for the folds (its
   * validation statistics stay); absent when fitted on the validation normals alone.
   */
  calibrated?: number;
  /**
   * Images with `chooseSmoothing`: the validation AUROC of the plain and of the smoothed map
   * maximum, of which `smooth` names the higher; absent in older checkpoints.
   */
  reductions?: MapReductionAuroc;
  /**
   * Components that count in the combined score only above their normals' centre (a table's
   * one-sided components with `tableOneSided`); absent in older checkpoints: none.
   */
  oneSided?: Component[];
  /**
   * A table's one-sided components put on their tail scale before they are summed
   * (`tableOneSidedTail`), each with its calibration normals; absent in older checkpoints: none.
   */
  tails?: Record<Component, TailScale>;
  /**
   * The combined scores of the calibration normals, in order, from which a scored sample gets its
   * p-value (`pValue` in tail_scale.ts) and a false-alarm rate its threshold; absent in older
   * checkpoints.
   */
  normalScores?: TailScale;
}

/** Validation AUROC of an image category's score under each map reduction. */
export interface MapReductionAuroc {
  plain: number;
  smoothed: number;
}

/**
 * How an image category's maps become its score, with both validation AUROCs when validation
 * chose: `max of the smoothed map (validation AUROC 0.9339; the plain map's 0.9335)`.
 */
export function mapReductionText(smoothed: boolean, reductions?: MapReductionAuroc): string {
  const chosen = `max of the ${smoothed ? "smoothed " : ""}map`;
  if (!reductions) return chosen;
  const [own, other] = smoothed
    ? [reductions.smoothed, reductions.plain]
    : [reductions.plain, reductions.smoothed];
  return `${chosen} (validation AUROC ${own.toFixed(4)}; the ${smoothed ? "plain" : "smoothed"} ` +
    `map's ${other.toFixed(4)})`;
}

/**
 * Component weights from validation AUROCs: (AUROC - 0.5)^2, so evidence that barely beats
 * chance counts little and evidence worse than chance not at all; normalised to sum to 1.
 * Components whose share falls below `minWeight` get 0 and the rest are renormalised (the
 * strongest one always stays).
 */
export function weightsFromAuroc(
  aurocs: Record<Component, number>,
  minWeight = 0,
): Record<Component, number> {
  const normalised = (entries: (readonly [Component, number])[]) => {
    const total = entries.reduce((s, [, w]) => s + w, 0);
    return entries.map(([c, w]) =>
      [c, total > 0 ? w / total : 1 / Math.max(entries.length, 1)] as const
    );
  };
  const shares = normalised(
    Object.entries(aurocs).map(([c, a]) => [c, Math.max(0, a - 0.5) ** 2] as const),
  );
  const top = Math.max(...shares.map(([, w]) => w));
  return Object.fromEntries(
    normalised(shares.map(([c, w]) => [c, w >= minWeight || w === top ? w : 0] as const)),
  );
}

/**
 * Whether a fitted image score takes the maximum of the 3x3-smoothed map: validation's choice,
 * or the config's `smoothMaps` for checkpoints from before that choice.
 */
export function smoothsMaps(
  stats: Pick<KeyStats, "smooth">,
  config: Pick<ModelConfig, "smoothMaps">,
): boolean {
  return stats.smooth ?? config.smoothMaps;
}

/** Components that count in a fitted score: all of them, or those with a positive weight. */
export function usedComponents(
  components: Component[],
  stats: Pick<KeyStats, "weights">,
): Component[] {
  if (!stats.weights) return components;
  return components.filter((c) => (stats.weights![c] ?? 0) > 0);
}

/**
 * Share of component `c` in a score combining `used`: its fitted weight renormalised over them,
 * or an equal share when there are no weights or they are all 0.
 */
export function weightOf(
  stats: Pick<KeyStats, "weights">,
  c: Component,
  used: Component[],
): number {
  if (!stats.weights) return 1 / used.length;
  const total = used.reduce((s, u) => s + (stats.weights![u] ?? 0), 0);
  return total > 0 ? (stats.weights[c] ?? 0) / total : 1 / used.length;
}

/**
 * Whether the trained heads' evidence counts in image scores: when asked (`imageHeadEvidence`),
 * and always without a kNN head, which would leave an image nothing else.
 */
export function imageHeadsCount(config: ModelConfig): boolean {
  return headsCount(config, "image");
}

/**
 * Whether the trained heads' evidence counts in table scores: when asked (`tableHeadEvidence`),
 * and always without the kNN, density and isolation evidence.
 */
export function tableHeadsCount(config: ModelConfig): boolean {
  return headsCount(config, "table");
}

/**
 * Components whose memory banks depend on the data alone, not on the model's weights (raw,
 * standardised and contrast-normalised pixel patches): their banks can be built once per run.
 */
export function isPixelComponent(component: Component): boolean {
  return componentOf(component)?.dataOnly ?? false;
}

/**
 * Width of the kNN features of a component (for checking stored memory banks); `features` is
 * the table's feature count for the table component.
 */
export function knnDim(config: ModelConfig, component: Component, features = 0): number {
  const c = requireComponent(component);
  if (!c.bankDim) throw new Error(`evidence component ${component} keeps no memory bank`);
  return c.bankDim(config, component, features);
}

/** A request for evidence, with values its components share. */
function evidenceRequest(
  params: Params,
  config: ModelConfig,
  n: number,
  options: EvidenceOptions,
  modality: "image" | "table",
  table?: EvidenceRequest["table"],
): EvidenceRequest {
  const shared = new Map<string, unknown>();
  return {
    params,
    config,
    n,
    options,
    table,
    heads: !options.featuresOnly && headsCount(config, modality),
    shared: <T>(key: string, make: () => T): T => {
      if (!shared.has(key)) shared.set(key, make());
      return shared.get(key) as T;
    },
    floats: (length) => options.buffers?.take(length) ?? new Float32Array(length),
  };
}

/** The writers of the switched-on components for a request, in registry order. */
function writersOf<Batch>(
  request: EvidenceRequest,
  hook: "images" | "tables",
): EvidenceWriter<Batch>[] {
  return EVIDENCE_COMPONENTS.filter((c) => c[hook] && switchedOn(c, request.config))
    .map((c) => c[hook]!(request) as EvidenceWriter<Batch> | null)
    .filter((w): w is EvidenceWriter<Batch> => w !== null);
}

/** Images per evidence pass at grids of up to {@linkcode EVIDENCE_BATCH_TOKENS} tokens. */
const EVIDENCE_BATCH = 16;
/** The default grid's tokens (128 px in 8 px tokens). */
const EVIDENCE_BATCH_TOKENS = 256;

/**
 * Images per evidence pass: {@linkcode EVIDENCE_BATCH} up to 256 tokens an image, halved for each
 * doubling beyond, since a pass's attention holds tokens² numbers per image and head (a 256 px
 * image of 1,024 tokens scored 16 at a time ran out of wasm's 4 GB). A power of two, so that the
 * scoring chunks (`IMAGE_SCORE_CHUNK`) stay a multiple of it and the scores those of one pass.
 */
export function evidenceBatch(config: Pick<ModelConfig, "imageSize" | "stem">): number {
  const { tokens } = geometry(config);
  let batch = EVIDENCE_BATCH;
  while (batch > 1 && batch * tokens > EVIDENCE_BATCH * EVIDENCE_BATCH_TOKENS) batch /= 2;
  return batch;
}

/** Images as RGB HWC float arrays in [0, 1] of side config.imageSize. */
export function imageEvidence(
  params: Params,
  config: ModelConfig,
  images: Float32Array[],
  options: EvidenceOptions = {},
): Evidence {
  const S = config.imageSize;
  const n = images.length;
  const evidence: Evidence = { n, sample: {}, tokens: {}, features: {} };
  const writers = writersOf<ImageBatch>(
    evidenceRequest(params, config, n, options, "image"),
    "images",
  );
  const plainPass = writers.some((w) => w.encoder);
  // The plain pass runs as far as its furthest reader: the sigmoid head reads the output, the
  // kNN token features the tokens after `knnTokenLayer` layers, the encoder evidence the residual
  // stream after its blocks (the masked passes run their own encoder).
  const tapDepth = Math.min(config.knnTokenLayer, config.layers);
  const depth = Math.max(
    0,
    ...writers.map((w) =>
      w.encoder === "full"
        ? config.layers
        : w.encoder === "tap"
        ? Math.max(tapDepth, Math.min(w.encoderBlocks ?? 0, config.layers))
        : 0
    ),
  );
  const plainConfig = depth === config.layers ? config : { ...config, layers: depth };
  const stemCount = Math.max(0, ...writers.map((w) => w.stemStages ?? 0));
  const perPass = evidenceBatch(config);
  for (let start = 0; start < n; start += perPass) {
    const batch = images.slice(start, start + perPass);
    const B = batch.length;
    tf.tidy(() => {
      const x = tf.tensor4d(concatArrays(batch), [B, S, S, 3]);
      // Scoring with stem features alone (the default) stops the stem where they are taken.
      const plain = plainPass
        ? encodeImages(params, plainConfig, x, null, config.knnTokenLayer)
        : null;
      const stages = plain?.stages ?? stemStages(params, config, x, stemCount);
      const shared = new Map<string, unknown>();
      const view: ImageBatch = {
        x,
        B,
        start,
        plain,
        stages,
        shared: <T>(key: string, make: () => T): T => {
          if (!shared.has(key)) shared.set(key, make());
          return shared.get(key) as T;
        },
      };
      for (const w of writers) w.batch?.(view, evidence);
    });
  }
  for (const w of writers) w.finish?.(evidence);
  return evidence;
}

/** Normalised table rows [n, d] (row-major). */
export function tableEvidence(
  params: Params,
  config: ModelConfig,
  table: string,
  rows: Float32Array,
  d: number,
  options: EvidenceOptions = {},
): Evidence {
  const n = rows.length / d;
  const request = evidenceRequest(params, config, n, options, "table", { name: table, rows, d });
  const writers = writersOf<TableBatch>(request, "tables");
  const encoder = writers.some((w) => w.encoder === "full")
    ? "full"
    : writers.some((w) => w.encoder)
    ? "tap"
    : null;
  // Rows per batch from a memory budget: a fixed 512 rows of 27+ features exhausted wasm memory.
  const passes = (encoder ? 1 : 0) + writers.reduce((sum, w) => sum + (w.passes ?? 0), 0);
  const batchSize = tableBatchRows(config, d, passes);
  const evidence: Evidence = { n, sample: {}, tokens: {}, features: {} };
  // What the feature tokens' pass reads of the weights, made once for every batch.
  const blocks = tableEncoderDepth(config);
  // The lines hold while each token is one feature's line; grouped tokens take the whole pass.
  const lines = encoder === "tap" && tableGroups(config, d).size === 1
    ? tableLines(params, config, table, d, blocks)
    : null;
  try {
    if (writers.some((w) => w.batch)) {
      for (let start = 0; start < n; start += batchSize) {
        const B = Math.min(batchSize, n - start);
        tf.tidy(() => {
          const x = tf.tensor2d(rows.subarray(start * d, (start + B) * d), [B, d]);
          const plain = encoder ? plainTablePass(params, config, table, x, blocks, lines) : null;
          for (const w of writers) w.batch?.({ table, x, B, d, start, plain }, evidence);
        });
      }
    }
  } finally {
    if (lines) disposeTableLines(lines);
  }
  for (const w of writers) w.finish?.(evidence);
  return evidence;
}

/**
 * The one unmasked pass over a batch of table rows that the components reading it share, read
 * after `blocks` blocks: with `lines`, only the feature tokens' residual stream (see
 * `table_pass.ts`), else the whole pass with its heads.
 */
function plainTablePass(
  params: Params,
  config: ModelConfig,
  table: string,
  x: tf.Tensor2D,
  blocks: number,
  lines: TableLines | null,
): TablePass {
  if (lines) {
    const residual = tableResidualOnLines(params, config, table, x, blocks, lines);
    return { residual: () => residual, clsLogits: null };
  }
  const { residual, clsLogits } = forwardTable(params, config, table, x, null);
  return { residual: () => residual(blocks), clsLogits };
}

/** Arrays one after the other in one new array. */
export function concatArrays(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((s, a) => s + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/**
 * Memory banks of normal features for every bank component of the evidence, each fitted as its
 * component says: coresets, or a fair sample of the normals for the density and isolation
 * components (one sample, when several read the same rows). Components that read the same
 * features (a table's `enc` and `enc_kde`) compare them in the same principal directions, found
 * once: on a wide table finding them is most of a bank's cost. Settings left out are off:
 * features compared whole, cells wherever they lie.
 */
export function banksFromEvidence(
  evidence: Evidence,
  settings: Pick<BankSettings, "limit" | "seed"> & Partial<BankSettings>,
  built: Record<Component, MemoryBank> = {},
): Record<Component, MemoryBank> {
  const banks: Record<Component, MemoryBank> = {};
  const samples = new Map<Float32Array, MemoryBank>();
  const directions = new Map<Float32Array, BankDirections>();
  const full: BankSettings = {
    projection: 0,
    pixelProjectionShare: 1,
    cellPositions: 0,
    ...settings,
  };
  for (const [name, f] of Object.entries(evidence.features)) {
    // `built` holds banks made earlier from the same data (pixel banks, which no training
    // changes).
    if (built[name]) {
      banks[name] = built[name];
      continue;
    }
    const component = requireComponent(name);
    const sampled = component.fit === "sample";
    const shared = sampled ? samples.get(f.data) : undefined;
    if (shared) {
      banks[name] = shared;
      continue;
    }
    const found = directions.get(f.data);
    banks[name] = component.fitBank!(
      f,
      found && !full.directions ? { ...full, directions: found } : full,
    );
    if (sampled) samples.set(f.data, banks[name]);
    const projection = banks[name].projection;
    if (projection) directions.set(f.data, projection);
  }
  return banks;
}

/**
 * The features of the samples at `positions` (in that order), for banks fitted on part of the
 * samples whose features were made once.
 */
export function featureRowsOf(f: FeatureSet, positions: readonly number[]): FeatureSet {
  const width = f.dim * f.grid * f.grid;
  const data = new Float32Array(positions.length * width);
  positions.forEach((p, i) => data.set(f.data.subarray(p * width, (p + 1) * width), i * width));
  return { ...f, data };
}

/**
 * Fills in the bank-based components of evidence (kNN distances, `knnK` neighbours for image
 * cells and `tableKnnK` for table rows, the density and the isolation score), each scored as its
 * component says; components in `skip` are left out. With `leaveOut`, sample i is scored without the bank rows
 * taken from sample `leaveOut[i]` of those the banks were built from (-1: none).
 */
export function addKnn(
  evidence: Evidence,
  banks: Record<Component, MemoryBank>,
  config: ModelConfig,
  skip?: Set<Component>,
  leaveOut?: Int32Array,
): void {
  for (const [name, f] of Object.entries(evidence.features)) {
    const bank = banks[name];
    if (!bank || skip?.has(name)) continue;
    const values = requireComponent(name).score!(bank, f, config, leaveOut);
    if (f.grid === 1) evidence.sample[name] = values;
    else evidence.tokens[name] = { grid: f.grid, values };
  }
}

/** Per-image maximum of a token map, optionally after a 3x3 mean filter. */
export function imageMax(map: TokenMap, n: number, smooth: boolean): Float32Array {
  const cells = map.grid * map.grid;
  const out = new Float32Array(n);
  for (let b = 0; b < n; b++) {
    const one = map.values.subarray(b * cells, (b + 1) * cells);
    const values = smooth ? smoothGrid(one, map.grid) : one;
    let best = -Infinity;
    for (const v of values) if (v > best) best = v;
    out[b] = best;
  }
  return out;
}

/** 3x3 mean filter with edge clamping on a grid x grid map. */
export function smoothGrid(map: Float32Array, grid: number): Float32Array {
  const out = new Float32Array(grid * grid);
  for (let y = 0; y < grid; y++) {
    for (let x = 0; x < grid; x++) {
      let sum = 0;
      let count = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= grid || xx < 0 || xx >= grid) continue;
          sum += map[yy * grid + xx];
          count++;
        }
      }
      out[y * grid + x] = sum / count;
    }
  }
  return out;
}

/** Per-sample scores by component: image token maps reduced by their maximum. */
export function sampleScores(
  evidence: Evidence,
  components: Component[],
  smooth: boolean,
): Record<Component, Float32Array> {
  const out: Record<Component, Float32Array> = {};
  for (const c of components) {
    const tokens = evidence.tokens[c];
    if (tokens) out[c] = imageMax(tokens, evidence.n, smooth);
    else if (evidence.sample[c]) out[c] = evidence.sample[c];
  }
  return out;
}

/** Absolute part of {@linkcode spreadFloor}: the least scale evidence is standardised by. */
export const EVIDENCE_FLOOR = 1e-6;
/**
 * Relative part of {@linkcode spreadFloor}, as a share of the evidence's size. Evidence is
 * computed in float32 (about 1e-7 relative rounding), and how rows are batched changes the order
 * of its sums, so equal inputs differ by some 1e-7..1e-6 of its size. When the calibration
 * normals do not vary (identical training images or rows), an absolute 1e-6 floor let that noise
 * reach the score as whole standard deviations, and identical inputs scored differently
 * depending on the batch. 1e-4 of the size keeps such noise near 1e-2 standard deviations; real
 * evidence spreads by a few percent or more of its size (no component of the checkpoints on
 * the team's machine, 26 of real and synthetic data, below 1e-3), far above it.
 */
export const EVIDENCE_RELATIVE_FLOOR = 1e-4;

/**
 * The least standard deviation evidence of centre `centre` is standardised by: the larger of
 * {@linkcode EVIDENCE_FLOOR} and {@linkcode EVIDENCE_RELATIVE_FLOOR} of its size, the size
 * taken as the larger of |centre| and the mean absolute value (evidence centred near 0, such as
 * the distance of normals to identical normals, still has the size of its values).
 */
export function spreadFloor(values: ArrayLike<number>, centre: number): number {
  let abs = 0;
  for (let i = 0; i < values.length; i++) abs += Math.abs(values[i]);
  const size = Math.max(Math.abs(centre), abs / Math.max(values.length, 1));
  return Math.max(EVIDENCE_FLOOR, EVIDENCE_RELATIVE_FLOOR * (Number.isFinite(size) ? size : 0));
}

/** Mean and standard deviation (floored, see {@linkcode spreadFloor}) of values. */
export function moments(values: ArrayLike<number>): Moments {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / Math.max(values.length, 1);
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  const std = Math.sqrt(sq / Math.max(values.length - 1, 1));
  return { mean, std: Math.max(std, spreadFloor(values, mean)) };
}

/**
 * Median and interquartile range (scaled to a normal distribution's standard deviation) of
 * values, as {@linkcode Moments}; the standard deviation where the quartiles coincide.
 */
export function quartileMoments(values: ArrayLike<number>): Moments {
  if (values.length === 0) return moments(values);
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => {
    const x = q * (sorted.length - 1);
    const lo = Math.floor(x);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
  };
  // A normal distribution's interquartile range is 1.349 of its standard deviations.
  const spread = (at(0.75) - at(0.25)) / 1.349;
  const median = at(0.5);
  const std = spread > spreadFloor(values, median) ? spread : moments(values).std;
  return { mean: median, std };
}

/**
 * Fits per-component standardisation on calibration-normal evidence: mean and standard
 * deviation, or with `quartiles` median and interquartile range ({@linkcode quartileMoments}).
 */
export function fitStats(
  evidence: Evidence,
  components: Component[],
  smooth: boolean,
  quartiles = false,
): Omit<KeyStats, "threshold"> {
  const samples = sampleScores(evidence, components, smooth);
  const stats: Omit<KeyStats, "threshold"> = { sample: {}, tokens: {} };
  const scale = quartiles ? quartileMoments : moments;
  for (const c of components) {
    if (samples[c]) stats.sample[c] = scale(samples[c]);
    const tokens = evidence.tokens[c];
    if (tokens) stats.tokens[c] = moments(tokens.values);
  }
  return stats;
}

/**
 * The combined score: the weighted mean of the standardised components, those in `stats.tails`
 * on their tail scale, those in `stats.oneSided` counted only above their normals' median (0 on
 * the standardised scale, log 2 on the tail scale).
 */
export function combineScores(
  evidence: Evidence,
  components: Component[],
  stats: Omit<KeyStats, "threshold">,
  smooth: boolean,
): { scores: Float32Array; parts: Record<Component, Float32Array> } {
  const samples = sampleScores(evidence, components, smooth);
  const scores = new Float32Array(evidence.n);
  const parts: Record<Component, Float32Array> = {};
  const used = components.filter((c) => stats.sample[c] && samples[c]);
  for (const c of used) {
    const m = stats.sample[c];
    const w = weightOf(stats, c, used);
    parts[c] = samples[c].map((v) => (v - m.mean) / m.std);
    // `parts` keeps both sides and the standardised scale, so a component's own AUROC is still
    // reported whole.
    const tail = stats.tails?.[c];
    const floor = stats.oneSided?.includes(c) ? (tail ? Math.LN2 : 0) : -Infinity;
    const part = parts[c];
    for (let i = 0; i < evidence.n; i++) {
      scores[i] += Math.max(tail ? tailValue(tail, part[i]) : part[i], floor) * w;
    }
  }
  return { scores, parts };
}

/**
 * Each of `components` that `evidence` holds and `stats` standardise, per sample and standardised
 * as {@linkcode combineScores} reads it into its `parts`, without counting it in any score: what
 * a report of each component alone reads of those the fitted weights leave out.
 */
export function standardisedParts(
  evidence: Evidence,
  components: Component[],
  stats: Pick<KeyStats, "sample">,
  smooth: boolean,
): Record<Component, Float32Array> {
  const samples = sampleScores(evidence, components, smooth);
  const parts: Record<Component, Float32Array> = {};
  for (const c of components.filter((c) => stats.sample[c] && samples[c])) {
    const m = stats.sample[c];
    parts[c] = samples[c].map((v) => (v - m.mean) / m.std);
  }
  return parts;
}

/**
 * Combined per-token anomaly maps: each component standardised, upsampled to the finest grid
 * among them, and averaged. Returns n maps of grid x grid.
 */
export function combineMaps(
  evidence: Evidence,
  components: Component[],
  stats: Omit<KeyStats, "threshold">,
): { grid: number; maps: Float32Array[] } | null {
  const used = components.filter((c) => evidence.tokens[c] && stats.tokens[c]);
  if (used.length === 0) return null;
  const grid = Math.max(...used.map((c) => evidence.tokens[c].grid));
  const maps = Array.from({ length: evidence.n }, () => new Float32Array(grid * grid));
  for (const c of used) {
    const { grid: g, values } = evidence.tokens[c];
    const m = stats.tokens[c];
    const w = weightOf(stats, c, used);
    for (let b = 0; b < evidence.n; b++) {
      const standard = values.subarray(b * g * g, (b + 1) * g * g).map((v) => (v - m.mean) / m.std);
      const up = g === grid ? standard : upsampleMap(standard, g, grid);
      for (let i = 0; i < up.length; i++) maps[b][i] += up[i] * w;
    }
  }
  return { grid, maps };
}

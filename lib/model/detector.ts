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
import type { ModelConfig } from "./config.ts";
import {
  encodeImages,
  forwardTable,
  geometry,
  imageAnomalyLogits,
  maskPatterns,
  type Params,
  patchify,
  patchTargets,
  reconstructImageTokens,
  stemStages,
  tableTokens,
} from "./madformer.ts";
import { buildBank, type Exclusion, knnDistances, type MemoryBank } from "./knn.ts";
import { marginalDensityScores } from "./density.ts";
import { forestOf, isolationScores } from "./isolation.ts";
import { upsampleMap } from "./maps.ts";
import { Rng } from "../rng.ts";
import { tableBatchRows } from "./table_batch.ts";

/**
 * Names of the evidence components: `recon`, `patch`, `cls`, `knn`, `dens` and `iso` (tables),
 * `knn<L>` for image feature level L (stem stages, then encoder tokens), `pix` and `pix<S>` (raw
 * pixel patches) and `con<S>` (contrast-normalised pixel patches of side S).
 */
export type Component = string;

/** A per-token map for n images on a grid x grid lattice. */
export interface TokenMap {
  grid: number;
  /** n * grid * grid values. */
  values: Float32Array;
}

/** Feature rows for a kNN component: n * rowsPerSample rows of width dim. */
export interface FeatureSet {
  dim: number;
  /** Lattice side for images (rows per sample = grid * grid); 1 for tables. */
  grid: number;
  data: Float32Array;
}

/** Raw evidence for n samples. */
export interface Evidence {
  n: number;
  /** Per-sample scores by component. */
  sample: Record<Component, Float32Array>;
  /** Per-token maps by component (images only). */
  tokens: Record<Component, TokenMap>;
  /** kNN features by component. */
  features: Record<Component, FeatureSet>;
}

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
   * How many normals the statistics were fitted on when calibrated on all of a category's
   * normals (`calibrateOnAllNormals`); absent when fitted on the validation normals alone.
   */
  calibrated?: number;
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

/** kNN feature levels an image config uses, each a valid stem stage or the token level. */
export function knnLevels(config: ModelConfig): number[] {
  const last = config.stem.length - 1;
  return [...new Set(config.knnLevels.filter((l) => l >= 0 && l <= last))].sort();
}

/** Raw-pixel patch sides the kNN head compares (0 = the token patch), without repeats. */
export function pixelPatches(config: ModelConfig): number[] {
  const patch = geometry(config).patch;
  const sides = config.knnPixelPatches.filter((s) => !(config.knnPixels && s === patch));
  return [...new Set([...(config.knnPixels ? [0] : []), ...sides])].sort((a, b) => a - b);
}

function pixelComponent(side: number): Component {
  return side === 0 ? "pix" : `pix${side}`;
}

/** Contrast-normalised pixel patch sides the kNN head compares, without repeats. */
export function contrastPatches(config: ModelConfig): number[] {
  return [...new Set(config.knnContrastPatches)].sort((a, b) => a - b);
}

/** Image-standardised pixel patch sides the kNN head compares, without repeats. */
export function standardPatches(config: ModelConfig): number[] {
  return [...new Set(config.knnStandardPatches)].sort((a, b) => a - b);
}

/** Images [B, H, W, C] standardised per image and channel (floored spread). */
export function standardiseImages(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return x.sub(mean).div(variance.sqrt().add(0.01)) as tf.Tensor4D;
  });
}

/**
 * Floor on a patch's pixel standard deviation in contrast normalisation: below it (flat
 * patches, sensor noise) the pattern is not blown up to full length.
 */
export const CONTRAST_FLOOR = 0.05;

/**
 * Contrast-normalised patches [B, h, w, f*f*C] of patchified pixels: each channel's mean over
 * the patch removed, then divided by sqrt(f*f*C) * (std + CONTRAST_FLOOR), so a patch with any
 * real texture has a length near one whatever its brightness and contrast.
 */
export function contrastNormalise(patches: tf.Tensor4D, channels: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, h, w, D] = patches.shape;
    const pixels = patches.reshape([B, h, w, D / channels, channels]);
    const centred = pixels.sub(pixels.mean(3, true)).reshape([B, h, w, D]);
    const std = centred.square().mean(3, true).sqrt();
    return centred.div(std.add(CONTRAST_FLOOR).mul(Math.sqrt(D))) as tf.Tensor4D;
  });
}

/** Which components a config turns on, in a fixed order. */
export function activeComponents(config: ModelConfig, modality: "image" | "table"): Component[] {
  const out: Component[] = [];
  if (config.reconstructionHead) out.push("recon");
  if (config.knnHead) {
    if (modality === "image") {
      out.push(...knnLevels(config).map((l) => `knn${l}`));
      out.push(...pixelPatches(config).map(pixelComponent));
      out.push(...contrastPatches(config).map((side) => `con${side}`));
      out.push(...standardPatches(config).map((side) => `std${side}`));
    } else out.push("knn");
  }
  if (modality === "table" && config.densityHead) out.push("dens");
  if (modality === "table" && config.isolationHead) out.push("iso");
  const heads = modality === "table" ? tableHeadsCount(config) : imageHeadsCount(config);
  if (config.anomalyHead && heads) {
    if (modality === "image") out.push("patch");
    out.push("cls");
  }
  if (!heads) return out.filter((c) => c !== "recon");
  return out;
}

/**
 * Whether the trained heads' evidence counts in image scores: when asked (`imageHeadEvidence`),
 * and always without a kNN head, which would leave an image nothing else.
 */
export function imageHeadsCount(config: ModelConfig): boolean {
  return config.imageHeadEvidence || !config.knnHead;
}

/**
 * Whether the trained heads' evidence counts in table scores: when asked (`tableHeadEvidence`),
 * and always without the kNN, density and isolation evidence.
 */
export function tableHeadsCount(config: ModelConfig): boolean {
  return config.tableHeadEvidence ||
    !(config.knnHead || config.densityHead || config.isolationHead);
}

/**
 * Components whose memory banks depend on the data alone, not on the model's weights (raw,
 * standardised and contrast-normalised pixel patches): their banks can be built once per run.
 */
export function isPixelComponent(component: Component): boolean {
  return /^(pix|std|con)\d*$/.test(component);
}

/**
 * Width of the kNN features of a component (for checking stored memory banks); `features` is
 * the table's feature count for the table component.
 */
export function knnDim(config: ModelConfig, component: Component, features = 0): number {
  if (component === "knn") return features * config.width;
  if (SAMPLED_COMPONENTS.has(component)) return features;
  if (component === "pix") return geometry(config).patchDim;
  if (["pix", "con", "std"].some((p) => component.startsWith(p))) {
    return 3 * Number(component.slice(3)) ** 2;
  }
  const level = Number(component.slice(3));
  return level < config.stem.length - 1 ? config.stemChannels[level] : 2 * config.width;
}

const EVIDENCE_BATCH = 16;

/** Images as RGB HWC float arrays in [0, 1] of side config.imageSize. */
export function imageEvidence(
  params: Params,
  config: ModelConfig,
  images: Float32Array[],
  options: EvidenceOptions = {},
): Evidence {
  const g = geometry(config);
  const S = config.imageSize;
  const n = images.length;
  const levels = config.knnHead ? knnLevels(config) : [];
  const last = config.stem.length - 1;
  const evidence: Evidence = { n, sample: {}, tokens: {}, features: {} };
  const wantHeads = !options.featuresOnly && imageHeadsCount(config);
  const recon = new Float32Array(n * g.tokens);
  const patch = new Float32Array(n * g.tokens);
  const cls = new Float32Array(n);
  // The sigmoid head's two readings cost little; only when validation dropped both is it skipped.
  const skipsAnomalyHead = options.skip?.has("patch") === true && options.skip?.has("cls") === true;
  const patterns = config.reconstructionHead && wantHeads && options.skip?.has("recon") !== true
    ? maskPatterns(Math.max(1, Math.round(1 / Math.max(config.maskRatio, 0.05))), g.tokens, g.grid)
    : [];
  const wantsAnomalyHead = wantHeads && config.anomalyHead && !skipsAnomalyHead;
  // Only the sigmoid head reads the encoder's output; without it the plain pass stops at the
  // layer the kNN token features come from (the masked passes run their own encoder).
  const plainConfig = wantsAnomalyHead
    ? config
    : { ...config, layers: Math.min(config.knnTokenLayer, config.layers) };
  for (let start = 0; start < n; start += EVIDENCE_BATCH) {
    const batch = images.slice(start, start + EVIDENCE_BATCH);
    const B = batch.length;
    tf.tidy(() => {
      const x = tf.tensor4d(concatArrays(batch), [B, S, S, 3]);
      // Scoring with stem features alone (the default) stops the stem where they are taken.
      const plain = wantsAnomalyHead || patterns.length > 0 || levels.includes(last)
        ? encodeImages(params, plainConfig, x, null, config.knnTokenLayer)
        : null;
      const stages = plain?.stages ?? stemStages(params, config, x, Math.max(-1, ...levels) + 1);
      if (plain && wantsAnomalyHead) {
        const logits = imageAnomalyLogits(params, plain.cls, plain.tokens);
        patch.set(logits.patchLogits.dataSync(), start * g.tokens);
        cls.set(logits.clsLogits.dataSync(), start);
      }
      for (const level of levels) {
        const grid = level < last ? stages[level].shape[1] : g.grid;
        const tokens = () => tf.concat([l2(plain!.stemTokens), l2(plain!.knnTokens)], 2);
        const map = level < last ? stages[level] : tokens().reshape([B, grid, grid, -1]);
        const k = config.knnNeighbourhood;
        const feats = k > 1 ? tf.avgPool(map as tf.Tensor4D, k, 1, "same") : map;
        const dim = feats.shape[feats.shape.length - 1]!;
        const name = `knn${level}`;
        if (!evidence.features[name]) {
          evidence.features[name] = { dim, grid, data: new Float32Array(n * grid * grid * dim) };
        }
        evidence.features[name].data.set(feats.dataSync(), start * grid * grid * dim);
      }
      const pixelSets = [
        ...pixelPatches(config).map((e) => [pixelComponent(e), e === 0 ? g.patch : e] as const),
        ...contrastPatches(config).map((side) => [`con${side}`, side] as const),
        ...standardPatches(config).map((side) => [`std${side}`, side] as const),
      ];
      const standard = pixelSets.some(([name]) => name.startsWith("std"))
        ? standardiseImages(x)
        : null;
      for (const [name, side] of config.knnHead ? pixelSets : []) {
        if (options.skip?.has(name)) continue;
        const raw = patchify(name.startsWith("std") ? standard! : x, side);
        const pixels = name.startsWith("con") ? contrastNormalise(raw, 3) : raw;
        const grid = S / side;
        const dim = 3 * side * side;
        if (!evidence.features[name]) {
          evidence.features[name] = { dim, grid, data: new Float32Array(n * grid * grid * dim) };
        }
        evidence.features[name].data.set(pixels.dataSync(), start * grid * grid * dim);
      }
      if (patterns.length > 0) {
        const target = patchTargets(config, x);
        // Each token is hidden in exactly one pattern; its error there is its reconstruction error.
        for (const pattern of patterns) {
          const hidden = [...pattern.keys()].filter((i) => pattern[i] === 1);
          if (hidden.length === 0) continue;
          const mask = tf.tensor2d(pattern, [1, g.tokens]).tile([B, 1]) as tf.Tensor2D;
          const reconstruction = reconstructImageTokens(
            params,
            config,
            plain!.stemTokens,
            mask,
            hidden,
          );
          const error = reconstruction.sub(tf.gather(target, hidden, 1)).square().mean(2)
            .dataSync();
          for (let b = 0; b < B; b++) {
            hidden.forEach((token, h) => {
              recon[(start + b) * g.tokens + token] = error[b * hidden.length + h];
            });
          }
        }
      }
    });
  }
  if (wantHeads) {
    if (patterns.length > 0) evidence.tokens.recon = { grid: g.grid, values: recon };
    if (config.anomalyHead && !skipsAnomalyHead) {
      evidence.tokens.patch = { grid: g.grid, values: patch };
      evidence.sample.cls = cls;
    }
  }
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
  const recon = new Float32Array(n);
  const cls = new Float32Array(n);
  const featureDim = d * config.width;
  const features = new Float32Array(n * featureDim);
  const groups = Math.max(1, Math.round(1 / Math.max(config.tableMaskRatio, 1 / d)));
  const wantHeads = !options.featuresOnly && tableHeadsCount(config);
  const wantRecon = config.reconstructionHead && wantHeads && options.skip?.has("recon") !== true;
  // Rows per batch from a memory budget: a fixed 512 rows of 27+ features exhausted wasm memory.
  const passes = (wantRecon ? groups : 0) + (wantHeads && config.anomalyHead ? 1 : 0);
  const batchSize = tableBatchRows(config, d, passes);
  for (let start = 0; start < n; start += batchSize) {
    const B = Math.min(batchSize, n - start);
    tf.tidy(() => {
      const x = tf.tensor2d(rows.subarray(start * d, (start + B) * d), [B, d]);
      if (wantHeads && config.anomalyHead) {
        cls.set(forwardTable(params, config, table, x, null).clsLogits.dataSync(), start);
      }
      // The feature tokens before the encoder: a learned per-feature embedding of the values, so
      // distances weigh each feature by what training made of it, magnitudes intact.
      features.set(
        tableTokens(params, table, x).reshape([B, featureDim]).dataSync(),
        start * featureDim,
      );
      if (wantRecon) {
        let error = tf.zeros([B]);
        for (let gi = 0; gi < groups; gi++) {
          const pattern = new Float32Array(d).map((_, j) => (j % groups === gi ? 1 : 0));
          const mask = tf.tensor2d(pattern, [1, d]).tile([B, 1]) as tf.Tensor2D;
          const out = forwardTable(params, config, table, x, mask);
          error = error.add(out.reconstruction.sub(x).square().mul(mask).sum(1));
        }
        recon.set(error.dataSync(), start);
      }
    });
  }
  const evidence: Evidence = { n, sample: {}, tokens: {}, features: {} };
  if (config.knnHead) evidence.features.knn = { dim: featureDim, grid: 1, data: features };
  // Density and isolation read the same normalised rows (and so share one bank).
  const normalised = config.densityHead || config.isolationHead ? rows.slice() : rows;
  if (config.densityHead) evidence.features.dens = { dim: d, grid: 1, data: normalised };
  if (config.isolationHead) evidence.features.iso = { dim: d, grid: 1, data: normalised };
  if (wantRecon) evidence.sample.recon = recon;
  if (wantHeads && config.anomalyHead) evidence.sample.cls = cls;
  return evidence;
}

/** What evidence to compute. */
export interface EvidenceOptions {
  /** Only the features the memory banks are built from. */
  featuresOnly?: boolean;
  /** Components not to compute (dropped by their validation weight). */
  skip?: Set<Component>;
}

function l2(x: tf.Tensor): tf.Tensor {
  return x.div(x.norm("euclidean", -1, true).add(1e-6));
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
 * Memory banks of normal features for every kNN component of the evidence: coresets, except
 * for the density and isolation components, which need a fair sample of the normals (one
 * sample, when both read the same rows).
 */
export function banksFromEvidence(
  evidence: Evidence,
  limit: number,
  seed: number,
  projection = 0,
  built: Record<Component, MemoryBank> = {},
  pixelProjectionShare = 1,
): Record<Component, MemoryBank> {
  const banks: Record<Component, MemoryBank> = {};
  const samples = new Map<Float32Array, MemoryBank>();
  for (const [name, f] of Object.entries(evidence.features)) {
    // `built` holds banks made earlier from the same data (pixel banks, which no training
    // changes).
    if (built[name]) {
      banks[name] = built[name];
      continue;
    }
    const sampled = SAMPLED_COMPONENTS.has(name);
    const shared = sampled ? samples.get(f.data) : undefined;
    if (shared) {
      banks[name] = shared;
      continue;
    }
    banks[name] = buildBank(f.data, f.dim, sampled ? DENSITY_ROWS : limit, new Rng(seed), {
      coreset: !sampled,
      // Only image features: a table's rows are few and narrow enough to compare whole.
      projection: f.grid === 1
        ? 0
        : isPixelComponent(name)
        ? Math.min(projection, Math.floor(pixelProjectionShare * f.dim))
        : projection,
    });
    if (sampled) samples.set(f.data, banks[name]);
  }
  return banks;
}

/** Components whose bank is a random sample of the normals rather than a coreset. */
const SAMPLED_COMPONENTS = new Set<Component>(["dens", "iso"]);

/** Normal rows the density and isolation components keep (density's cost is linear in them). */
const DENSITY_ROWS = 20000;

/** The settings that scoring against a memory bank reads. */
export type BankScoring = Pick<
  ModelConfig,
  "knnK" | "tableKnnK" | "isolationTrees" | "isolationSample"
>;

/**
 * Fills in the bank-based components of evidence (kNN distances, `knnK` neighbours for image
 * cells and `tableKnnK` for table rows, the density and the isolation score); components in
 * `skip` are left out.
 */
export function addKnn(
  evidence: Evidence,
  banks: Record<Component, MemoryBank>,
  config: BankScoring,
  skip?: Set<Component>,
  leaveOut?: Int32Array,
): void {
  for (const [name, f] of Object.entries(evidence.features)) {
    const bank = banks[name];
    if (!bank || skip?.has(name)) continue;
    if (name === "dens") {
      evidence.sample[name] = marginalDensityScores(bank, f.data);
      continue;
    }
    if (name === "iso") {
      const shape = { trees: config.isolationTrees, sample: config.isolationSample };
      evidence.sample[name] = isolationScores(forestOf(bank, shape), f.data);
      continue;
    }
    const distances = knnDistances(
      bank,
      f.data,
      f.grid === 1 ? config.tableKnnK : config.knnK,
      leaveOut ? exclusionOf(bank, f, leaveOut) : undefined,
    );
    if (f.grid === 1) evidence.sample[name] = distances;
    else evidence.tokens[name] = { grid: f.grid, values: distances };
  }
}

/**
 * The exclusion that scores sample i of `samples` (an index into the samples the bank was built
 * from, or -1) against the bank without the rows taken from that same sample.
 *
 * @throws {Error} when the bank no longer knows where its rows came from (read from a file).
 */
function exclusionOf(bank: MemoryBank, features: FeatureSet, samples: Int32Array): Exclusion {
  if (!bank.sources) throw new Error("leave-one-out scoring needs a freshly built memory bank");
  const rowsPerSample = features.grid * features.grid;
  return {
    rowsPerSample,
    samples,
    bankSamples: bank.sources.map((row) => Math.floor(row / rowsPerSample)),
  };
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

/** Mean and standard deviation (floored) of values. */
export function moments(values: ArrayLike<number>): Moments {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / Math.max(values.length, 1);
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  const std = Math.sqrt(sq / Math.max(values.length - 1, 1));
  return { mean, std: Math.max(std, 1e-6) };
}

/** Fits per-component standardisation on validation-normal evidence. */
export function fitStats(
  evidence: Evidence,
  components: Component[],
  smooth: boolean,
): Omit<KeyStats, "threshold"> {
  const samples = sampleScores(evidence, components, smooth);
  const stats: Omit<KeyStats, "threshold"> = { sample: {}, tokens: {} };
  for (const c of components) {
    if (samples[c]) stats.sample[c] = moments(samples[c]);
    const tokens = evidence.tokens[c];
    if (tokens) stats.tokens[c] = moments(tokens.values);
  }
  return stats;
}

/** The combined score: mean of the standardised components. */
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
    for (let i = 0; i < evidence.n; i++) scores[i] += parts[c][i] * w;
  }
  return { scores, parts };
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

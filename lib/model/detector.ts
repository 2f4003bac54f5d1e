/**
 * The anomaly detector around the model: turns forward passes into anomaly evidence (masked
 * reconstruction error, sigmoid head logits, nearest-neighbour distance of token features to a
 * per-dataset memory bank of normals), standardises each on validation normals of the same
 * dataset or image category, and combines them into one score and, for images, an anomaly map.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import {
  forwardImages,
  forwardTable,
  geometry,
  maskPatterns,
  type Params,
  patchTargets,
} from "./madformer.ts";
import { buildBank, knnDistances, type MemoryBank } from "./knn.ts";
import { Rng } from "../rng.ts";

/** Names of the evidence components. */
export type Component = "recon" | "knn" | "patch" | "cls";

/** Raw evidence for a batch: per-token maps (images) or per-sample values, by component. */
export interface Evidence {
  /** Per-sample scores by component, each of length n. */
  sample: Partial<Record<Component, Float32Array>>;
  /** Per-token maps by component (images only), each n * tokens long. */
  tokens: Partial<Record<Component, Float32Array>>;
  /** Features for the kNN head, n * featureRows * dim. */
  features: Float32Array;
  featureDim: number;
}

/** Mean and standard deviation of a component on validation normals. */
export interface Moments {
  mean: number;
  std: number;
}

/** Scoring statistics for one dataset or image category. */
export interface KeyStats {
  sample: Partial<Record<Component, Moments>>;
  tokens: Partial<Record<Component, Moments>>;
  /** Decision threshold on the combined score, chosen on validation. */
  threshold: number;
}

/** Which components a config turns on, in a fixed order. */
export function activeComponents(config: ModelConfig, modality: "image" | "table"): Component[] {
  const out: Component[] = [];
  if (config.reconstructionHead) out.push("recon");
  if (config.knnHead) out.push("knn");
  if (config.anomalyHead) {
    if (modality === "image") out.push("patch");
    out.push("cls");
  }
  return out;
}

const EVIDENCE_BATCH = 16;

/** Images as [n, S, S, 3] values in [0, 1] (row-major, one Float32Array per image). */
export function imageEvidence(
  params: Params,
  config: ModelConfig,
  images: Float32Array[],
  options: { featuresOnly?: boolean } = {},
): Evidence {
  const g = geometry(config);
  const S = config.imageSize;
  const n = images.length;
  const recon = new Float32Array(n * g.tokens);
  const patch = new Float32Array(n * g.tokens);
  const cls = new Float32Array(n);
  const featureDim = 2 * config.width;
  const features = new Float32Array(n * g.tokens * featureDim);
  const patterns = config.reconstructionHead && !options.featuresOnly
    ? maskPatterns(Math.max(1, Math.round(1 / Math.max(config.maskRatio, 0.05))), g.tokens, g.grid)
    : [];
  for (let start = 0; start < n; start += EVIDENCE_BATCH) {
    const batch = images.slice(start, start + EVIDENCE_BATCH);
    const B = batch.length;
    tf.tidy(() => {
      const x = tf.tensor4d(concatArrays(batch), [B, S, S, 3]);
      const plain = forwardImages(params, config, x, null);
      patch.set(plain.patchLogits.dataSync(), start * g.tokens);
      cls.set(plain.clsLogits.dataSync(), start);
      const feats = tf.concat([l2(plain.stemTokens), l2(plain.tokens)], 2);
      features.set(feats.dataSync(), start * g.tokens * featureDim);
      if (patterns.length > 0) {
        const target = patchTargets(config, x);
        let error = tf.zeros([B, g.tokens]);
        for (const pattern of patterns) {
          const mask = tf.tensor2d(pattern, [1, g.tokens]).tile([B, 1]) as tf.Tensor2D;
          const out = forwardImages(params, config, x, mask);
          const e = out.reconstruction.sub(target).square().mean(2);
          error = error.add(e.mul(mask));
        }
        recon.set(error.dataSync(), start * g.tokens);
      }
    });
  }
  const tokens: Evidence["tokens"] = { recon, patch };
  return { sample: { cls }, tokens, features, featureDim };
}

/** Normalised table rows [n, d] (row-major). */
export function tableEvidence(
  params: Params,
  config: ModelConfig,
  table: string,
  rows: Float32Array,
  d: number,
  options: { featuresOnly?: boolean } = {},
): Evidence {
  const n = rows.length / d;
  const recon = new Float32Array(n);
  const cls = new Float32Array(n);
  const featureDim = config.width;
  const features = new Float32Array(n * featureDim);
  const groups = Math.max(1, Math.round(1 / Math.max(config.tableMaskRatio, 1 / d)));
  const batchSize = 512;
  for (let start = 0; start < n; start += batchSize) {
    const B = Math.min(batchSize, n - start);
    tf.tidy(() => {
      const x = tf.tensor2d(rows.subarray(start * d, (start + B) * d), [B, d]);
      const plain = forwardTable(params, config, table, x, null);
      cls.set(plain.clsLogits.dataSync(), start);
      features.set(l2(plain.cls).dataSync(), start * featureDim);
      if (config.reconstructionHead && !options.featuresOnly) {
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
  return { sample: { cls, recon }, tokens: {}, features, featureDim };
}

function l2(x: tf.Tensor): tf.Tensor {
  return x.div(x.norm("euclidean", -1, true).add(1e-6));
}

function concatArrays(arrays: Float32Array[]): Float32Array {
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** Memory bank of normal features for the kNN head. */
export function bankFromEvidence(evidence: Evidence, limit: number, seed: number): MemoryBank {
  return buildBank(evidence.features, evidence.featureDim, limit, new Rng(seed));
}

/** Fills in the kNN component of evidence against a bank. */
export function addKnn(evidence: Evidence, bank: MemoryBank, k: number, perToken: boolean): void {
  const distances = knnDistances(bank, evidence.features, k);
  if (perToken) evidence.tokens.knn = distances;
  else evidence.sample.knn = distances;
}

/** 3x3 mean filter over each image's token grid, then the maximum: the image-level score. */
export function smoothedMax(map: Float32Array, n: number, grid: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n; b++) {
    const smooth = smoothGrid(map.subarray(b * grid * grid, (b + 1) * grid * grid), grid);
    out[b] = Math.max(...smooth);
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

/** Per-sample scores by component: image token maps reduced by smoothed maximum. */
export function sampleScores(
  evidence: Evidence,
  components: Component[],
  n: number,
  grid: number,
): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const c of components) {
    const tokens = evidence.tokens[c];
    const sample = evidence.sample[c];
    if (tokens) out[c] = smoothedMax(tokens, n, grid);
    else if (sample) out[c] = sample;
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
  n: number,
  grid: number,
): Omit<KeyStats, "threshold"> {
  const samples = sampleScores(evidence, components, n, grid);
  const stats: Omit<KeyStats, "threshold"> = { sample: {}, tokens: {} };
  for (const c of components) {
    if (samples[c]) stats.sample[c] = moments(samples[c]);
    const tokens = evidence.tokens[c];
    if (tokens) stats.tokens[c] = moments(tokens);
  }
  return stats;
}

/** The combined score: mean of the standardised components. */
export function combineScores(
  evidence: Evidence,
  components: Component[],
  stats: Omit<KeyStats, "threshold">,
  n: number,
  grid: number,
): { scores: Float32Array; parts: Record<string, Float32Array> } {
  const samples = sampleScores(evidence, components, n, grid);
  const scores = new Float32Array(n);
  const parts: Record<string, Float32Array> = {};
  for (const c of components) {
    const m = stats.sample[c];
    if (!m || !samples[c]) continue;
    parts[c] = samples[c].map((v) => (v - m.mean) / m.std);
    for (let i = 0; i < n; i++) scores[i] += parts[c][i] / components.length;
  }
  return { scores, parts };
}

/** Combined per-token anomaly maps (standardised components averaged), n * tokens long. */
export function combineMaps(
  evidence: Evidence,
  components: Component[],
  stats: Omit<KeyStats, "threshold">,
): Float32Array | null {
  const used = components.filter((c) => evidence.tokens[c] && stats.tokens[c]);
  if (used.length === 0) return null;
  const length = evidence.tokens[used[0]]!.length;
  const out = new Float32Array(length);
  for (const c of used) {
    const m = stats.tokens[c]!;
    const map = evidence.tokens[c]!;
    for (let i = 0; i < length; i++) out[i] += (map[i] - m.mean) / m.std / used.length;
  }
  return out;
}

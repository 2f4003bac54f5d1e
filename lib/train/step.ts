/**
 * One optimiser step per modality: forward with masked tokens, masked-reconstruction MSE plus
 * the sigmoid heads' BCE, gradients, AdamW. Shared by the training loop, the gradient workers
 * and the benchmark, so that what is timed is what trains.
 *
 * A batch is plain arrays until a step turns it into tensors, so it can be cut into shards and
 * sent to gradient workers (`parallel.ts`). Every loss is a sum over the shard divided by a count
 * of the whole batch, so the shards' gradients add up to the batch's gradient.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Config } from "../model/config.ts";
import {
  forwardImages,
  forwardTable,
  geometry,
  type Params,
  patchify,
  patchTargets,
} from "../model/madformer.ts";
import { TABLE_BATCH_MB_ENV, tableBatchMegabytes, tableTrainRows } from "../model/table_batch.ts";
import { type AdamState, adamStep } from "./optimizer.ts";

/** Loss values of a step (0 for a head that is off). */
export interface Losses {
  loss: number;
  recon: number;
  anomaly: number;
}

/** An image batch as plain arrays: `n` images of side `size`. */
export interface ImageBatchData {
  n: number;
  size: number;
  /** [n, S, S, 3] images in [0, 1], some with synthetic anomalies. */
  input: Float32Array;
  /** [n, S, S, 3] the clean images (reconstruction targets). */
  clean: Float32Array;
  /** [n, S, S] 1 = pixel altered by a synthetic anomaly. */
  masks: Float32Array;
  /** [n] 1 = synthetic anomaly. */
  labels: Float32Array;
  /** [n, T] 1 = token hidden. */
  tokenMask: Float32Array;
}

/** A table batch as plain arrays: `n` rows of `d` normalised features. */
export interface TableBatchData {
  table: string;
  n: number;
  d: number;
  /** [n, d] rows, some with synthetic anomalies. */
  input: Float32Array;
  /** [n, d] the clean rows. */
  clean: Float32Array;
  /** [n] 1 = synthetic anomaly. */
  labels: Float32Array;
  /** [n, d] 1 = feature hidden. */
  mask: Float32Array;
}

/**
 * Counts of a whole batch that its losses divide by: hidden tokens (or hidden features of normal
 * rows), patch labels and samples. A shard's loss divided by the whole batch's counts is its
 * share of the batch's loss.
 */
export interface LossCounts {
  hidden: number;
  patches: number;
  samples: number;
}

/** Rows [from, to) of an image batch. */
export function imageShard(data: ImageBatchData, from: number, to: number): ImageBatchData {
  const pixels = data.size * data.size;
  const tokens = data.tokenMask.length / data.n;
  return {
    n: to - from,
    size: data.size,
    input: data.input.slice(from * pixels * 3, to * pixels * 3),
    clean: data.clean.slice(from * pixels * 3, to * pixels * 3),
    masks: data.masks.slice(from * pixels, to * pixels),
    labels: data.labels.slice(from, to),
    tokenMask: data.tokenMask.slice(from * tokens, to * tokens),
  };
}

/** Rows [from, to) of a table batch. */
export function tableShard(data: TableBatchData, from: number, to: number): TableBatchData {
  const d = data.d;
  return {
    ...data,
    n: to - from,
    input: data.input.slice(from * d, to * d),
    clean: data.clean.slice(from * d, to * d),
    labels: data.labels.slice(from, to),
    mask: data.mask.slice(from * d, to * d),
  };
}

/** The counts an image batch's losses divide by. */
export function imageCounts(config: Config, data: ImageBatchData): LossCounts {
  const tokens = geometry(config.model).tokens;
  return {
    hidden: config.model.reconstructionHead ? sum(data.tokenMask) : 0,
    patches: data.n * tokens,
    samples: data.n,
  };
}

/** The counts a table batch's losses divide by (hidden features of normal rows only). */
export function tableCounts(config: Config, data: TableBatchData): LossCounts {
  let hidden = 0;
  if (config.model.reconstructionHead) {
    for (let r = 0; r < data.n; r++) {
      if (data.labels[r]) continue;
      for (let j = 0; j < data.d; j++) hidden += data.mask[r * data.d + j];
    }
  }
  return { hidden, patches: data.n, samples: data.n };
}

/** The parameters an image step trains: all but the tables' own. */
export function imageTrainable(params: Params): [string, tf.Variable][] {
  return [...params].filter(([n]) => !n.startsWith("table.") && !n.startsWith("enc.table."));
}

/** The parameters a step on `table` trains: only this table's and the shared ones. */
export function tableTrainable(params: Params, table: string): [string, tf.Variable][] {
  // Image-only parameters get no gradient from a table batch; leaving them out saves work.
  return [...params].filter(([n]) =>
    !n.startsWith("stem.") && !n.startsWith("head.recon") && !n.startsWith("head.patch") &&
    !n.startsWith("embed.position") && !n.startsWith("enc.image.") &&
    (!n.startsWith("table.") || n.startsWith(`table.${table}.`))
  );
}

/** Gradients of a shard by parameter key (in `trainable` order) and its loss values. */
export interface ShardGradients {
  grads: Map<string, tf.Tensor>;
  losses: Losses;
}

/**
 * The gradients of a loss with respect to `trainable`, keyed by parameter key; the caller frees
 * them. A config with no trained head has none (and losses of 0).
 */
function gradientsOf(
  config: Config,
  trainable: [string, tf.Variable][],
  lossFn: (parts: { recon: number; anomaly: number }) => tf.Scalar,
): ShardGradients {
  const m = config.model;
  if (!m.reconstructionHead && !m.anomalyHead) {
    return { grads: new Map(), losses: { loss: 0, recon: 0, anomaly: 0 } };
  }
  const parts = { recon: 0, anomaly: 0 };
  const result = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => lossFn(parts), trainable.map(([, v]) => v));
    return { value, ...grads };
  });
  const { value, ...byName } = result as Record<string, tf.Tensor>;
  const loss = value.dataSync()[0];
  value.dispose();
  const grads = new Map<string, tf.Tensor>();
  for (const [key, v] of trainable) if (byName[v.name]) grads.set(key, byName[v.name]);
  return { grads, losses: { loss, ...parts } };
}

/** Adds a loss term to `loss`, recording its value under `key` for the logs. */
function addTerm(
  loss: tf.Scalar,
  parts: { recon: number; anomaly: number },
  key: "recon" | "anomaly",
  term: tf.Scalar,
): tf.Scalar {
  parts[key] = term.dataSync()[0];
  return loss.add(term);
}

/** Sum of BCE over all elements, divided by `count`. */
function bceOver(labels: tf.Tensor, logits: tf.Tensor, count: number): tf.Scalar {
  return tf.losses.sigmoidCrossEntropy(labels, logits, undefined, 0, tf.Reduction.SUM)
    .div(count) as tf.Scalar;
}

/**
 * Gradients of an image shard's loss; `counts` are the whole batch's (the shard's own when it is
 * the whole batch).
 */
export function imageGradients(
  params: Params,
  config: Config,
  data: ImageBatchData,
  counts: LossCounts = imageCounts(config, data),
): ShardGradients {
  const m = config.model;
  const g = geometry(m);
  const B = data.n;
  const S = data.size;
  return gradientsOf(config, imageTrainable(params), (parts) => {
    const input = tf.tensor4d(data.input, [B, S, S, 3]);
    const target = patchTargets(m, tf.tensor4d(data.clean, [B, S, S, 3]));
    const tokenMask = tf.tensor2d(data.tokenMask, [B, g.tokens]);
    const out = forwardImages(params, m, input, m.reconstructionHead ? tokenMask : null);
    let loss = tf.scalar(0);
    if (m.reconstructionHead) {
      const errors = out.reconstruction.sub(target).square().mean(2);
      let term = errors.mul(tokenMask).sum().div(counts.hidden + 1e-6) as tf.Scalar;
      if (m.visibleReconWeight > 0) {
        const visible = errors.mul(tf.scalar(1).sub(tokenMask)).sum()
          .div(counts.patches - counts.hidden + 1e-6).mul(m.visibleReconWeight);
        term = term.add(visible) as tf.Scalar;
      }
      loss = addTerm(loss, parts, "recon", term);
    }
    if (m.anomalyHead) {
      // A patch counts as anomalous once an eighth of it is covered.
      const coverage = patchify(tf.tensor4d(data.masks, [B, S, S, 1]), g.patch).mean(3)
        .reshape([B, g.tokens]);
      const patchLabels = coverage.mul(8).clipByValue(0, 1);
      const bce = bceOver(patchLabels, out.patchLogits, counts.patches)
        .add(bceOver(tf.tensor1d(data.labels), out.clsLogits, counts.samples))
        .mul(config.train.anomalyLossWeight) as tf.Scalar;
      loss = addTerm(loss, parts, "anomaly", bce);
    }
    return loss;
  });
}

/**
 * Gradients of a table shard's loss; `counts` as for {@linkcode imageGradients}. A shard of more
 * than `microRows` rows (by default as many as the table memory budget allows, see
 * `tableTrainRows`) is computed in micro-batches of at most that many, their gradients summed:
 * the losses divide by the whole batch's counts, so the sum is the shard's gradient (up to the
 * order of float additions) while only one micro-batch's activations exist at a time. A shard
 * that fits is computed in one pass, exactly as before.
 */
export function tableGradients(
  params: Params,
  config: Config,
  data: TableBatchData,
  counts: LossCounts = tableCounts(config, data),
  microRows: number = tableTrainRows(config.model, data.d),
): ShardGradients {
  if (data.n <= microRows) return tableGradientsOnce(params, config, data, counts);
  let total: ShardGradients | null = null;
  for (let from = 0; from < data.n; from += microRows) {
    const micro = tableShard(data, from, Math.min(data.n, from + microRows));
    const part = tableGradientsOnce(params, config, micro, counts);
    total = total ? addGradients(total, part) : part;
  }
  return total!;
}

/**
 * The log line saying a table's steps run in micro-batches (null when each shard of a step fits
 * the table memory budget in one pass): a step's `tableBatchSize` rows, cut into `shards`
 * shards, of `d` features each.
 */
export function microBatchNote(
  config: Config,
  table: string,
  d: number,
  shards: number,
  megabytes: number = tableBatchMegabytes(),
): string | null {
  const rows = config.train.tableBatchSize;
  const shard = Math.ceil(rows / Math.max(1, shards));
  const micro = tableTrainRows(config.model, d, megabytes);
  if (shard <= micro) return null;
  return `table ${table}: ${d} features, so a step's ${rows} rows run in micro-batches of at ` +
    `most ${micro} row${micro === 1 ? "" : "s"} (gradients summed: the same step, in less ` +
    `memory; ${TABLE_BATCH_MB_ENV}=${megabytes} MB bounds a micro-batch)`;
}

/** The sum of two shards' gradients and losses; frees both shards' gradient tensors. */
export function addGradients(a: ShardGradients, b: ShardGradients): ShardGradients {
  const grads = new Map(a.grads);
  for (const [key, g] of b.grads) {
    const mine = grads.get(key);
    if (!mine) {
      grads.set(key, g);
      continue;
    }
    grads.set(key, tf.tidy(() => mine.add(g)));
    mine.dispose();
    g.dispose();
  }
  return {
    grads,
    losses: {
      loss: a.losses.loss + b.losses.loss,
      recon: a.losses.recon + b.losses.recon,
      anomaly: a.losses.anomaly + b.losses.anomaly,
    },
  };
}

/** Gradients of a table shard's loss in one pass. */
function tableGradientsOnce(
  params: Params,
  config: Config,
  data: TableBatchData,
  counts: LossCounts,
): ShardGradients {
  const m = config.model;
  const { n: B, d } = data;
  return gradientsOf(config, tableTrainable(params, data.table), (parts) => {
    const input = tf.tensor2d(data.input, [B, d]);
    const mask = tf.tensor2d(data.mask, [B, d]);
    const labels = tf.tensor1d(data.labels);
    const out = forwardTable(params, m, data.table, input, m.reconstructionHead ? mask : null);
    let loss = tf.scalar(0);
    if (m.reconstructionHead) {
      // Only normal rows teach reconstruction: an anomaly's features are not what to predict.
      const normalRows = tf.scalar(1).sub(labels).expandDims(1);
      const errors = out.reconstruction.sub(tf.tensor2d(data.clean, [B, d])).square();
      const term = errors.mul(mask.mul(normalRows)).sum().div(counts.hidden + 1e-6) as tf.Scalar;
      loss = addTerm(loss, parts, "recon", term);
    }
    if (m.anomalyHead) {
      const bce = bceOver(labels, out.clsLogits, counts.samples)
        .mul(config.train.anomalyLossWeight) as tf.Scalar;
      loss = addTerm(loss, parts, "anomaly", bce);
    }
    return loss;
  });
}

/**
 * Applies AdamW with summed shard gradients when the loss is finite, and frees the gradients.
 * Returns the losses.
 */
export function applyGradients(
  params: Params,
  adam: AdamState,
  config: Config,
  shard: ShardGradients,
  lr: number,
): Losses {
  try {
    if (shard.grads.size > 0 && Number.isFinite(shard.losses.loss)) {
      const byName: Record<string, tf.Tensor> = {};
      for (const [key, g] of shard.grads) byName[params.get(key)!.name] = g;
      adamStep(params, byName, adam, {
        lr,
        weightDecay: config.train.weightDecay,
        clipNorm: config.train.clipNorm,
      });
    }
    return shard.losses;
  } finally {
    for (const g of shard.grads.values()) g.dispose();
  }
}

/** One image step in this thread: gradients of the whole batch, then AdamW. */
export function imageGradStep(
  params: Params,
  adam: AdamState,
  config: Config,
  data: ImageBatchData,
  lr: number,
): Losses {
  return applyGradients(params, adam, config, imageGradients(params, config, data), lr);
}

/** One table step in this thread: gradients of the whole batch, then AdamW. */
export function tableGradStep(
  params: Params,
  adam: AdamState,
  config: Config,
  data: TableBatchData,
  lr: number,
): Losses {
  return applyGradients(params, adam, config, tableGradients(params, config, data), lr);
}

function sum(values: Float32Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

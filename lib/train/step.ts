/**
 * One optimiser step per modality: forward with masked tokens, masked-reconstruction MSE plus
 * the sigmoid heads' BCE, gradients, AdamW. Shared by the training loop and the benchmark, so
 * that what is timed is what trains.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Config } from "../model/config.ts";
import { forwardImages, forwardTable, type Params } from "../model/madformer.ts";
import { type AdamState, adamStep } from "./optimizer.ts";

/** Loss values of a step (0 for a head that is off). */
export interface Losses {
  loss: number;
  recon: number;
  anomaly: number;
}

/** Tensors of an image batch. */
export interface ImageBatch {
  /** [B, S, S, 3] images in [0, 1], some with synthetic anomalies. */
  input: tf.Tensor4D;
  /** [B, T, patchDim] reconstruction targets from the clean images. */
  target: tf.Tensor3D;
  /** [B, T] 1 = token hidden. */
  tokenMask: tf.Tensor2D;
  /** [B, T] per-patch anomaly targets in [0, 1]. */
  patchLabels: tf.Tensor2D;
  /** [B] 1 = synthetic anomaly. */
  labels: tf.Tensor1D;
}

/** Tensors of a table batch. */
export interface TableBatch {
  table: string;
  /** [B, d] normalised rows, some with synthetic anomalies. */
  input: tf.Tensor2D;
  /** [B, d] the clean rows. */
  target: tf.Tensor2D;
  /** [B, d] 1 = feature hidden. */
  mask: tf.Tensor2D;
  /** [B] 1 = synthetic anomaly. */
  labels: tf.Tensor1D;
}

/**
 * Runs `fn` and frees every tensor it made, like tf.tidy, for functions that return plain
 * values rather than tensors.
 */
export function tidyValue<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

/** A masked-reconstruction loss that is 0 when nothing is masked. */
function maskedMean(errors: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return errors.mul(mask).sum().div(mask.sum().add(1e-6)) as tf.Scalar;
}

function parameters(params: Params, keep: (name: string) => boolean): tf.Variable[] {
  return [...params].filter(([name]) => keep(name)).map(([, v]) => v);
}

/**
 * Runs the loss, and when it is finite and depends on any parameter, applies AdamW. A config
 * with no trained head (kNN only) has nothing to learn, and the step only reports zeros.
 */
function step(
  params: Params,
  adam: AdamState,
  config: Config,
  lr: number,
  trainable: tf.Variable[],
  lossFn: (parts: { recon: number; anomaly: number }) => tf.Scalar,
): Losses {
  const m = config.model;
  if (!m.reconstructionHead && !m.anomalyHead) return { loss: 0, recon: 0, anomaly: 0 };
  return tidyValue(() => {
    const parts = { recon: 0, anomaly: 0 };
    const { value, grads } = tf.variableGrads(() => lossFn(parts), trainable);
    const loss = value.dataSync()[0];
    if (Number.isFinite(loss)) {
      adamStep(params, grads, adam, {
        lr,
        weightDecay: config.train.weightDecay,
        clipNorm: config.train.clipNorm,
      });
    }
    return { loss, ...parts };
  });
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

/** One image step; image-only parameters and the shared encoder learn. */
export function imageGradStep(
  params: Params,
  adam: AdamState,
  config: Config,
  batch: ImageBatch,
  lr: number,
): Losses {
  const m = config.model;
  const trainable = parameters(
    params,
    (n) => !n.startsWith("table.") && !n.startsWith("enc.table."),
  );
  return step(params, adam, config, lr, trainable, (parts) => {
    const out = forwardImages(
      params,
      m,
      batch.input,
      m.reconstructionHead ? batch.tokenMask : null,
    );
    let loss = tf.scalar(0);
    if (m.reconstructionHead) {
      const errors = out.reconstruction.sub(batch.target).square().mean(2);
      loss = addTerm(loss, parts, "recon", maskedMean(errors, batch.tokenMask));
    }
    if (m.anomalyHead) {
      const bce = tf.losses.sigmoidCrossEntropy(batch.patchLabels, out.patchLogits)
        .add(tf.losses.sigmoidCrossEntropy(batch.labels, out.clsLogits))
        .mul(config.train.anomalyLossWeight) as tf.Scalar;
      loss = addTerm(loss, parts, "anomaly", bce);
    }
    return loss;
  });
}

/** One table step; only this table's parameters and the shared parts learn. */
export function tableGradStep(
  params: Params,
  adam: AdamState,
  config: Config,
  batch: TableBatch,
  lr: number,
): Losses {
  const m = config.model;
  // Image-only parameters get no gradient from a table batch; leaving them out saves work.
  const trainable = parameters(
    params,
    (n) =>
      !n.startsWith("stem.") && !n.startsWith("head.recon") && !n.startsWith("head.patch") &&
      !n.startsWith("embed.position") && !n.startsWith("enc.image.") &&
      (!n.startsWith("table.") || n.startsWith(`table.${batch.table}.`)),
  );
  return step(params, adam, config, lr, trainable, (parts) => {
    const out = forwardTable(
      params,
      m,
      batch.table,
      batch.input,
      m.reconstructionHead ? batch.mask : null,
    );
    let loss = tf.scalar(0);
    if (m.reconstructionHead) {
      // Only normal rows teach reconstruction: an anomaly's features are not what to predict.
      const normalRows = tf.scalar(1).sub(batch.labels).expandDims(1);
      const errors = out.reconstruction.sub(batch.target).square();
      loss = addTerm(loss, parts, "recon", maskedMean(errors, batch.mask.mul(normalRows)));
    }
    if (m.anomalyHead) {
      const bce = tf.losses.sigmoidCrossEntropy(batch.labels, out.clsLogits)
        .mul(config.train.anomalyLossWeight) as tf.Scalar;
      loss = addTerm(loss, parts, "anomaly", bce);
    }
    return loss;
  });
}

/**
 * The training step as the bench measures it: the tensor part of the training loop's image and
 * table steps (forward with a random token mask, masked reconstruction MSE plus the BCE heads,
 * `tf.variableGrads`, AdamW) on fixed synthetic batches, so that only model compute is timed.
 * Batch preparation (flips, synthetic anomalies) is left out on purpose.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Config } from "../model/config.ts";
import { geometry, initParams, type Params, patchTargets, randomMask } from "../model/madformer.ts";
import { type AdamState, initAdam } from "../train/optimizer.ts";
import { imageGradStep, tableGradStep, tidyValue } from "../train/step.ts";
import { Rng } from "../rng.ts";

/** Name of the table the step bench makes up. */
export const BENCH_TABLE = "bench";

/** A model, its optimiser state and fixed batches to step on. */
export interface StepFixture {
  config: Config;
  params: Params;
  adam: AdamState;
  rng: Rng;
  /** [B, S, S, 3] images in [0, 1]. */
  images: tf.Tensor4D;
  /** [B, T] patch labels, [B] image labels. */
  patchLabels: tf.Tensor2D;
  imageLabels: tf.Tensor1D;
  /** [rows, features] normalised table rows and their labels. */
  rows: tf.Tensor2D;
  rowLabels: tf.Tensor1D;
}

/** Builds a fresh model for `config` and synthetic batches of the configured sizes. */
export function stepFixture(config: Config, tableFeatures = 6, seed = 0): StepFixture {
  const m = config.model;
  const t = config.train;
  const g = geometry(m);
  const rng = new Rng(seed);
  const params = initParams(m, [{ name: BENCH_TABLE, features: tableFeatures }], seed);
  const uniform = (n: number) => Float32Array.from({ length: n }, () => rng.next());
  const B = t.batchSize;
  const R = t.tableBatchSize;
  const halves = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
  return {
    config,
    params,
    adam: initAdam(params),
    rng,
    images: tf.tensor4d(uniform(B * m.imageSize * m.imageSize * 3), [
      B,
      m.imageSize,
      m.imageSize,
      3,
    ]),
    patchLabels: tf.tensor2d(
      Float32Array.from({ length: B * g.tokens }, () => (rng.next() < 0.1 ? 1 : 0)),
      [B, g.tokens],
    ),
    imageLabels: tf.tensor1d(halves(B)),
    rows: tf.tensor2d(
      Float32Array.from({ length: R * tableFeatures }, () => rng.normal()),
      [R, tableFeatures],
    ),
    rowLabels: tf.tensor1d(halves(R)),
  };
}

/** Frees a fixture's tensors. */
export function disposeFixture(f: StepFixture): void {
  for (const v of f.params.values()) v.dispose();
  for (const v of [...f.adam.m.values(), ...f.adam.v.values()]) v.dispose();
  tf.dispose([f.images, f.patchLabels, f.imageLabels, f.rows, f.rowLabels]);
}

/** One image training step (forward, backward, AdamW), as training runs it; returns the loss. */
export function imageTrainStep(f: StepFixture): number {
  const m = f.config.model;
  const g = geometry(m);
  const B = f.images.shape[0];
  return tidyValue(() =>
    imageGradStep(f.params, f.adam, f.config, {
      input: f.images,
      target: patchTargets(m, f.images),
      tokenMask: randomMask(f.rng, B, g.tokens, m.reconstructionHead ? m.maskRatio : 0),
      patchLabels: f.patchLabels,
      labels: f.imageLabels,
    }, f.config.train.lr).loss
  );
}

/** One table training step (forward, backward, AdamW), as training runs it; returns the loss. */
export function tableTrainStep(f: StepFixture): number {
  const m = f.config.model;
  const [R, d] = f.rows.shape;
  return tidyValue(() =>
    tableGradStep(f.params, f.adam, f.config, {
      table: BENCH_TABLE,
      input: f.rows,
      target: f.rows,
      mask: randomMask(f.rng, R, d, m.reconstructionHead ? m.tableMaskRatio : 0),
      labels: f.rowLabels,
    }, f.config.train.lr).loss
  );
}

/** Timing of repeated steps. */
export interface StepTiming {
  /** Median milliseconds per step after warm-up. */
  medianMs: number;
  /** Every timed step, in milliseconds. */
  ms: number[];
  /** Loss after the last step (a sanity check that the step did something). */
  lastLoss: number;
}

/** Runs `warmup` untimed then `steps` timed calls of `step`; `onStep` sees each time. */
export function timeSteps(
  step: () => number,
  steps: number,
  warmup = 2,
  onStep?: (ms: number) => void,
): StepTiming {
  let lastLoss = NaN;
  for (let i = 0; i < warmup; i++) lastLoss = step();
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    lastLoss = step();
    const dt = performance.now() - t0;
    ms.push(dt);
    onStep?.(dt);
  }
  return { medianMs: median(ms), ms, lastLoss };
}

/** Median of a non-empty list (NaN when empty). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

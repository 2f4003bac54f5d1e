/**
 * The training step as the bench measures it: the tensor part of the training loop's image and
 * table steps (forward with a random token mask, masked reconstruction MSE plus the BCE heads,
 * `tf.variableGrads`, AdamW) on fixed synthetic batches, so that only model compute is timed.
 * Batch preparation (flips, synthetic anomalies) is left out on purpose.
 *
 * @module
 */
import type { Config } from "../model/config.ts";
import {
  geometry,
  initParams,
  type Params,
  randomMaskValues,
  tableTrainingMask,
} from "../model/madformer.ts";
import { type AdamState, initAdam } from "../train/optimizer.ts";
import {
  type ImageBatchData,
  imageGradStep,
  type TableBatchData,
  tableGradStep,
} from "../train/step.ts";
import type { GradientPool } from "../train/parallel.ts";
import { Rng } from "../rng.ts";

/** Name of the table the step bench makes up. */
export const BENCH_TABLE = "bench";

/** A model, its optimiser state and fixed batches to step on. */
export interface StepFixture {
  config: Config;
  params: Params;
  adam: AdamState;
  rng: Rng;
  /** An image batch (token masks drawn anew each step). */
  images: ImageBatchData;
  /** A table batch (feature masks drawn anew each step). */
  rows: TableBatchData;
}

/** Builds a fresh model for `config` and synthetic batches of the configured sizes. */
export function stepFixture(config: Config, tableFeatures = 6, seed = 0): StepFixture {
  const m = config.model;
  const t = config.train;
  const rng = new Rng(seed);
  const params = initParams(m, [{ name: BENCH_TABLE, features: tableFeatures }], seed);
  const uniform = (n: number) => Float32Array.from({ length: n }, () => rng.next());
  const B = t.batchSize;
  const R = t.tableBatchSize;
  const S = m.imageSize;
  const halves = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const pixels = uniform(B * S * S * 3);
  const rows = Float32Array.from({ length: R * tableFeatures }, () => rng.normal());
  return {
    config,
    params,
    adam: initAdam(params),
    rng,
    images: {
      n: B,
      size: S,
      input: pixels,
      clean: pixels,
      masks: Float32Array.from({ length: B * S * S }, () => (rng.next() < 0.1 ? 1 : 0)),
      labels: halves(B),
      tokenMask: new Float32Array(B * geometry(m).tokens),
    },
    rows: {
      table: BENCH_TABLE,
      n: R,
      d: tableFeatures,
      input: rows,
      clean: rows,
      labels: halves(R),
      mask: new Float32Array(R * tableFeatures),
    },
  };
}

/** Frees a fixture's tensors. */
export function disposeFixture(f: StepFixture): void {
  for (const v of f.params.values()) v.dispose();
  for (const v of [...f.adam.m.values(), ...f.adam.v.values()]) v.dispose();
}

/** The fixture's image batch with a fresh random token mask, as training draws one. */
function imageBatch(f: StepFixture): ImageBatchData {
  const m = f.config.model;
  const ratio = m.reconstructionHead ? m.maskRatio : 0;
  const tokens = geometry(m).tokens;
  return { ...f.images, tokenMask: randomMaskValues(f.rng, f.images.n, tokens, ratio) };
}

/** The fixture's table batch with a fresh random feature mask. */
function tableBatch(f: StepFixture): TableBatchData {
  return { ...f.rows, mask: tableTrainingMask(f.rng, f.config.model, f.rows.n, f.rows.d) };
}

/** One image training step (forward, backward, AdamW) in this thread; returns the loss. */
export function imageTrainStep(f: StepFixture): number {
  return imageGradStep(f.params, f.adam, f.config, imageBatch(f), f.config.train.lr).loss;
}

/** One table training step (forward, backward, AdamW) in this thread; returns the loss. */
export function tableTrainStep(f: StepFixture): number {
  return tableGradStep(f.params, f.adam, f.config, tableBatch(f), f.config.train.lr).loss;
}

/** One image training step over a pool of gradient workers, as training runs it. */
export async function imagePoolStep(f: StepFixture, pool: GradientPool): Promise<number> {
  return (await pool.imageStep(f.params, f.adam, f.config, imageBatch(f), f.config.train.lr)).loss;
}

/** One table training step over a pool of gradient workers. */
export async function tablePoolStep(f: StepFixture, pool: GradientPool): Promise<number> {
  return (await pool.tableStep(f.params, f.adam, f.config, tableBatch(f), f.config.train.lr)).loss;
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
export async function timeSteps(
  step: () => number | Promise<number>,
  steps: number,
  warmup = 2,
  onStep?: (ms: number) => void,
): Promise<StepTiming> {
  let lastLoss = NaN;
  for (let i = 0; i < warmup; i++) lastLoss = await step();
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    lastLoss = await step();
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

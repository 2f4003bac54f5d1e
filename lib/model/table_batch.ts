/**
 * How many table rows go through the model at once: scoring batches, training micro-batches and
 * the rows a table's memory banks are fitted on. Every row is a token per feature, and a batch
 * keeps each pass's intermediates (attention, the MLP's wide layer) until it ends, so a fixed row
 * count lets memory grow with the feature count: 512 rows of 27 features needed over 4 GB to
 * score, and a training step of 128 rows of 500 features aborted, past what the wasm backend can
 * address. Batches are sized from one memory budget instead, `MADFORMER_TABLE_BATCH_MB`, so
 * memory is bounded by a setting, not by the data.
 *
 * @module
 */
import type { ModelConfig } from "./config.ts";
import { MadError } from "../errors.ts";
import { tableGroups } from "./madformer.ts";

/** Environment variable holding the budget in MB. */
export const TABLE_BATCH_MB_ENV = "MADFORMER_TABLE_BATCH_MB";

/** Default budget: about what 512 rows of ODDS thyroid's 6 features used before. */
export const DEFAULT_TABLE_BATCH_MB = 512;

/** More rows than this per batch gain nothing measurable. */
export const MAX_TABLE_BATCH_ROWS = 512;

/**
 * The table memory budget in MB: `MADFORMER_TABLE_BATCH_MB` when set, else
 * {@linkcode DEFAULT_TABLE_BATCH_MB}.
 *
 * @throws {MadError} when the variable is set but not a positive number.
 */
export function tableBatchMegabytes(
  env: (name: string) => string | undefined = readEnv,
): number {
  const raw = env(TABLE_BATCH_MB_ENV)?.trim();
  if (raw === undefined || raw === "") return DEFAULT_TABLE_BATCH_MB;
  const mb = Number(raw);
  if (!(mb > 0) || !Number.isFinite(mb)) {
    throw new MadError(`${TABLE_BATCH_MB_ENV}=${raw}: expected a positive number of megabytes`);
  }
  return mb;
}

/**
 * Estimated bytes one row of `d` features holds during `passes` encoder passes kept in one
 * batch: per token and layer about 8 * (1 + mlpRatio) * width floats (residual stream, q/k/v,
 * normalisations, the MLP's wide layer and its activation) plus 3 * heads * tokens of
 * attention. Measured with the default model (width 128, 4 layers, 4 heads, MLP ratio 4, 4
 * passes): 2.0 MB per row at 6 features, 8.5 at 27, 11.2 at 36, 20.9 at 64; this gives 2.3, 9.8,
 * 13.2 and 24.5.
 */
export function tableRowBytes(config: ModelConfig, d: number, passes: number): number {
  const groups = tableGroups(config, d);
  const tokens = groups.tokens + 1; // the tokens plus the class token
  const perToken = 8 * (1 + config.mlpRatio) * config.width + 3 * config.heads * tokens;
  // Grouped tokens are summed from every feature's token first (a few copies of d x width).
  const features = groups.size > 1 ? 4 * d * config.width : 0;
  return 4 * Math.max(1, passes) * (config.layers * tokens * perToken + features);
}

/**
 * Rows per scoring batch for a table of `d` features and `passes` encoder passes per batch:
 * as many as fit in `megabytes` (at least 1, at most {@linkcode MAX_TABLE_BATCH_ROWS}).
 */
export function tableBatchRows(
  config: ModelConfig,
  d: number,
  passes: number,
  megabytes = tableBatchMegabytes(),
): number {
  const rows = Math.floor((megabytes * 2 ** 20) / tableRowBytes(config, d, passes));
  return Math.min(MAX_TABLE_BATCH_ROWS, Math.max(1, rows));
}

/**
 * Inference passes' worth of memory one row holds in a training step: the forward pass keeps its
 * activations for the backward pass, which makes gradients of each. Measured with `tf.profile`
 * on the default model (peak tensor bytes of a table step's gradients): 2.4 MB a row at 6
 * features, 17.5 at 50, 250 at 500; {@linkcode tableRowBytes} with 4 passes gives 2.2, 17.8 and
 * 340.
 */
export const TRAIN_STEP_PASSES = 4;

/**
 * Rows of `d` features a training step computes gradients of at once (a micro-batch; at least
 * 1): as many as fit in `megabytes`. A step's rows beyond it are cut into micro-batches whose
 * gradients are summed (`lib/train/step.ts`), so the step is the same and only its memory is
 * bounded: ODDS thyroid's 6 features fit 230 rows in the default budget, more than a step's 128;
 * 500 features fit one.
 */
export function tableTrainRows(
  config: ModelConfig,
  d: number,
  megabytes = tableBatchMegabytes(),
): number {
  const rows = Math.floor((megabytes * 2 ** 20) / tableRowBytes(config, d, TRAIN_STEP_PASSES));
  return Math.max(1, rows);
}

/** Fewest rows a table's banks are fitted on, whatever the budget: its normals need describing. */
export const MIN_TABLE_FIT_ROWS = 256;

/**
 * Most rows of `d` features a table's memory banks are fitted on within `megabytes`: every
 * fitted row's features are held at once, counted as `d` x width floats a row (256 KB at 500
 * features, 5 GB for 20,000 rows), which the encoder's tokens never exceed (grouped beyond
 * `tableMaxTokens`); the kNN's d positions and the densities' d values add a width-th of it. At
 * least {@linkcode MIN_TABLE_FIT_ROWS}. Grouped tokens hold less (63 x width floats at 500
 * features), but counting them (13,336 rows of 500 features instead of 2,097) trained a long wide
 * table 60% slower at a 1 GB higher peak, and read it worse with `v34`'s kNN coreset
 * (docs/performance.md, "The table kNN as feature positions").
 */
export function tableFitRows(
  config: ModelConfig,
  d: number,
  megabytes = tableBatchMegabytes(),
): number {
  const rows = Math.floor((megabytes * 2 ** 20) / (4 * d * config.width));
  return Math.max(MIN_TABLE_FIT_ROWS, rows);
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: the default budget
  }
}

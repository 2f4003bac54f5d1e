/**
 * A table's evaluation, explained: which features the highest-scored test rows owe their scores
 * to ({@linkcode featureContributions}), and how far those contributions can be trusted, measured
 * on synthetic anomalies of the validation normals whose altered features are known (as pixel
 * AUROC measures an image map against its mask).
 *
 * @module
 */
import type { Checkpoint } from "../train/checkpoint.ts";
import type { PreparedTable } from "../train/datasets.ts";
import type { FittedKey } from "../model/scorer.ts";
import { rowsAt } from "../data/split.ts";
import {
  type AttributionCheck,
  attributionCheck,
  featureContributions,
  normalRowsBank,
  normalRowsOf,
  tableScorer,
} from "../model/explain.ts";
import { syntheticTableAnomaly } from "../data/anomalies.ts";
import { ANOMALY_SEED_OFFSET, Rng } from "../rng.ts";

/** The explained part of a table's evaluation. */
export interface TableExplanation {
  /** Feature names, in the table's order. */
  columns: string[];
  /**
   * Rows explained, highest score first, as rows of the table's file (its data rows from 0; of
   * `test-set.csv` for a split folder), so a user finds them where they are.
   */
  rows: number[];
  scores: number[];
  labels: number[];
  /** Contributions of each explained row's features, row-major [rows, features]. */
  contributions: Float32Array;
  /** The contributions on synthetic anomalies with known altered features; null if too wide. */
  check: AttributionCheck | null;
}

/** Test rows explained: the highest-scored ones. */
export const EXPLAINED_ROWS = 20;
/** Most synthetic anomalies the check explains. */
export const CHECK_ROWS = 200;
/**
 * Most feature values of occluded rows scored for an explanation (each explained row of d
 * features is d rows of d): every table up to 36 features gets its 20 rows and 200 checked,
 * one of 500 features a single row and no check.
 */
export const EXPLAIN_VALUES = 2 ** 18;
/** Fewest synthetic anomalies a check is worth reporting on. */
const MIN_CHECK_ROWS = 10;

/**
 * Explains a table's test scores: the {@linkcode EXPLAINED_ROWS} highest-scored rows and a check
 * on synthetic anomalies of its validation normals (donors from its training rows, drawn with
 * the checkpoint's seed), each within {@linkcode EXPLAIN_VALUES}.
 */
export function explainTable(
  ckpt: Checkpoint,
  fitted: FittedKey,
  prepared: PreparedTable,
  scores: Float32Array,
): TableExplanation {
  const { d, record } = prepared;
  // A checkpoint without the density and isolation banks (an ablation) has the training rows here.
  const normals = normalRowsOf(fitted.banks) ??
    normalRowsBank(prepared.train, d, ckpt.config.train.seed);
  const score = tableScorer(ckpt.params, ckpt.config.model, fitted, record.name, d);
  const budget = Math.floor(EXPLAIN_VALUES / (d * d));
  const order = [...scores.keys()].sort((a, b) => scores[b] - scores[a]);
  const rows = order.slice(0, Math.max(1, Math.min(EXPLAINED_ROWS, budget)));
  const picked = rowsAt(prepared.test, d, rows);
  const columns = record.columns ?? Array.from({ length: d }, (_, j) => `f${j + 1}`);
  // One feature is the only candidate and always the altered one: nothing to check.
  const synthetic = d >= 2 && budget >= MIN_CHECK_ROWS
    ? alteredRows(prepared, Math.min(CHECK_ROWS, budget), ckpt.config.train.seed)
    : null;
  return {
    columns,
    // The test part is a sample of the file's rows: its own indices named other rows there.
    rows: rows.map((r) => prepared.testRows?.[r] ?? r),
    scores: rows.map((r) => scores[r]),
    labels: rows.map((r) => prepared.testLabels[r]),
    contributions: featureContributions(picked, d, normals, score),
    // Every kept row has an altered feature; an AUROC also needs features left alone.
    check: synthetic && synthetic.altered.length >= MIN_CHECK_ROWS * d &&
        synthetic.altered.includes(0)
      ? attributionCheck(
        featureContributions(synthetic.values, d, normals, score),
        synthetic.altered,
        d,
      )
      : null,
  };
}

/** Synthetic anomalies of the validation normals and the features each one altered. */
export function alteredRows(
  prepared: Pick<PreparedTable, "d" | "val" | "train">,
  count: number,
  seed: number,
): { values: Float32Array; altered: Uint8Array } {
  const { d, val, train } = prepared;
  const nVal = val.length / d;
  const nTrain = train.length / d;
  const rng = new Rng(seed + ANOMALY_SEED_OFFSET);
  const values: number[] = [];
  const altered: number[] = [];
  for (let k = 0; k < count * 4 && values.length < count * d && nVal > 0 && nTrain > 0; k++) {
    const row = val.subarray((k % nVal) * d, (k % nVal + 1) * d);
    const at = rng.int(nTrain) * d;
    const out = syntheticTableAnomaly(rng, row, train.subarray(at, at + d));
    const flags = Array.from(out, (v, j) => v !== row[j] ? 1 : 0);
    if (!flags.includes(1)) continue; // a donor value equal to the row's: nothing altered
    values.push(...out);
    altered.push(...flags);
  }
  return { values: Float32Array.from(values), altered: Uint8Array.from(altered) };
}

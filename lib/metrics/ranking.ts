/**
 * Threshold-free ranking metrics (AUROC, average precision) and the curves behind them,
 * matching scikit-learn's definitions, including its handling of tied scores.
 *
 * @module
 */

import { cumulative } from "./cumulative.ts";
import { checkBothClasses, checkScoresLabels } from "./validate.ts";

/** A ROC curve: false and true positive rates as the threshold falls. */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** thresholds[0] is `Infinity` (nothing flagged), as in scikit-learn. */
  thresholds: number[];
}

/** A precision-recall curve in scikit-learn's order (thresholds ascending, ends at recall 0). */
export interface PrCurve {
  precision: number[];
  recall: number[];
  thresholds: number[];
}

/**
 * The ROC curve at every distinct threshold (unlike scikit-learn's default, collinear points are
 * kept), starting from (0, 0). Needs both classes.
 *
 * @param scores Higher means more anomalous.
 * @param labels 1 = anomaly, 0 = normal.
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocCurve {
  checkScoresLabels(scores, labels);
  checkBothClasses(labels);
  const c = cumulative(scores, labels);
  const p = c.tps[c.tps.length - 1];
  const n = c.fps[c.fps.length - 1];
  return {
    fpr: [0, ...c.fps.map((f) => f / n)],
    tpr: [0, ...c.tps.map((t) => t / p)],
    thresholds: [Infinity, ...c.thresholds],
  };
}

/**
 * Area under the ROC curve, exact: the trapezoid rule over distinct thresholds, which equals the
 * Mann-Whitney statistic with ties counted as one half. Constant scores give 0.5.
 * Throws MadError unless both classes occur.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkScoresLabels(scores, labels);
  checkBothClasses(labels);
  const c = cumulative(scores, labels);
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let i = 0; i < c.tps.length; i++) {
    area += (c.fps[i] - prevFp) * (c.tps[i] + prevTp) / 2;
    prevTp = c.tps[i];
    prevFp = c.fps[i];
  }
  return area / (prevTp * prevFp);
}

/**
 * Average precision as scikit-learn's `average_precision_score`: the step-wise sum of
 * (R_n - R_{n-1}) * P_n over distinct thresholds, no interpolation.
 * Throws MadError unless both classes occur.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkScoresLabels(scores, labels);
  checkBothClasses(labels);
  const c = cumulative(scores, labels);
  const p = c.tps[c.tps.length - 1];
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < c.tps.length; i++) {
    const recall = c.tps[i] / p;
    ap += (recall - prevRecall) * (c.tps[i] / (c.tps[i] + c.fps[i]));
    prevRecall = recall;
  }
  return ap;
}

/**
 * The precision-recall curve as scikit-learn's (>= 1.1) `precision_recall_curve`: one point per
 * distinct score with thresholds ascending, then a final point (precision 1, recall 0) that has
 * no threshold.
 */
export function prCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): PrCurve {
  checkScoresLabels(scores, labels);
  checkBothClasses(labels);
  const c = cumulative(scores, labels);
  const p = c.tps[c.tps.length - 1];
  const precision: number[] = [];
  const recall: number[] = [];
  const thresholds: number[] = [];
  for (let i = c.tps.length - 1; i >= 0; i--) {
    precision.push(c.tps[i] / (c.tps[i] + c.fps[i]));
    recall.push(c.tps[i] / p);
    thresholds.push(c.thresholds[i]);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds };
}

/**
 * Thresholded metrics: confusion counts at a threshold and ways to choose the threshold.
 * Everywhere a sample is predicted anomalous when its score is >= the threshold.
 *
 * @module
 */

import { MadError } from "../errors.ts";
import { cumulative } from "./cumulative.ts";
import { checkScores, checkScoresLabels, countPositives } from "./validate.ts";

/** Confusion counts and the rates derived from them; undefined rates are 0, never NaN. */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
}

/** 0 instead of NaN when a rate has an empty denominator. */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** Builds a {@linkcode Confusion} from the four counts. */
export function confusionFromCounts(tp: number, fp: number, tn: number, fn: number): Confusion {
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    tp,
    fp,
    tn,
    fn,
    precision,
    recall,
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    accuracy: ratio(tp + tn, tp + fp + tn + fn),
  };
}

/**
 * Confusion counts when every score >= `threshold` is predicted anomalous.
 *
 * @param scores Higher means more anomalous.
 * @param labels 1 = anomaly, 0 = normal.
 */
export function confusionAt(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): Confusion {
  checkScoresLabels(scores, labels);
  if (Number.isNaN(threshold)) throw new MadError("threshold is NaN; it must be a number");
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = scores[i] >= threshold;
    if (labels[i] === 1) {
      if (flagged) tp++;
      else fn++;
    } else if (flagged) fp++;
    else tn++;
  }
  return confusionFromCounts(tp, fp, tn, fn);
}

/**
 * The threshold that flags the `k` highest scores: the k-th largest score. Ties at that score
 * are all flagged, so more than `k` may be. `k` = 0 gives `Infinity` (nothing flagged).
 */
export function thresholdAtCount(scores: ArrayLike<number>, k: number): number {
  checkScores(scores);
  if (!Number.isInteger(k) || k < 0 || k > scores.length) {
    throw new MadError(`count ${k} must be an integer between 0 and ${scores.length}`);
  }
  if (k === 0) return Infinity;
  const sorted = Float64Array.from(scores).sort();
  return sorted[sorted.length - k];
}

/**
 * F1 when as many samples are flagged as there are true anomalies (the protocol of GOAD,
 * Bergman & Hoshen 2020), so no threshold has to be chosen.
 */
export function f1AtTrueCount(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkScoresLabels(scores, labels);
  return confusionAt(scores, labels, thresholdAtCount(scores, countPositives(labels))).f1;
}

/**
 * The `quantile` of scores of normal (e.g. validation) samples, linearly interpolated like
 * NumPy's default, so about 1 - quantile of normals are flagged.
 */
export function thresholdFromNormals(normalScores: ArrayLike<number>, quantile = 0.99): number {
  checkScores(normalScores, "normal scores");
  if (normalScores.length === 0) {
    throw new MadError("normal scores are empty; cannot choose a threshold from them");
  }
  if (!(quantile >= 0 && quantile <= 1)) {
    throw new MadError(`quantile ${quantile} must be between 0 and 1`);
  }
  const sorted = Float64Array.from(normalScores).sort();
  const pos = quantile * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The threshold (one of the scores) with the highest F1 on a labelled set; on equal F1 the
 * highest threshold wins, which flags fewest samples.
 */
export function bestF1Threshold(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): { threshold: number; f1: number } {
  checkScoresLabels(scores, labels);
  const p = countPositives(labels);
  if (p === 0) {
    throw new MadError("validation set has no anomalies; cannot choose a best-F1 threshold");
  }
  const c = cumulative(scores, labels);
  let best = { threshold: Infinity, f1: 0 };
  for (let i = 0; i < c.thresholds.length; i++) {
    const f1 = (2 * c.tps[i]) / (c.tps[i] + c.fps[i] + p);
    if (f1 > best.f1) best = { threshold: c.thresholds[i], f1 };
  }
  return best;
}

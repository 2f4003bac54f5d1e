/**
 * Input checks shared by the metric functions, so bad data fails with a one-line MadError
 * instead of a silent NaN.
 *
 * @module
 */

import { MadError } from "../errors.ts";

/** Throws unless `scores` and `labels` have equal length, scores are finite and labels are 0/1. */
export function checkScoresLabels(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  what = "scores",
): void {
  if (scores.length !== labels.length) {
    throw new MadError(
      `${what}: ${scores.length} scores but ${labels.length} labels; they must match`,
    );
  }
  checkScores(scores, what);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l !== 0 && l !== 1) {
      throw new MadError(`${what}: label ${i} is ${l}; labels must be 0 (normal) or 1 (anomaly)`);
    }
  }
}

/** Throws unless every score is a finite number. */
export function checkScores(scores: ArrayLike<number>, what = "scores"): void {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new MadError(`${what}: score ${i} is ${scores[i]}; scores must be finite numbers`);
    }
  }
}

/** Counts the anomalies (label 1) in `labels`. */
export function countPositives(labels: ArrayLike<number>): number {
  let p = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) p++;
  return p;
}

/**
 * Why a set of labels cannot be ranked (AUROC, AUPR and F1 need both classes): `"is empty"`,
 * `"has only normal samples"` or `"has only anomalous samples"`; null when both classes occur.
 */
export function oneClassReason(labels: ArrayLike<number>): string | null {
  if (labels.length === 0) return "is empty";
  const p = countPositives(labels);
  if (p === 0) return "has only normal samples";
  if (p === labels.length) return "has only anomalous samples";
  return null;
}

/** Throws unless both classes occur; AUROC and AUPR are undefined otherwise. */
export function checkBothClasses(labels: ArrayLike<number>, name?: string): void {
  const why = oneClassReason(labels);
  if (why) {
    throw new MadError(
      `${name ? `evaluation set ${name}` : "evaluation set"} ${why}; AUROC needs both classes`,
    );
  }
}

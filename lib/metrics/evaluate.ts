/**
 * The per-dataset summary that evaluation scripts write and report.
 *
 * @module
 */

import { auroc, averagePrecision } from "./ranking.ts";
import { confusionAt, f1AtTrueCount } from "./threshold.ts";
import { checkBothClasses, checkScoresLabels, countPositives } from "./validate.ts";

/** Metrics of one evaluation set at one threshold. */
export interface DatasetMetrics {
  /** Samples. */
  n: number;
  /** Samples labelled anomalous. */
  anomalies: number;
  auroc: number;
  /** Average precision (area under the precision-recall curve, step-wise). */
  aupr: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  /**
   * Share of the normals flagged (scores >= threshold): the model's threshold is set to flag a
   * share of its calibration normals (1 in 100 by default), so this says how well that carries to
   * the evaluation set.
   */
  false_alarm_rate: number;
  /** Scores >= threshold were predicted anomalous. */
  threshold: number;
  /** F1 when flagging as many samples as there are anomalies (GOAD protocol). */
  f1_at_true_count: number;
}

/**
 * All metrics of one evaluation set. Throws MadError when the set is empty or has one class.
 *
 * @param scores Higher means more anomalous.
 * @param labels 1 = anomaly, 0 = normal.
 * @param threshold Scores >= threshold are predicted anomalous.
 * @param name Dataset name for error messages.
 */
export function evaluateScores(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
  name?: string,
): DatasetMetrics {
  checkScoresLabels(scores, labels, name ? `evaluation set ${name}` : "evaluation set");
  checkBothClasses(labels, name);
  const c = confusionAt(scores, labels, threshold);
  return {
    n: scores.length,
    anomalies: countPositives(labels),
    auroc: auroc(scores, labels),
    aupr: averagePrecision(scores, labels),
    precision: c.precision,
    recall: c.recall,
    f1: c.f1,
    accuracy: c.accuracy,
    false_alarm_rate: c.fp / (c.fp + c.tn),
    threshold,
    f1_at_true_count: f1AtTrueCount(scores, labels),
  };
}

/**
 * The per-dataset summary that evaluation scripts write and report.
 *
 * @module
 */

import { auroc, averagePrecision } from "./ranking.ts";
import { confusionAt, f1AtTrueCount } from "./threshold.ts";
import { checkScoresLabels, countPositives, oneClassReason } from "./validate.ts";

/** How a metric that cannot be measured (null) is shown. */
export const NOT_MEASURABLE = "n/a";

/** A metric to `digits` decimals, or {@linkcode NOT_MEASURABLE} when it is null. */
export function metricText(value: number | null, digits = 3): string {
  return value === null ? NOT_MEASURABLE : value.toFixed(digits);
}

/**
 * Metrics of one evaluation set at one threshold. A metric the set cannot measure is null (JSON
 * `null`, "n/a" in tables): a test part of one class has no AUROC, AUPR, precision or F1, one
 * without anomalies no recall, one without normals no false-alarm rate.
 */
export interface DatasetMetrics {
  /** Samples. */
  n: number;
  /** Samples labelled anomalous. */
  anomalies: number;
  /** Null unless both classes occur. */
  auroc: number | null;
  /** Average precision (area under the precision-recall curve, step-wise); null as `auroc`. */
  aupr: number | null;
  /** Null unless both classes occur (with one, it says nothing of the model). */
  precision: number | null;
  /** Share of the anomalies flagged; null without anomalies. */
  recall: number | null;
  /** Null unless both classes occur. */
  f1: number | null;
  /** Share of samples decided right; null for an empty set. */
  accuracy: number | null;
  /**
   * Share of the normals flagged (scores >= threshold): the model's threshold is set to flag a
   * share of its calibration normals (1 in 100 by default), so this says how well that carries to
   * the evaluation set. Null without normals.
   */
  false_alarm_rate: number | null;
  /** Scores >= threshold were predicted anomalous. */
  threshold: number;
  /** F1 when flagging as many samples as there are anomalies (GOAD protocol); null as `auroc`. */
  f1_at_true_count: number | null;
}

/**
 * All metrics of one evaluation set; those it cannot measure are null (see
 * {@linkcode DatasetMetrics}), so one test part of a single class costs its rankings, not the
 * other datasets' evaluation. Throws MadError on mismatched lengths, non-finite scores or labels
 * other than 0/1.
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
  const c = confusionAt(scores, labels, threshold);
  const anomalies = countPositives(labels);
  const both = oneClassReason(labels) === null;
  const normals = c.fp + c.tn;
  return {
    n: scores.length,
    anomalies,
    auroc: both ? auroc(scores, labels) : null,
    aupr: both ? averagePrecision(scores, labels) : null,
    precision: both ? c.precision : null,
    recall: anomalies > 0 ? c.recall : null,
    f1: both ? c.f1 : null,
    accuracy: scores.length > 0 ? c.accuracy : null,
    false_alarm_rate: normals > 0 ? c.fp / normals : null,
    threshold,
    f1_at_true_count: both ? f1AtTrueCount(scores, labels) : null,
  };
}

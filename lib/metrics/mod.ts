/**
 * Anomaly-detection metrics: ranking (AUROC, AUPR), thresholded (precision, recall, F1),
 * threshold selection, rank correlation, AUROC by defect type, and pixel-level localisation
 * (pixel AUROC, PRO).
 *
 * @module
 */

export { auroc, averagePrecision, prCurve, rocCurve } from "./ranking.ts";
export type { PrCurve, RocCurve } from "./ranking.ts";
export {
  bestF1Threshold,
  confusionAt,
  confusionFromCounts,
  f1AtTrueCount,
  thresholdAtCount,
  thresholdFromNormals,
} from "./threshold.ts";
export type { Confusion } from "./threshold.ts";
export { pearson, ranks, spearman } from "./correlation.ts";
export { defectAurocs, GOOD } from "./defects.ts";
export type { DefectResult } from "./defects.ts";
export { evaluateScores } from "./evaluate.ts";
export type { DatasetMetrics } from "./evaluate.ts";
export { connectedComponents, maskClassReason, pixelAuroc, pro } from "./pixel.ts";
export type { ProOptions } from "./pixel.ts";

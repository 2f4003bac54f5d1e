/**
 * Reference numbers to compare a run with: the original design's results and published
 * baselines. They come from different splits and protocols (noted per row), so they frame a
 * result rather than rank it.
 *
 * @module
 */
import type { DatasetEvaluation } from "../experiment/evaluate_checkpoint.ts";
import type { TableRow } from "./table.ts";

/** One reference result. */
export interface ReferenceResult {
  method: string;
  dataset: string;
  auroc: number;
  aupr?: number;
  precision?: number;
  recall?: number;
  f1?: number;
  accuracy?: number;
  /** F1 over the top-ranked samples as many as the true anomalies (no threshold). */
  f1_at_true_count?: number;
  note: string;
}

/** The original design's numbers and the baselines from the literature. */
export const REFERENCE_RESULTS: readonly ReferenceResult[] = [
  {
    method: "original design",
    dataset: "images (course)",
    auroc: 0.7188,
    precision: 1.0,
    recall: 0.25,
    f1: 0.40,
    accuracy: 0.7955,
    note: "course image split",
  },
  {
    method: "original design",
    dataset: "thyroid",
    auroc: 0.9577,
    precision: 0.6538,
    recall: 0.6711,
    f1: 0.6623,
    accuracy: 0.9664,
    note: "course thyroid split",
  },
  {
    method: "Isolation Forest",
    dataset: "thyroid",
    auroc: 0.988,
    aupr: 0.815,
    f1_at_true_count: 0.787,
    note: "ODDS, 50% of normals for training",
  },
  {
    method: "OCSVM",
    dataset: "thyroid",
    auroc: 0.979,
    aupr: 0.777,
    f1_at_true_count: 0.755,
    note: "ODDS, 50% of normals for training",
  },
  {
    method: "kNN",
    dataset: "thyroid",
    auroc: 0.985,
    aupr: 0.793,
    f1_at_true_count: 0.738,
    note: "ODDS, 50% of normals for training",
  },
  {
    method: "One-Class SVM",
    dataset: "images (course)",
    auroc: 0.62,
    note: "course baseline, approximate",
  },
  { method: "PatchCore", dataset: "hazelnut", auroc: 1.0, note: "MVTec AD full split" },
  { method: "PatchCore", dataset: "zipper", auroc: 0.994, note: "MVTec AD full split" },
  { method: "DRAEM", dataset: "hazelnut", auroc: 1.0, note: "MVTec AD full split" },
  { method: "DRAEM", dataset: "zipper", auroc: 1.0, note: "MVTec AD full split" },
  { method: "CutPaste", dataset: "hazelnut", auroc: 0.983, note: "MVTec AD full split" },
  { method: "CutPaste", dataset: "zipper", auroc: 0.999, note: "MVTec AD full split" },
];

const METRICS = [
  "auroc",
  "aupr",
  "precision",
  "recall",
  "f1",
  "accuracy",
  "f1_at_true_count",
] as const;

/** The course's two image categories, which the "images (course)" rows were measured on. */
const COURSE_CATEGORIES = ["hazelnut", "zipper"];

/**
 * The reference rows that speak of these datasets: those of a dataset evaluated here by name,
 * and the course images' rows when both course categories are.
 */
function referencesFor(evaluations: DatasetEvaluation[]): readonly ReferenceResult[] {
  const names = new Set(evaluations.map((e) => e.name));
  const course = COURSE_CATEGORIES.every((c) => names.has(c));
  return REFERENCE_RESULTS.filter((r) =>
    names.has(r.dataset) || (r.dataset === "images (course)" && course)
  );
}

/**
 * This run's metrics per dataset followed by the reference rows of the same datasets, in one
 * table (name = method, then dataset, metrics and a note). Metrics a source does not report stay
 * empty: precision, recall, F1 and accuracy are at a threshold, `f1_at_true_count` without one
 * (what the ODDS baselines report), so the two F1s are never compared with each other.
 */
export function comparisonRows(
  evaluations: DatasetEvaluation[],
  label = "MADformer (this run)",
): TableRow[] {
  const ours = evaluations.map((e) => {
    const row: TableRow = { name: label, dataset: e.name };
    for (const m of METRICS) row[m] = e.metrics[m];
    row.note = `test part, ${e.labels.length} samples`;
    return row;
  });
  const refs = referencesFor(evaluations).map((r) => {
    const row: TableRow = { name: r.method, dataset: r.dataset };
    for (const m of METRICS) if (r[m] !== undefined) row[m] = r[m]!;
    row.note = r.note;
    return row;
  });
  return [...ours, ...refs];
}

/** The columns of {@linkcode comparisonRows}, in display order. */
export const COMPARISON_COLUMNS: readonly string[] = ["name", "dataset", ...METRICS, "note"];

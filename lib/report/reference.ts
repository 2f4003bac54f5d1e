/**
 * Reference numbers to compare a run with: the original design's results and published
 * baselines. They come from different splits and protocols (noted per row), so they frame a
 * result rather than rank it.
 *
 * @module
 */
import type { DatasetEvaluation } from "../experiment/evaluate_checkpoint.ts";
import { escapeHtml } from "./html.ts";
import { htmlTable, type TableRow } from "./table.ts";

/**
 * The test part a published result was measured on, as a run can recognise it: the modality and
 * the counts of normal and anomalous test samples. A dataset merely named like it (a folder of
 * one's own called `screw`, a subset of the category, the course's 55 hazelnut test images) has
 * other counts, and a published figure beside it would not measure the same thing.
 */
export interface ReferenceSplit {
  /** What the split is, for the line that says why a figure is not shown. */
  what: string;
  modality: "image" | "table";
  normal: number;
  anomalous: number;
}

/**
 * The official MVTec AD test split of each category: good and defective test images (Bergmann
 * et al., CVPR 2019, table 1; 1,725 test images in all). Every test image of a category in the
 * MVTec layout is in its test part, so the counts of the official download match these.
 */
export const MVTEC_AD_TEST: Readonly<Record<string, { good: number; defective: number }>> = {
  bottle: { good: 20, defective: 63 },
  cable: { good: 58, defective: 92 },
  capsule: { good: 23, defective: 109 },
  carpet: { good: 28, defective: 89 },
  grid: { good: 21, defective: 57 },
  hazelnut: { good: 40, defective: 70 },
  leather: { good: 32, defective: 92 },
  metal_nut: { good: 22, defective: 93 },
  pill: { good: 26, defective: 141 },
  screw: { good: 41, defective: 119 },
  tile: { good: 33, defective: 84 },
  toothbrush: { good: 12, defective: 30 },
  transistor: { good: 60, defective: 40 },
  wood: { good: 19, defective: 60 },
  zipper: { good: 32, defective: 119 },
};

function mvtecSplit(category: string): ReferenceSplit {
  const { good, defective } = MVTEC_AD_TEST[category];
  return {
    what: `the official MVTec AD ${category} test split`,
    modality: "image",
    normal: good,
    anomalous: defective,
  };
}

/**
 * ODDS thyroid (3,772 rows, 93 anomalies) split by half its normals: 1,840 normals and the 93
 * anomalies in the test part, whatever the seed.
 */
const ODDS_THYROID: ReferenceSplit = {
  what: "the test part of ODDS thyroid (half its normals for training)",
  modality: "table",
  normal: 1840,
  anomalous: 93,
};

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
  /**
   * The test part a published result was measured on: shown only beside a dataset whose test part
   * matches it ({@linkcode comparable}). The original design's rows have none: they frame a run on
   * another split, which their note names.
   */
  split?: ReferenceSplit;
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
    split: ODDS_THYROID,
  },
  {
    method: "OCSVM",
    dataset: "thyroid",
    auroc: 0.979,
    aupr: 0.777,
    f1_at_true_count: 0.755,
    note: "ODDS, 50% of normals for training",
    split: ODDS_THYROID,
  },
  {
    method: "kNN",
    dataset: "thyroid",
    auroc: 0.985,
    aupr: 0.793,
    f1_at_true_count: 0.738,
    note: "ODDS, 50% of normals for training",
    split: ODDS_THYROID,
  },
  {
    method: "One-Class SVM",
    dataset: "images (course)",
    auroc: 0.62,
    note: "course baseline, approximate",
  },
  ...([
    ["PatchCore", "hazelnut", 1.0],
    ["PatchCore", "zipper", 0.994],
    ["PatchCore", "screw", 0.981],
    ["DRAEM", "hazelnut", 1.0],
    ["DRAEM", "zipper", 1.0],
    ["DRAEM", "screw", 0.939],
    ["CutPaste", "hazelnut", 0.983],
    ["CutPaste", "zipper", 0.999],
    ["CutPaste", "screw", 0.863],
  ] as const).map(([method, dataset, auroc]) => ({
    method,
    dataset,
    auroc,
    note: "MVTec AD full split",
    split: mvtecSplit(dataset),
  })),
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
 * Whether a published result measures the same thing as this run's dataset: no split recorded
 * (the original design's framing rows), or a test part of the split's modality and counts. Why
 * not otherwise, in a few words.
 */
export function comparable(
  reference: ReferenceResult,
  evaluation: DatasetEvaluation,
): { ok: true } | { ok: false; why: string } {
  const split = reference.split;
  if (!split) return { ok: true };
  const anomalous = evaluation.labels.reduce((n, l) => n + (l === 1 ? 1 : 0), 0);
  const normal = evaluation.labels.length - anomalous;
  const samples = split.modality === "image" ? "images" : "rows";
  if (evaluation.modality !== split.modality) {
    return {
      ok: false,
      why: `it is ${evaluation.modality} data and ${split.what} holds ${samples}`,
    };
  }
  if (normal === split.normal && anomalous === split.anomalous) return { ok: true };
  return {
    ok: false,
    why: `its test part holds ${normal} normal and ${anomalous} anomalous ${samples}, where ` +
      `${split.what} holds ${split.normal} and ${split.anomalous}`,
  };
}

/**
 * The reference rows that speak of these datasets and measure the same thing: those of a dataset
 * evaluated here by name whose split it matches ({@linkcode comparable}), and the course images'
 * rows when both course categories are evaluated.
 */
function referencesFor(evaluations: DatasetEvaluation[]): readonly ReferenceResult[] {
  const byName = new Map(evaluations.map((e) => [e.name, e]));
  const course = COURSE_CATEGORIES.every((c) => byName.has(c));
  return REFERENCE_RESULTS.filter((r) => {
    if (r.dataset === "images (course)") return course;
    const e = byName.get(r.dataset);
    return e !== undefined && comparable(r, e).ok;
  });
}

/**
 * One line per evaluated dataset whose published figures are left out, saying why: e.g.
 * "screw: no published figure shown (PatchCore, DRAEM, CutPaste): its test part holds 50 normal
 * and 50 anomalous images, where the official MVTec AD screw test split holds 41 and 119".
 */
export function withheldReferences(evaluations: DatasetEvaluation[]): string[] {
  return evaluations.flatMap((e) => {
    const left = REFERENCE_RESULTS.flatMap((r) => {
      if (r.dataset !== e.name) return [];
      const verdict = comparable(r, e);
      return verdict.ok ? [] : [{ method: r.method, why: verdict.why }];
    });
    if (left.length === 0) return [];
    const methods = [...new Set(left.map((l) => l.method))].join(", ");
    const whys = [...new Set(left.map((l) => l.why))].join("; ");
    return [`${e.name}: no published figure shown (${methods}): ${whys}.`];
  });
}

/**
 * This run's metrics per dataset followed by the reference rows of the same datasets, in one
 * table (name = method, then dataset, metrics and a note). Metrics a source does not report stay
 * empty: precision, recall, F1 and accuracy are at a threshold, `f1_at_true_count` without one
 * (what the ODDS baselines report), so the two F1s are never compared with each other. A
 * published figure of a dataset measured on another split is left out ({@linkcode
 * withheldReferences} says why).
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

/**
 * The comparison as HTML: {@linkcode comparisonRows}'s table, then a line per dataset whose
 * published figures are left out, saying why ({@linkcode withheldReferences}).
 */
export function comparisonHtml(evaluations: DatasetEvaluation[]): string {
  return htmlTable(comparisonRows(evaluations), [...COMPARISON_COLUMNS]) +
    withheldReferences(evaluations).map((line) => `<p>${escapeHtml(line)}</p>`).join("");
}

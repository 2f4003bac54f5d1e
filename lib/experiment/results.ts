/**
 * The evaluation result as users see it: rows for the terminal table and the JSON file
 * `{"datasets":[{name, modality, n, anomalies, auroc, aupr, precision, recall, f1, accuracy,
 * threshold, f1_at_true_count, components}]}` (plus pixel metrics where masks exist, and `defects`
 * where an image category has several defect types), where `components` gives each evidence
 * component's share of the score and its test AUROC alone.
 *
 * @module
 */
import type { DatasetEvaluation } from "./evaluate_checkpoint.ts";

/** One dataset's entry in the evaluation JSON. */
export type EvaluationEntry = {
  name: string;
  modality: "image" | "table";
  pixel_auroc?: number;
  pro?: number;
  /**
   * Evidence components by name: share of the score and test AUROC alone (with `sample_rows`
   * when measured on a sample of the test rows).
   */
  components: Record<string, { weight: number; auroc: number; sample_rows?: number }>;
  /** Images: the score is the maximum of the map or of the smoothed map (chosen on validation). */
  image_score?: "max" | "smoothed_max";
  /** Images with two or more defect types: each type's image count and AUROC against the good. */
  defects?: Record<string, { count: number; auroc: number }>;
} & DatasetEvaluation["metrics"];

/** The JSON document `deno task eval --json` writes. */
export function evaluationJson(evaluations: DatasetEvaluation[]): { datasets: EvaluationEntry[] } {
  return {
    datasets: evaluations.map((e) => ({
      name: e.name,
      modality: e.modality,
      ...e.metrics,
      ...(e.pixel ? { pixel_auroc: e.pixel.auroc, pro: e.pixel.pro } : {}),
      components: Object.fromEntries(
        e.components.map((c) => [
          c.name,
          {
            weight: c.weight,
            auroc: c.auroc,
            ...(c.sampleRows === undefined ? {} : { sample_rows: c.sampleRows }),
          },
        ]),
      ),
      ...(e.imageScore ? { image_score: e.imageScore } : {}),
      ...(e.pose?.aligned ? { aligned_to_pose: true } : {}),
      ...(e.cellsInPlace ? { cells_compared_in_place: true } : {}),
      ...(e.defects
        ? {
          defects: Object.fromEntries(
            e.defects.map((d) => [d.defect, { count: d.count, auroc: d.auroc }]),
          ),
        }
        : {}),
    })),
  };
}

/**
 * One line per dataset naming its evidence components, each with its share of the score and its
 * test AUROC alone, strongest share first, and for images how maps become the score (and whether
 * they were aligned to their object's pose, their cells compared with normal cells at their place):
 * `zipper: knn0 0.31 (0.717), pix 0.26 (0.890); score: max of the smoothed map`.
 */
export function componentLines(evaluations: DatasetEvaluation[]): string[] {
  return evaluations.map((e) =>
    `${e.name}: ` + [...e.components].sort((a, b) => b.weight - a.weight)
      .map((c) =>
        `${c.name} ${c.weight.toFixed(2)} (${c.auroc.toFixed(3)}` +
        `${c.sampleRows === undefined ? "" : ` on ${c.sampleRows} sampled rows`})`
      ).join(", ") +
    (e.imageScore
      ? `; score: max of the ${e.imageScore === "smoothed_max" ? "smoothed " : ""}map`
      : "") +
    (e.pose?.aligned ? "; images aligned to their object's pose" : "") +
    (e.cellsInPlace ? ", cells compared where they lie" : "")
  );
}

/**
 * One line per image category with two or more defect types: each type's test AUROC against the
 * good images alone, weakest first, e.g.
 * `screw (50 good): thread_side 0.774 (10), manipulated_front 0.846 (10), ...`.
 */
export function defectLines(evaluations: DatasetEvaluation[]): string[] {
  return evaluations.flatMap((e) => {
    if (!e.defects) return [];
    const good = e.labels.length - e.defects.reduce((n, d) => n + d.count, 0);
    return [
      `${e.name} (${good} good): ` + [...e.defects].sort((a, b) => a.auroc - b.auroc)
        .map((d) => `${d.defect} ${d.auroc.toFixed(3)} (${d.count})`).join(", "),
    ];
  });
}

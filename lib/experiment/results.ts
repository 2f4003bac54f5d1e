/**
 * The evaluation result as users see it: rows for the terminal table and the JSON file
 * `{"datasets":[{name, modality, source, n, anomalies, auroc, aupr, precision, recall, f1,
 * accuracy, false_alarm_rate, threshold, f1_at_true_count, components}]}` (plus pixel metrics where
 * masks exist, `defects` where an image category has several defect types, `features` for
 * explained tables, and `unmeasured` where a test part of one class leaves metrics `null`), where
 * `components` gives each evidence component's share of the score and its test AUROC alone.
 *
 * @module
 */
import type { ComponentResult, DatasetEvaluation } from "./evaluate_checkpoint.ts";
import { mapReductionText } from "../model/detector.ts";
import type { TableExplanation } from "./explain_table.ts";
import { largestContributions, LISTED_FEATURES } from "../model/explain.ts";
import { describeAlignment } from "../data/pose.ts";
import { tableNameOf } from "../data/table_name.ts";
import { isDirectory } from "../util/files.ts";
import { metricText } from "../metrics/evaluate.ts";

/**
 * One dataset's entry in the evaluation JSON. Metrics the test part cannot measure are `null`
 * (AUROC, AUPR, precision and F1 of a test part with a single class), and `unmeasured` says why.
 */
export type EvaluationEntry = {
  /** The dataset's name in the checkpoint: a given table is scored as the trained one it matches. */
  name: string;
  modality: "image" | "table";
  /** The file or folder scored (absent from files written before it was kept). */
  source?: string;
  /** Why some metrics are null, e.g. `the test part has only normal samples`. */
  unmeasured?: string;
  pixel_auroc?: number;
  pro?: number;
  /** Defect test images without a ground-truth mask, left out of `pixel_auroc` and `pro`. */
  pixel_unmasked?: number;
  /**
   * Evidence components by name: share of the score and test AUROC alone (with `sample_rows`
   * when measured on a sample of the test rows, `dropped_by_validation` when the fitted weights
   * leave it out of the score (weight 0) and it was computed for the report alone, `one_sided`
   * when it counts only above its normals' median, `tail_scale` when it counts on its tail scale).
   */
  components: Record<
    string,
    {
      weight: number;
      /** Null when the test part has a single class. */
      auroc: number | null;
      sample_rows?: number;
      dropped_by_validation?: boolean;
      one_sided?: boolean;
      tail_scale?: boolean;
    }
  >;
  /**
   * Tables scored with two readings of the encoder's tokens: the Transformer's evidence alone,
   * its readings together, and that sum's test AUROC.
   */
  transformer?: { components: string[]; auroc: number | null };
  /** Images: the score is the maximum of the map or of the smoothed map (chosen on validation). */
  image_score?: "max" | "smoothed_max";
  /** Images: the validation AUROC of each map maximum, when validation chose between them. */
  image_score_validation?: { max: number; smoothed_max: number };
  /** Images with two or more defect types: each type's image count and AUROC against the good. */
  defects?: Record<string, { count: number; auroc: number }>;
  /**
   * Explained tables: the check on synthetic anomalies and, for each of the highest-scored test
   * rows, its features with the largest contributions (see `explain_table.ts`).
   */
  features?: {
    check: { rows: number; auroc: number; top1: number } | null;
    rows: { row: number; score: number; label: number; top: [string, number][] }[];
  };
} & DatasetEvaluation["metrics"];

/** Features of explained row `i` with the largest contributions, largest first, at most `k`. */
export function topFeatures(e: TableExplanation, i: number, k: number): [string, number][] {
  return largestContributions(e.columns, e.contributions, i, k);
}

/** The JSON document `deno task eval --json` writes. */
export function evaluationJson(evaluations: DatasetEvaluation[]): { datasets: EvaluationEntry[] } {
  return {
    datasets: evaluations.map((e) => ({
      name: e.name,
      modality: e.modality,
      ...(e.source === undefined ? {} : { source: e.source }),
      ...(e.unmeasured ? { unmeasured: e.unmeasured } : {}),
      ...e.metrics,
      ...(e.pixel ? { pixel_auroc: e.pixel.auroc, pro: e.pixel.pro } : {}),
      ...(e.pixel?.unmasked ? { pixel_unmasked: e.pixel.unmasked } : {}),
      components: Object.fromEntries(
        e.components.map((c) => [
          c.name,
          {
            weight: c.weight,
            auroc: c.auroc,
            ...(c.sampleRows === undefined ? {} : { sample_rows: c.sampleRows }),
            ...(c.droppedByValidation ? { dropped_by_validation: true } : {}),
            ...(c.oneSided ? { one_sided: true } : {}),
            ...(c.tailScale ? { tail_scale: true } : {}),
          },
        ]),
      ),
      ...(e.transformer ? { transformer: e.transformer } : {}),
      ...(e.imageScore ? { image_score: e.imageScore } : {}),
      ...(e.reductions
        ? {
          image_score_validation: { max: e.reductions.plain, smoothed_max: e.reductions.smoothed },
        }
        : {}),
      ...(e.pose?.aligned ? { aligned_to_pose: true, pose_scale: e.pose.scale ?? 1 } : {}),
      ...(e.cellsInPlace ? { cells_compared_in_place: true } : {}),
      ...(e.defects
        ? {
          defects: Object.fromEntries(
            e.defects.map((d) => [d.defect, { count: d.count, auroc: d.auroc }]),
          ),
        }
        : {}),
      ...(e.features
        ? {
          features: {
            check: e.features.check,
            rows: e.features.rows.map((row, i) => ({
              row,
              score: e.features!.scores[i],
              label: e.features!.labels[i],
              top: topFeatures(e.features!, i, LISTED_FEATURES),
            })),
          },
        }
        : {}),
    })),
  };
}

/**
 * One line per table scored under another name than its file's (`eval --table other.csv` with a
 * checkpoint trained on `base.csv`), e.g. `/data/other.csv: scored as table base`, so that the
 * rows named `base` are not read as the trained file's.
 */
export function sourceLines(evaluations: DatasetEvaluation[]): string[] {
  return evaluations.flatMap((e) =>
    e.modality === "table" && e.source !== undefined &&
      tableNameOf(e.source, isDirectory(e.source)) !== e.name
      ? [`${e.source}: scored as table ${e.name}`]
      : []
  );
}

/**
 * One line per dataset naming its evidence components, each with its share of the score and its
 * test AUROC alone, strongest share first, and for images how maps become the score (and whether
 * they were aligned to their object's pose, their cells compared with normal cells at their place):
 * `zipper: knn0 0.31 (0.717), pix 0.26 (0.890); score: max of the smoothed map (validation AUROC
 * 0.9339; the plain map's 0.9335)`: the validation figures show how close the choice was. A
 * component the fitted weights leave out reads `enc 0.00 (0.812, weight 0 by validation)`.
 */
export function componentLines(evaluations: DatasetEvaluation[]): string[] {
  return evaluations.map((e) =>
    `${e.name}: ` + [...e.components].sort((a, b) => b.weight - a.weight)
      .map((c) =>
        `${c.name} ${c.weight.toFixed(2)} (${metricText(c.auroc)}` +
        `${c.sampleRows === undefined ? "" : ` on ${c.sampleRows} sampled rows`}` +
        `${c.droppedByValidation ? ", weight 0 by validation" : ""})`
      ).join(", ") +
    (e.imageScore
      ? `; score: ${mapReductionText(e.imageScore === "smoothed_max", e.reductions)}`
      : "") +
    oneSidedText(e.components) +
    tailScaleText(e.components) +
    (e.transformer
      ? `; the Transformer's evidence alone (${e.transformer.components.join(" + ")}) ` +
        metricText(e.transformer.auroc)
      : "") +
    (e.pose?.aligned ? `; images ${describeAlignment(e.pose)}` : "") +
    (e.cellsInPlace ? ", cells compared where they lie" : "")
  );
}

/** `; dens, iso count above their normals' median` when a score floors components. */
function oneSidedText(components: ComponentResult[]): string {
  const names = components.filter((c) => c.oneSided).map((c) => c.name);
  if (names.length === 0) return "";
  return `; ${names.join(", ")} ${names.length === 1 ? "counts" : "count"} above ` +
    `${names.length === 1 ? "its" : "their"} normals' median`;
}

/**
 * `; every component on its tail scale` when each component with a share of the score counts on
 * its tail scale (`tableScale: "tail"`), so a user can see the setting took effect. When the fitted
 * weights leave some out it names what counts: `; dens on its tail scale`, or `; every counted
 * component on its tail scale`.
 */
function tailScaleText(components: ComponentResult[]): string {
  const counted = components.filter((c) => c.weight > 0);
  if (counted.length === 0 || !counted.every((c) => c.tailScale)) return "";
  if (counted.length === components.length) return "; every component on its tail scale";
  return counted.length === 1
    ? `; ${counted[0].name} on its tail scale`
    : "; every counted component on its tail scale";
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

/**
 * Two lines per explained table: how well contributions found the altered features of synthetic
 * anomalies, and which features most often contribute most to the highest-scored test rows, e.g.
 * `thyroid: 20 highest-scored test rows (20 anomalies), top feature: f2 10, f6 8, f4 2`.
 */
export function featureLines(evaluations: DatasetEvaluation[]): string[] {
  return evaluations.flatMap((e) => {
    const f = e.features;
    if (!f) return [];
    const counts = new Map<string, number>();
    f.rows.forEach((_, i) => {
      const [name] = topFeatures(f, i, 1)[0];
      counts.set(name, (counts.get(name) ?? 0) + 1);
    });
    const anomalies = f.labels.filter((l) => l === 1).length;
    return [
      `${e.name}: ${f.rows.length} highest-scored test rows (${anomalies} anomalies), top feature: ` +
      [...counts].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`).join(", "),
      `${e.name}: ${checkSummary(f)}`,
    ];
  });
}

/**
 * An explained table's check on synthetic anomalies in words, or why it has none (`eval`'s line
 * and the report's caption).
 */
export function checkSummary(f: TableExplanation): string {
  if (!f.check) {
    return f.columns.length < 2
      ? "one feature, so no check of which feature was altered"
      : "too wide for the check on synthetic anomalies";
  }
  return `on ${f.check.rows} synthetic anomalies of validation normals, contributions find the ` +
    `altered features at AUROC ${f.check.auroc.toFixed(3)}, the top one altered in ` +
    `${(100 * f.check.top1).toFixed(0)}%`;
}

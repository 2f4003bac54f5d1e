/**
 * The evaluation result as users see it: rows for the terminal table and the JSON file
 * `{"datasets":[{name, modality, n, anomalies, auroc, aupr, precision, recall, f1, accuracy,
 * threshold, f1_at_true_count}]}` (plus pixel metrics where masks exist).
 *
 * @module
 */
import type { DatasetEvaluation } from "./evaluate.ts";
import type { TableRow } from "../report/table.ts";

/** One dataset's entry in the evaluation JSON. */
export type EvaluationEntry = {
  name: string;
  modality: "image" | "table";
  pixel_auroc?: number;
  pro?: number;
} & DatasetEvaluation["metrics"];

/** The JSON document `deno task eval --json` writes. */
export function evaluationJson(evaluations: DatasetEvaluation[]): { datasets: EvaluationEntry[] } {
  return {
    datasets: evaluations.map((e) => ({
      name: e.name,
      modality: e.modality,
      ...e.metrics,
      ...(e.pixel ? { pixel_auroc: e.pixel.auroc, pro: e.pixel.pro } : {}),
    })),
  };
}

/** Rows for {@linkcode metricsTable}. */
export function evaluationRows(evaluations: DatasetEvaluation[]): TableRow[] {
  return evaluationJson(evaluations).datasets.map(({ name, ...rest }) =>
    ({
      name,
      ...rest,
    }) as TableRow
  );
}

/**
 * Report sections for an evaluated checkpoint: metrics table, ROC and PR curves, score
 * distributions with the threshold, confusion matrices, training curves and heatmaps of the
 * best- and worst-scored images. Used by the demo, `eval --report` and the notebooks.
 *
 * @module
 */
import type { DatasetEvaluation } from "../experiment/evaluate_checkpoint.ts";
import type { EpochRow } from "../train/log.ts";
import { checkSummary, evaluationJson } from "../experiment/results.ts";
import { prCurve, rocCurve } from "../metrics/ranking.ts";
import { confusionAt } from "../metrics/threshold.ts";
import {
  componentFigure,
  confusionFigure,
  defectFigure,
  featureContributionFigure,
  lossCurvesFigure,
  prFigure,
  rocFigure,
  scoreHistogramFigure,
} from "./figures.ts";
import { escapeHtml, type ReportSection } from "./html.ts";
import { scoreMapPng } from "./heatmap.ts";
import type { ImageCache } from "../data/image_cache.ts";
import type { TableRow } from "./table.ts";

/** Rows for `metricsTable` (one per dataset, the evaluation JSON's metrics alone). */
export function evaluationRows(evaluations: DatasetEvaluation[]): TableRow[] {
  return evaluationJson(evaluations).datasets.map((
    {
      name,
      components: _,
      image_score: __,
      image_score_validation: _v,
      defects: ___,
      features: ____,
      transformer: _t,
      ...rest
    },
  ) =>
    ({
      name,
      ...rest,
    }) as TableRow
  );
}

/** The metrics table as an HTML table. */
export function metricsHtml(evaluations: DatasetEvaluation[]): string {
  const rows = evaluationRows(evaluations);
  const cols = Object.keys(rows[0] ?? { name: "" });
  const cell = (v: unknown) =>
    typeof v === "number" && !Number.isInteger(v) ? v.toFixed(4) : escapeHtml(String(v ?? ""));
  return `<table><thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead>` +
    `<tbody>${
      rows.map((r) => `<tr>${cols.map((c) => `<td>${cell(r[c])}</td>`).join("")}</tr>`).join("")
    }</tbody></table>`;
}

/** ROC and PR figures over all datasets. */
export function curveSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  const roc = evaluations.map((e) => ({
    name: e.name,
    ...rocCurve(e.scores, e.labels),
    auroc: e.metrics.auroc,
  }));
  const pr = evaluations.map((e) => ({
    name: e.name,
    ...prCurve(e.scores, e.labels),
    aupr: e.metrics.aupr,
  }));
  return [
    { heading: "ROC curves", figure: rocFigure(roc) },
    { heading: "Precision-recall curves", figure: prFigure(pr) },
  ];
}

/**
 * Per dataset, the evidence its score combines: each component's share (weights come from
 * validation on synthetic anomalies, for tables also from how well the components agree on the
 * normals) beside its test AUROC alone, so a mismatch between what the calibration trusted and
 * what separates the real anomalies shows at a glance.
 */
export function componentSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  return evaluations.filter((e) => e.components.length > 0).map((e) => ({
    heading: `Evidence: ${e.name}`,
    figure: componentFigure(e.components, `${e.name}: share of the score and test AUROC alone`),
  }));
}

/**
 * Per image category with two or more defect types, each type's test AUROC against the good images
 * alone (the dashed line: the category's AUROC over all of them), so a defect the model misses is
 * not averaged away.
 */
export function defectSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  return evaluations.flatMap((e) =>
    e.defects
      ? [{
        heading: `By defect type: ${e.name}`,
        figure: defectFigure(
          e.defects,
          e.metrics.auroc,
          `${e.name}: test AUROC by defect type (dashed: all defects)`,
        ),
      }]
      : []
  );
}

const OCCLUSION_CAPTION = "Each cell: how much the row's score falls when that feature alone " +
  "takes the value of the normal row nearest on the others.";

/**
 * Per explained table, the features behind its highest-scored test rows as a heatmap, captioned
 * with how well the same contributions found the altered features of synthetic anomalies.
 */
export function featureSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  return evaluations.flatMap((e) => {
    const f = e.features;
    if (!f) return [];
    const labels = f.rows.map((row, i) =>
      `#${row} ${f.labels[i] ? "anomaly" : "normal"} ${f.scores[i].toFixed(2)}`
    );
    return [{
      heading: `By feature: ${e.name}`,
      figure: featureContributionFigure(
        labels,
        f.columns,
        f.contributions,
        `${e.name}: the ${f.rows.length} highest-scored test rows by feature`,
      ),
      caption: `${OCCLUSION_CAPTION} Check: ${checkSummary(f)}.`,
    }];
  });
}

/** Score histograms with the validation threshold, and confusion matrices, per dataset. */
export function distributionSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  return evaluations.flatMap((e) => {
    const normal = e.scores.filter((_, i) => e.labels[i] === 0);
    const anomaly = e.scores.filter((_, i) => e.labels[i] === 1);
    return [
      {
        heading: `${e.name}: score distribution`,
        figure: scoreHistogramFigure(normal, anomaly, e.metrics.threshold, `${e.name} scores`),
      },
      {
        heading: `${e.name}: confusion matrix`,
        figure: confusionFigure(confusionAt(e.scores, e.labels, e.metrics.threshold), e.name),
      },
    ];
  });
}

/** Loss and validation curves from metrics.jsonl rows. */
export function trainingSection(rows: EpochRow[]): ReportSection {
  const flat = rows.map((r) => ({
    epoch: r.epoch,
    loss: r.loss,
    recon_loss: r.recon_loss,
    anomaly_loss: r.anomaly_loss,
    val_auroc: r.val_auroc,
  }));
  return {
    heading: "Training curves",
    figure: lossCurvesFigure(flat, ["loss", "recon_loss", "anomaly_loss", "val_auroc"]),
  };
}

/**
 * Heatmap overlays of the `count` highest- and lowest-scored test images of each image
 * dataset, as PNG sections.
 */
export async function heatmapSections(
  evaluations: DatasetEvaluation[],
  cache: ImageCache,
  count = 3,
): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const e of evaluations) {
    if (e.modality !== "image" || !e.maps || !e.samples || !e.grid) continue;
    const order = [...e.scores.keys()].sort((a, b) => e.scores[b] - e.scores[a]);
    const picks = [
      ...order.slice(0, count).map((i) => ({ i, kind: "highest" })),
      ...order.slice(-count).map((i) => ({ i, kind: "lowest" })),
    ];
    for (const { i, kind } of picks) {
      const sample = e.samples[i];
      const png = await scoreMapPng(cache, sample.path, 256, e.maps[i], e.grid, e.pose);
      out.push({
        heading: `${e.name}: ${kind} score`,
        imagePng: png,
        caption: `${sample.path.split("/").slice(-2).join("/")}: score ${
          e.scores[i].toFixed(2)
        }, label ${e.labels[i] ? "anomaly" : "normal"}`,
      });
    }
  }
  return out;
}

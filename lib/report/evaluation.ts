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
import type { ReportSection } from "./html.ts";
import { MAP_SCALE, scoreMapPanelPng } from "./heatmap.ts";
import { describeAlignment } from "../data/pose.ts";
import { componentOf } from "../model/evidence/registry.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { htmlTable, type TableRow } from "./table.ts";

/**
 * Rows for `metricsTable` (one per dataset, the evaluation JSON's metrics alone: its source path
 * and why metrics are n/a are said in lines of their own, see `sourceLines`).
 */
export function evaluationRows(evaluations: DatasetEvaluation[]): TableRow[] {
  return evaluationJson(evaluations).datasets.map((
    {
      name,
      source: _s,
      unmeasured: _u,
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

/** Columns of the second metrics table: what the stored threshold decides. */
const THRESHOLD_COLUMNS = [
  "threshold",
  "precision",
  "recall",
  "f1",
  "accuracy",
  "false_alarm_rate",
];

/**
 * The metrics as two HTML tables: the rankings, which need no threshold (AUROC, AUPR, F1 at the
 * true count, pixel metrics), and what the checkpoint's threshold decides. One table of 15
 * columns ran off the page.
 */
export function metricsHtml(evaluations: DatasetEvaluation[]): string {
  const rows = evaluationRows(evaluations);
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const decided = cols.filter((c) => THRESHOLD_COLUMNS.includes(c));
  return `<p>Ranking the test samples (no threshold):</p>` +
    htmlTable(rows, cols.filter((c) => !THRESHOLD_COLUMNS.includes(c))) +
    (decided.length > 0
      ? `<p>At the checkpoint's threshold:</p>${htmlTable(rows, ["name", ...decided])}`
      : "");
}

/** The heading of {@linkcode curveSections} when no dataset has a curve. */
export const NO_CURVE_HEADING = "No ROC or precision-recall curve";

/**
 * ROC and PR figures over the datasets that have them; one whose test part has a single class
 * has no curve, and a caption under the last figure names it and says why. Each heading names
 * its figure, so the figures carry no title of their own ("ROC curves" over a plot titled "ROC
 * curve" read as one heading twice), and no section repeats the heading of notebook 04's part
 * ("ROC and precision-recall curves", a markdown cell just above them).
 */
export function curveSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  const ranked = evaluations.filter((e) => e.metrics.auroc !== null && e.metrics.aupr !== null);
  const left = evaluations.filter((e) => !ranked.includes(e));
  const caption = left.length > 0
    ? {
      caption: `No curve for ${
        left.map((e) => `${e.name} (${e.unmeasured ?? "a single class"})`).join(", ")
      }: a curve needs normal and anomalous test samples.`,
    }
    : {};
  if (ranked.length === 0) return [{ heading: NO_CURVE_HEADING, ...caption }];
  const roc = ranked.map((e) => ({
    name: e.name,
    ...rocCurve(e.scores, e.labels),
    auroc: e.metrics.auroc!,
  }));
  const pr = ranked.map((e) => ({
    name: e.name,
    ...prCurve(e.scores, e.labels),
    aupr: e.metrics.aupr!,
  }));
  return [
    { heading: "ROC curves", figure: rocFigure(roc, "") },
    { heading: "Precision-recall curves", figure: prFigure(pr, ""), ...caption },
  ];
}

/**
 * Per dataset, the evidence its score combines: each component's share (weights come from
 * validation on synthetic anomalies, for tables also from how well the components agree on the
 * normals) beside its test AUROC alone, so a mismatch between what the calibration trusted and
 * what separates the real anomalies shows at a glance. Components validation gave weight 0 are
 * shown with their AUROC and named in the caption as not counted.
 */
export function componentSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  return evaluations.filter((e) => e.components.length > 0).map((e) => {
    const dropped = e.components.filter((c) => c.droppedByValidation).map((c) => c.name)
      .join(", ");
    const droppedText = dropped
      ? ` Weight 0 by validation: ${dropped} (measured for this report, not counted in the score).`
      : "";
    return {
      heading: `Evidence: ${e.name}`,
      figure: componentFigure(e.components, `${e.name}: share of the score and test AUROC alone`),
      caption: `The dotted line is chance (AUROC 0.5).${droppedText} ${
        e.components.map((c) => `${c.name}: ${componentMeaning(c.name)}`).join("; ")
      }.${e.unmeasured ? ` No test AUROC: ${e.unmeasured}.` : ""}`,
    };
  });
}

/**
 * What an evidence component's name stands for, in a few words: the owning component's own
 * `meaning` (lib/model/evidence/types.ts), so a new component explains itself where it is defined.
 */
export function componentMeaning(name: string): string {
  return componentOf(name)?.meaning?.(name) ?? "a component of the score";
}

/**
 * Per image category with two or more defect types, each type's test AUROC against the good images
 * alone (the dashed line: the category's AUROC over all of them), so a defect the model misses is
 * not averaged away.
 */
export function defectSections(evaluations: DatasetEvaluation[]): ReportSection[] {
  return evaluations.flatMap((e) =>
    e.defects && e.metrics.auroc !== null
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
  // Said, rather than a heading over nothing when a run holds images only.
  if (!evaluations.some((e) => e.features)) {
    return [{
      heading: "By feature",
      html:
        "<p>No table was evaluated with its explanation here: this part explains table rows.</p>",
    }];
  }
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
 * Heat maps of the `count` highest- and lowest-scored test images of each image dataset: one
 * panel each ({@linkcode scoreMapPanelPng}), its caption saying what the colours mean and which
 * image each row is.
 */
export async function heatmapSections(
  evaluations: DatasetEvaluation[],
  cache: ImageCache,
  count = 3,
): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const e of evaluations) {
    const { maps, samples, grid } = e;
    if (e.modality !== "image" || !maps || !samples || !grid || samples.length === 0) continue;
    const order = [...e.scores.keys()].sort((a, b) => e.scores[b] - e.scores[a]);
    const seen = e.pose?.aligned ? `, ${describeAlignment(e.pose)}` : "";
    const groups = [["highest", order.slice(0, count)], ["lowest", order.slice(-count)]] as const;
    for (const [kind, picks] of groups) {
      const png = await scoreMapPanelPng(
        cache,
        picks.map((i) => ({ path: samples[i].path, map: maps[i] })),
        256,
        grid,
        e.pose,
      );
      const rows = picks.map((i) =>
        `${samples[i].path.split("/").slice(-2).join("/")} (score ${e.scores[i].toFixed(2)}, ` +
        `${e.labels[i] ? "anomaly" : "normal"})`
      );
      out.push({
        heading: `${e.name}: the ${picks.length} ${kind}-scored test images`,
        imagePng: png,
        caption: `Left, each image as the model sees it${seen}; right, its anomaly map over it: ` +
          `blue at or below the normal cells' mean, red ${MAP_SCALE.max} standard deviations ` +
          `above it or more (the bar's ticks mark each standard deviation). Top to bottom: ` +
          `${rows.join("; ")}.`,
      });
    }
  }
  return out;
}

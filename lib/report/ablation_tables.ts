/**
 * Tables and plots of an ablation summary (see lib/experiment/ablation.ts): one row per variant,
 * `mean ± std` AUROC per dataset, and grouped bars with error bars.
 *
 * @module
 */
import type { AblationSummary } from "../experiment/ablation.ts";
import type { PlotlyFigure } from "./figures.ts";
import type { TableRow } from "./table.ts";

/** `0.9123 ± 0.0100`, or `-` when the variant has no such dataset. */
export function formatMeanStd(value: { mean: number; std: number } | undefined): string {
  if (!value || !Number.isFinite(value.mean)) return "-";
  return `${value.mean.toFixed(4)} ± ${value.std.toFixed(4)}`;
}

/** Rows for `metricsTable` / `markdownTable`: variant, data, then one column per dataset. */
export function ablationRows(summary: AblationSummary): TableRow[] {
  return summary.variants.map((v) => {
    const row: TableRow = { name: v.variant, data: v.data };
    for (const d of summary.datasets) row[`${d} AUROC`] = formatMeanStd(v.auroc[d]);
    row.seeds = Math.max(0, ...Object.values(v.auroc).map((m) => m.n));
    return row;
  });
}

/** Grouped bars: one group per variant, one bar per dataset, ± one std as error bars. */
export function ablationFigure(
  summary: AblationSummary,
  title = "Test AUROC per variant (mean ± std over seeds)",
): PlotlyFigure {
  const names = summary.variants.map((v) => v.variant);
  const cell = (value: number | undefined) =>
    value !== undefined && Number.isFinite(value) ? value : null;
  return {
    data: summary.datasets.map((d) => ({
      type: "bar",
      name: d,
      x: names,
      y: summary.variants.map((v) => cell(v.auroc[d]?.mean)),
      error_y: {
        type: "data",
        array: summary.variants.map((v) => cell(v.auroc[d]?.std)),
        visible: true,
      },
    })),
    layout: {
      template: "plotly_white",
      margin: { l: 60, r: 20, t: 50, b: 120 },
      title: { text: title },
      barmode: "group",
      xaxis: { tickangle: -30 },
      yaxis: { title: { text: "AUROC" }, range: [0, 1.05] },
    },
  };
}

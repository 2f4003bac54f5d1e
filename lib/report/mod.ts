/**
 * Reporting: metric tables, plotly figure specs, self-contained HTML reports, anomaly-map
 * overlays and interactive notebook plots.
 *
 * @module
 */

export { markdownTable, metricsTable } from "./table.ts";
export type { TableRow } from "./table.ts";
export {
  barFigure,
  componentFigure,
  confusionFigure,
  lossCurvesFigure,
  prFigure,
  rocFigure,
  scoreHistogramFigure,
} from "./figures.ts";
export type { PlotlyFigure } from "./figures.ts";
export { escapeHtml, figureHtml, htmlReport, pngDataUri } from "./html.ts";
export type { ReportSection } from "./html.ts";
export { heatmapOverlayPng, imageGridPng, jet, resizeBilinear } from "./heatmap.ts";
export type { OverlayOptions } from "./heatmap.ts";
export { plotlyNotebook } from "./notebook.ts";
export type { JupyterDisplayable } from "./notebook.ts";
export { plotlyBundle } from "./plotly_bundle.ts";

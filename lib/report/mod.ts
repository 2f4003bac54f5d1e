/**
 * Reporting: metric tables, plotly figure specs, self-contained HTML reports, anomaly-map
 * overlays and interactive notebook plots, and the sections built from what `experiment/`
 * returns (an evaluated checkpoint, an ablation summary, the reference numbers). The notebooks'
 * openings, display helpers and headless export, which use these, are `lib/notebook/`;
 * `exploration.ts` (notebook 01's counts and figures) is imported by file.
 *
 * @module
 */

export { displayWidth, markdownTable, metricsTable } from "./table.ts";
export type { TableRow } from "./table.ts";
export {
  barFigure,
  componentFigure,
  confusionFigure,
  defectFigure,
  featureContributionFigure,
  lossCurvesFigure,
  prFigure,
  rocFigure,
  scoreHistogramFigure,
  shortLabels,
} from "./figures.ts";
export type { PlotlyFigure } from "./figures.ts";
export { escapeHtml, figureHtml, htmlReport, pngDataUri, readableJson } from "./html.ts";
export type { ReportSection } from "./html.ts";
export { MVTEC_ATTRIBUTION, mvtecAttributionHtml, mvtecCategories } from "./attribution.ts";
export { heatmapOverlayPng, imageGridPng, jet, resizeBilinear, scoreMapPng } from "./heatmap.ts";
export type { OverlayOptions } from "./heatmap.ts";
export { plotlyNotebook } from "./notebook.ts";
export type { JupyterDisplayable } from "./notebook.ts";
export { plotlyBundle } from "./plotly_bundle.ts";
export {
  componentSections,
  curveSections,
  defectSections,
  distributionSections,
  evaluationRows,
  featureSections,
  heatmapSections,
  metricsHtml,
  trainingSection,
} from "./evaluation.ts";
export {
  ablationDifferenceRows,
  ablationFigure,
  ablationRows,
  ablationScoreFigure,
  ablationScoreRows,
  exceedingDifferences,
  formatAlone,
  formatMeanStd,
  headlineDatasets,
} from "./ablation_tables.ts";
export {
  COMPARISON_COLUMNS,
  comparisonHtml,
  comparisonRows,
  REFERENCE_RESULTS,
  withheldReferences,
} from "./reference.ts";
export type { ReferenceResult } from "./reference.ts";

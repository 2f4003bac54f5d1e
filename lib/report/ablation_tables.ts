/**
 * Tables and plots of an ablation summary (see lib/experiment/ablation.ts): one row per variant,
 * `mean ± std` AUROC per dataset (of the combined score, and of one evidence component alone such
 * as the encoder evidence `enc`), each variant's differences from `full` with whether they exceed
 * the seed spread, and grouped bars with error bars.
 *
 * @module
 */
import {
  type AblationSummary,
  COMBINED,
  IMAGES_MEAN,
  type MeanStd,
  type ScoreDifference,
} from "../experiment/ablation.ts";
import { ENCODER_EVIDENCE } from "../model/evidence/encoder.ts";
import { groupedBarLayout, type PlotlyFigure, shortLabels } from "./figures.ts";
import type { TableRow } from "./table.ts";

/**
 * `0.9123 ± 0.0100`; the mean alone when it is of one value (`n` 1: no spread to show, where
 * `± 0.0000` would claim one); `-` when the variant has no such dataset.
 */
export function formatMeanStd(
  value: { mean: number; std: number; n?: number } | undefined,
): string {
  if (!value || !Number.isFinite(value.mean)) return "-";
  if (value.n === 1) return value.mean.toFixed(4);
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
  const legend = shortLabels(summary.datasets);
  const cell = (value: number | undefined) =>
    value !== undefined && Number.isFinite(value) ? value : null;
  return {
    data: summary.datasets.map((d, i) => ({
      type: "bar",
      name: legend[i],
      x: names,
      y: summary.variants.map((v) => cell(v.auroc[d]?.mean)),
      error_y: {
        type: "data",
        array: summary.variants.map((v) => cell(v.auroc[d]?.std)),
        visible: true,
      },
    })),
    layout: groupedBarLayout(title, { title: { text: "AUROC" }, range: [0, 1.05] }),
  };
}

/**
 * The datasets a short table or figure shows: with several image categories, their mean and the
 * table datasets; otherwise every dataset.
 */
export function headlineDatasets(summary: AblationSummary): string[] {
  if (!summary.datasets.includes(IMAGES_MEAN)) return [...summary.datasets];
  const modality = summary.modalities ?? {};
  return [IMAGES_MEAN, ...summary.datasets.filter((d) => modality[d] === "table")];
}

/** Column label of a component's AUROC alone: `enc alone`. */
function aloneLabel(component: string): string {
  return `${component} alone`;
}

/**
 * A component's AUROC alone on a dataset as `mean ± std`, marked when validation gave it weight 0
 * in some of the runs it was measured in, so a reader knows it did not count there:
 * `0.7511 ± 0.0200 (weight 0 in 2 of 3 seeds)`, `0.7511 (weight 0)` for a single run.
 */
export function formatAlone(
  summary: AblationSummary["variants"][number],
  component: string,
  dataset: string,
): string {
  const value = summary.components?.[component]?.[dataset];
  const text = formatMeanStd(value);
  const dropped = summary.dropped?.[component]?.[dataset] ?? 0;
  if (!value || text === "-" || dropped === 0) return text;
  return value.n === 1
    ? `${text} (weight 0)`
    : `${text} (weight 0 in ${dropped} of ${value.n} seeds)`;
}

/**
 * Rows with the combined score and one evidence component alone side by side, as `mean ± std`
 * (`-` where the variant has no such score; marked where validation gave the component weight 0,
 * {@linkcode formatAlone}) with the number of seeds. One row per variant with
 * `<dataset> combined` and `<dataset> enc alone` columns per dataset, or with `byDataset` one row
 * per (variant, dataset) with `dataset`, `combined` and `enc alone` columns.
 */
export function ablationScoreRows(
  summary: AblationSummary,
  options: { datasets?: readonly string[]; component?: string; byDataset?: boolean } = {},
): TableRow[] {
  const datasets = options.datasets ?? summary.datasets;
  const component = options.component ?? ENCODER_EVIDENCE;
  const seeds = (v: AblationSummary["variants"][number]) =>
    Math.max(0, ...Object.values(v.auroc).map((m) => m.n));
  if (options.byDataset) {
    return datasets.flatMap((d) =>
      summary.variants.map((v): TableRow => ({
        name: v.variant,
        dataset: d,
        [COMBINED]: formatMeanStd(v.auroc[d]),
        [aloneLabel(component)]: formatAlone(v, component, d),
        seeds: v.auroc[d]?.n ?? 0,
      }))
    );
  }
  return summary.variants.map((v) => {
    const row: TableRow = { name: v.variant, data: v.data };
    for (const d of datasets) {
      row[`${d} ${COMBINED}`] = formatMeanStd(v.auroc[d]);
      row[`${d} ${aloneLabel(component)}`] = formatAlone(v, component, d);
    }
    row.seeds = seeds(v);
    return row;
  });
}

/**
 * The differences that exceed the seed spread, one sentence each, in the differences' order:
 * `no_position_embedding, table, enc alone: -0.0500 (spread 0.0100)`. Only the combined score and
 * `component`, and only the datasets in `datasets` (default all).
 */
export function exceedingDifferences(
  differences: readonly ScoreDifference[],
  options: { datasets?: readonly string[]; component?: string } = {},
): string[] {
  const component = options.component ?? ENCODER_EVIDENCE;
  return differences
    .filter((d) =>
      d.exceeds === true && (d.score === COMBINED || d.score === component) &&
      (!options.datasets || options.datasets.includes(d.dataset))
    )
    .map((d) =>
      `${d.variant}, ${d.dataset}, ${d.score === COMBINED ? COMBINED : aloneLabel(component)}: ` +
      `${signed(d.difference)} (spread ${d.spread.toFixed(4)})`
    );
}

/** `+0.0123` / `-0.0040`. */
function signed(value: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? "+" : "-"}${Math.abs(value).toFixed(4)}` : "-";
}

/** `yes` / `no`, or `-` when the rule cannot tell (fewer than two seeds). */
function verdict(exceeds: boolean | null): string {
  return exceeds === null ? "-" : exceeds ? "yes" : "no";
}

/**
 * One row per (variant, dataset) from {@linkcode compareToReference}'s differences: for the
 * combined score and for the component alone, the difference of means from the reference
 * (`Δ combined`, `Δ enc alone`), the spread it is held against (the larger of the two stds) and
 * whether it exceeds it (`yes` / `no`; `-` with fewer than two seeds or where a side lacks the
 * score). Variants in the differences' order; datasets in the order of `datasets` (default all,
 * as they come).
 */
export function ablationDifferenceRows(
  differences: readonly ScoreDifference[],
  options: { datasets?: readonly string[]; component?: string } = {},
): TableRow[] {
  const component = options.component ?? ENCODER_EVIDENCE;
  const keep = options.datasets ? new Set(options.datasets) : undefined;
  const rows = new Map<string, TableRow>();
  for (const d of differences) {
    if (keep && !keep.has(d.dataset)) continue;
    if (d.score !== COMBINED && d.score !== component) continue;
    const key = JSON.stringify([d.variant, d.dataset]);
    const row = rows.get(key) ?? {
      name: d.variant,
      dataset: d.dataset,
      [`Δ ${COMBINED}`]: "-",
      [`${COMBINED} spread`]: "-",
      [`${COMBINED} exceeds`]: "-",
      [`Δ ${aloneLabel(component)}`]: "-",
      [`${component} spread`]: "-",
      [`${component} exceeds`]: "-",
    };
    const label = d.score === COMBINED ? COMBINED : aloneLabel(component);
    row[`Δ ${label}`] = signed(d.difference);
    // With one seed a side has no spread: 0.0000 would claim one.
    row[`${d.score} spread`] = d.exceeds !== null && Number.isFinite(d.spread)
      ? d.spread.toFixed(4)
      : "-";
    row[`${d.score} exceeds`] = verdict(d.exceeds);
    rows.set(key, row);
  }
  const variants = [...new Set(differences.map((d) => d.variant))];
  const order = options.datasets ?? [...new Set(differences.map((d) => d.dataset))];
  const rank = (r: TableRow) =>
    variants.indexOf(r.name) * order.length + order.indexOf(String(r.dataset));
  return [...rows.values()].sort((a, b) => rank(a) - rank(b));
}

/**
 * Grouped bars of the combined score and one component alone (mean ± one std over seeds) per
 * variant; with several datasets the x axis groups the variants by dataset.
 */
export function ablationScoreFigure(
  summary: AblationSummary,
  options: { datasets?: readonly string[]; component?: string; title?: string } = {},
): PlotlyFigure {
  const datasets = options.datasets ?? headlineDatasets(summary);
  const component = options.component ?? ENCODER_EVIDENCE;
  const cells = datasets.flatMap((d) => summary.variants.map((v) => ({ d, v })));
  const short = shortLabels(datasets);
  const label = new Map(datasets.map((d, i) => [d, short[i]]));
  const x = datasets.length > 1
    ? [cells.map((c) => label.get(c.d)!), cells.map((c) => c.v.variant)]
    : cells.map((c) => c.v.variant);
  const finite = (value: number | undefined) =>
    value !== undefined && Number.isFinite(value) ? value : null;
  const trace = (name: string, pick: (c: (typeof cells)[number]) => MeanStd | undefined) => ({
    type: "bar",
    name,
    x,
    y: cells.map((c) => finite(pick(c)?.mean)),
    error_y: { type: "data", array: cells.map((c) => finite(pick(c)?.std)), visible: true },
  });
  return {
    data: [
      trace("combined score", (c) => c.v.auroc[c.d]),
      trace(`${aloneLabel(component)}`, (c) => c.v.components?.[component]?.[c.d]),
    ],
    layout: groupedBarLayout(
      options.title ??
        `Combined score and ${aloneLabel(component)}: test AUROC (mean ± std over seeds)`,
      { title: { text: "AUROC" }, range: [0, 1.05] },
    ),
  };
}

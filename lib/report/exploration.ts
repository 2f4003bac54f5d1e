/**
 * Data exploration for notebooks/01: counts per split and class exactly as training splits the
 * data, sample grids, per-feature distributions and correlations of a table, and examples of the
 * synthetic anomalies the model trains against.
 *
 * @module
 */
import type { Config } from "../model/config.ts";
import type { ExperimentData } from "../experiment/setup.ts";
import {
  type PreparedImages,
  type PreparedTable,
  prepareImages,
  prepareTable,
  readTableSource,
} from "../train/datasets.ts";
import type { DecodedImage, SplitSpec, Table } from "../data/types.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { syntheticImageAnomaly, syntheticTableAnomaly } from "../data/anomalies.ts";
import { imageGridPng } from "./heatmap.ts";
import { type PlotlyFigure, shortLabels, TITLE_LINE_PX, wrapTitle } from "./figures.ts";
import type { TableRow } from "./table.ts";
import { Rng } from "../rng.ts";

/**
 * The datasets of an experiment, split the way `train` splits them for `config`; their warnings
 * (duplicate rows, files skipped) go to `warn`.
 */
export async function prepareExperiment(
  data: ExperimentData,
  config: Config,
  warn: (line: string) => void = console.warn,
): Promise<{ images: PreparedImages[]; tables: PreparedTable[] }> {
  const split: SplitSpec = {
    protocol: "half-normals",
    seed: config.train.seed,
    valShare: config.train.valShare,
  };
  const images = await prepareImages(data.imageDirs, split, warn);
  const tables = data.tablePaths.map((p) =>
    prepareTable(
      p,
      { ...split, protocol: readTableSource(p, { warn: () => {} }).protocol },
      undefined,
      undefined,
      {
        logSkewed: config.model.tableLogSkewed,
      },
      undefined,
      warn,
    )
  );
  return { images, tables };
}

/** One row per dataset: train / validation normals and test normals / anomalies. */
export function splitCountRows(
  prepared: { images: PreparedImages[]; tables: PreparedTable[] },
): TableRow[] {
  const images = prepared.images.map((p) => ({
    name: p.record.name,
    modality: "image",
    train: p.train.length,
    val: p.val.length,
    "test normal": p.test.filter((s) => s.label === 0).length,
    "test anomaly": p.test.filter((s) => s.label === 1).length,
  }));
  const tables = prepared.tables.map((p) => {
    const anomalies = p.testLabels.reduce((a, b) => a + b, 0);
    return {
      name: p.record.name,
      modality: "table",
      train: p.train.length / p.d,
      val: p.val.length / p.d,
      "test normal": p.testLabels.length - anomalies,
      "test anomaly": anomalies,
    };
  });
  return [...images, ...tables];
}

/** Test images of one class (normal 0, anomalous 1) tiled in a PNG grid. */
export async function sampleGridPng(
  prepared: PreparedImages,
  label: 0 | 1,
  cache: ImageCache,
  options: { count?: number; size?: number; columns?: number } = {},
): Promise<Uint8Array | null> {
  const picks = prepared.test.filter((s) => s.label === label).slice(0, options.count ?? 8);
  if (picks.length === 0) return null;
  const size = options.size ?? 96;
  const images: DecodedImage[] = [];
  for (const s of picks) images.push(await cache.get(s.path, { size, channels: 3 }));
  return await imageGridPng(images, options.columns ?? 8);
}

/**
 * Synthetic image anomalies made from training normals: a grid with the originals in the first
 * row, the altered images in the second and the masks in the third.
 */
export async function syntheticImageGridPng(
  prepared: PreparedImages,
  cache: ImageCache,
  options: { count?: number; size?: number; seed?: number } = {},
): Promise<Uint8Array> {
  const size = options.size ?? 96;
  const rng = new Rng(options.seed ?? 0);
  const picks = prepared.train.slice(0, options.count ?? 6);
  const originals: DecodedImage[] = [];
  for (const s of picks) originals.push(await cache.get(s.path, { size, channels: 3 }));
  const altered = originals.map((im, i) => {
    const donor = originals[(i + 1) % originals.length];
    return syntheticImageAnomaly(rng, { size, data: im.data }, { size, data: donor.data });
  });
  const rows = [
    ...originals,
    ...altered.map((a) => ({ width: size, height: size, channels: 3 as const, data: a.data })),
    ...altered.map((a) => ({ width: size, height: size, channels: 1 as const, data: a.mask })),
  ];
  return await imageGridPng(rows, picks.length);
}

/** The raw (un-normalised) table of a table source. */
export function rawTable(path: string): Table {
  // Its warnings were given when the experiment's tables were prepared.
  return readTableSource(path, { warn: () => {} }).table;
}

function column(table: Table, j: number, rows: number[]): number[] {
  return rows.map((r) => table.values[r * table.d + j]);
}

function rowsWithLabel(table: Table, label: 0 | 1): number[] {
  const out: number[] = [];
  for (let r = 0; r < table.n; r++) if ((table.labels?.[r] ?? 0) === label) out.push(r);
  return out;
}

/** Most features a histogram grid shows (a wide table's would be thousands of plots). */
export const HISTOGRAM_FEATURES = 24;
/** Most features a correlation heatmap shows. */
export const CORRELATION_FEATURES = 64;

/**
 * The features of a table a figure shows, in column order: all of them up to `max`, else the `max`
 * whose anomalies lie furthest from the normals (difference of means over the normals' standard
 * deviation), or the first `max` when there are no anomalies.
 */
export function shownFeatures(table: Table, max: number): number[] {
  const all = Array.from({ length: table.d }, (_, j) => j);
  if (table.d <= max) return all;
  const normal = rowsWithLabel(table, 0);
  const anomaly = rowsWithLabel(table, 1);
  if (anomaly.length === 0 || normal.length < 2) return all.slice(0, max);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const apart = all.map((j) => {
    const n = column(table, j, normal);
    const m = mean(n);
    const sd = Math.sqrt(n.reduce((a, v) => a + (v - m) ** 2, 0) / (n.length - 1));
    const gap = Math.abs(mean(column(table, j, anomaly)) - m);
    return sd > 0 ? gap / sd : gap > 0 ? Infinity : 0;
  });
  return all.sort((a, b) => apart[b] - apart[a] || a - b).slice(0, max).sort((a, b) => a - b);
}

/** " (k of d features: ...)" for a figure title when it shows some of a table's features. */
function shownNote(table: Table, shown: number[]): string {
  if (shown.length === table.d) return "";
  const how = rowsWithLabel(table, 1).length > 0
    ? "those whose anomalies lie furthest from the normals"
    : "the first";
  return ` (${shown.length} of ${table.d} features: ${how})`;
}

/**
 * Where a figure's texts go, in pixels: each line of the title (below the row of plotly.js's
 * buttons), a subtitle line under it, then the row of panel titles just above the plots. Laid out
 * by plotly.js, a title sat in the middle of the top margin and its subtitle ran into the panel
 * titles under it; a long one ran off both sides.
 */
const TOP_PAD = 40, SUBTITLE_PX = 20, PANEL_TITLE_PX = 22;

/**
 * A figure's title (wrapped, `subtitle` under it) placed from its top, over plots `plotPx` high
 * with `bottom` px under them: the title markup, the top margin (room for the title and a row of
 * panel titles) and the figure's height.
 */
function titleBlock(text: string, plotPx: number, bottom: number, subtitle?: string) {
  const wrapped = wrapTitle(text);
  const top = TOP_PAD + wrapped.lines * TITLE_LINE_PX + (subtitle ? SUBTITLE_PX : 0) + 10 +
    PANEL_TITLE_PX;
  const height = top + plotPx + bottom;
  return {
    title: {
      text: wrapped.text + (subtitle ? `<br><sub>${subtitle}</sub>` : ""),
      x: 0.5,
      xanchor: "center",
      y: 1 - TOP_PAD / height,
      yref: "container",
      yanchor: "top",
    },
    top,
    height,
  };
}

/** A panel's title just above its plot, clear of the panel above it. */
function panelTitle(text: string, axis: string) {
  return {
    text,
    xref: `x${axis} domain`,
    yref: `y${axis} domain`,
    x: 0.5,
    y: 1,
    xanchor: "center",
    yanchor: "bottom",
    yshift: 4,
    showarrow: false,
  };
}

/** Height of a histogram panel, and the gap under it for its x ticks and the next panel's title. */
const PANEL_PX = 160, PANEL_GAP_PX = 64;

/**
 * Per-feature histograms of normal and anomalous rows, in a grid of small plots: every feature up
 * to {@linkcode HISTOGRAM_FEATURES}, else those `shownFeatures` picks. Placed in pixels, so that
 * the title (wrapped when long), its subtitle and each panel's title never overlap.
 */
export function featureHistogramFigure(table: Table, title?: string): PlotlyFigure {
  const shown = shownFeatures(table, HISTOGRAM_FEATURES);
  const columns = Math.min(3, shown.length);
  const rows = Math.ceil(shown.length / columns);
  const normal = rowsWithLabel(table, 0);
  const anomaly = rowsWithLabel(table, 1);
  const titles = shortLabels(shown.map((j) => table.columns[j]));
  const bottom = 40;
  const plotPx = rows * PANEL_PX + (rows - 1) * PANEL_GAP_PX;
  const head = titleBlock(
    (title ?? `${table.name}: feature distributions (normal vs anomaly)`) +
      shownNote(table, shown),
    plotPx,
    bottom,
    // One y title for every panel: each class's density, so a few anomalies stay visible.
    "y: each class's probability density",
  );
  const xgap = 0.1;
  const width = (1 - (columns - 1) * xgap) / columns;
  const data: Array<Record<string, unknown>> = [];
  const layout: Record<string, unknown> = {
    template: "plotly_white",
    title: head.title,
    barmode: "overlay",
    height: head.height,
    margin: { l: 40, r: 20, t: head.top, b: bottom },
    annotations: [] as unknown[],
  };
  for (const [k, j] of shown.entries()) {
    const axis = k === 0 ? "" : String(k + 1);
    const row = Math.floor(k / columns), col = k % columns;
    const y1 = 1 - (row * (PANEL_PX + PANEL_GAP_PX)) / plotPx;
    layout[`xaxis${axis}`] = {
      domain: [col * (width + xgap), col * (width + xgap) + width],
      anchor: `y${axis}`,
    };
    layout[`yaxis${axis}`] = {
      domain: [Math.max(0, y1 - PANEL_PX / plotPx), y1],
      anchor: `x${axis}`,
    };
    for (
      const [name, rowsOf, color] of [
        ["normal", normal, "#1f77b4"],
        ["anomaly", anomaly, "#d62728"],
      ] as const
    ) {
      if (rowsOf.length === 0) continue;
      data.push({
        type: "histogram",
        name,
        legendgroup: name,
        showlegend: k === 0,
        x: column(table, j, rowsOf),
        // Both classes of a feature on one bin grid (binned apart, a few anomalies made bars
        // as wide as the range).
        bingroup: `feature${k}`,
        histnorm: "probability density",
        opacity: 0.6,
        marker: { color },
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
      });
    }
    (layout.annotations as unknown[]).push(panelTitle(titles[k], axis));
  }
  return { data, layout };
}

/**
 * Pearson correlation matrix of the given rows (all rows by default) between the given features
 * (all by default).
 */
export function correlationMatrix(
  table: Table,
  rows?: number[],
  features?: number[],
): number[][] {
  const use = rows ?? Array.from({ length: table.n }, (_, r) => r);
  const cols = (features ?? Array.from({ length: table.d }, (_, j) => j))
    .map((j) => column(table, j, use));
  const means = cols.map((c) => c.reduce((a, b) => a + b, 0) / Math.max(c.length, 1));
  const sds = cols.map((c, j) => Math.sqrt(c.reduce((a, v) => a + (v - means[j]) ** 2, 0)));
  return cols.map((a, i) =>
    cols.map((b, j) => {
      if (sds[i] === 0 || sds[j] === 0) return i === j ? 1 : 0;
      let s = 0;
      for (let k = 0; k < a.length; k++) s += (a[k] - means[i]) * (b[k] - means[j]);
      return s / (sds[i] * sds[j]);
    })
  );
}

/** Most feature names an axis of a correlation heatmap shows; hovering names every cell. */
export const CORRELATION_LABELS = 20;
/** Height of the correlation heatmaps, and the width of a character of their 11 px labels. */
const CORRELATION_PX = 380, LABEL_CHAR_PX = 7;

/**
 * Correlation heatmaps of normal and anomalous rows side by side, each titled, the feature names
 * along the left of the first (the second has the same rows) and under both. Beyond
 * {@linkcode CORRELATION_LABELS} features every k-th name is shown, since more labels than rows
 * of pixels for them overlapped one another.
 */
export function correlationFigure(table: Table): PlotlyFigure {
  const parts = [["normal rows", rowsWithLabel(table, 0)], [
    "anomalous rows",
    rowsWithLabel(table, 1),
  ]] as const;
  const shown = parts.filter(([, rows]) => rows.length > 1);
  const features = shownFeatures(table, CORRELATION_FEATURES);
  const names = features.map((j) => table.columns[j]);
  const step = Math.ceil(names.length / CORRELATION_LABELS);
  const short = shortLabels(names);
  const ticks = {
    tickmode: "array",
    tickvals: names.filter((_, i) => i % step === 0),
    ticktext: short.filter((_, i) => i % step === 0),
    tickfont: { size: 11 },
    automargin: true,
  };
  // Names up to 6 characters (f1, TSH) stand upright under their columns; longer ones turn.
  const longest = Math.max(0, ...short.map((label) => label.length));
  const upright = longest <= 6;
  const bottom = upright ? 40 : 20 + Math.ceil(longest * LABEL_CHAR_PX);
  const head = titleBlock(
    `${table.name}: feature correlations` + shownNote(table, features),
    CORRELATION_PX,
    bottom,
  );
  const gap = 0.06;
  const width = (1 - (shown.length - 1) * gap) / Math.max(1, shown.length);
  const layout: Record<string, unknown> = {
    template: "plotly_white",
    title: head.title,
    height: head.height,
    margin: { l: 60, r: 20, t: head.top, b: bottom },
    annotations: shown.map(([name, rows], i) =>
      panelTitle(`${name} (${rows.length})`, i === 0 ? "" : String(i + 1))
    ),
  };
  shown.forEach((_, i) => {
    const axis = i === 0 ? "" : String(i + 1);
    layout[`xaxis${axis}`] = {
      ...ticks,
      tickangle: upright ? 0 : -90,
      domain: [i * (width + gap), i * (width + gap) + width],
      anchor: `y${axis}`,
    };
    layout[`yaxis${axis}`] = {
      ...ticks,
      autorange: "reversed",
      // The second heatmap's rows are the first's: its labels would lie over the first.
      showticklabels: i === 0,
      anchor: `x${axis}`,
    };
  });
  return {
    data: shown.map(([name, rows], i) => ({
      type: "heatmap",
      name,
      x: names,
      y: names,
      z: correlationMatrix(table, [...rows], features),
      zmin: -1,
      zmax: 1,
      colorscale: "RdBu",
      reversescale: true,
      showscale: i === 0,
      xaxis: i === 0 ? "x" : "x2",
      yaxis: i === 0 ? "y" : "y2",
      hovertemplate: "%{y} × %{x}: %{z:.2f}<extra></extra>",
    })),
    layout,
  };
}

/**
 * Training normals, real test anomalies and synthetic anomalies made from the normals, on the
 * two features that correlate most among the normals (normalised values).
 */
export function syntheticTableFigure(
  prepared: PreparedTable,
  options: { count?: number; seed?: number } = {},
): PlotlyFigure {
  const d = prepared.d;
  const nTrain = prepared.train.length / d;
  const row = (data: Float32Array, r: number) => data.subarray(r * d, (r + 1) * d);
  const trainTable: Table = {
    name: prepared.record.name,
    source: prepared.record.source,
    columns: prepared.record.columns ?? Array.from({ length: d }, (_, j) => `f${j + 1}`),
    n: nTrain,
    d,
    values: Float64Array.from(prepared.train),
    labels: null,
  };
  const corr = correlationMatrix(trainTable);
  let best = [0, Math.min(1, d - 1)];
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      if (Math.abs(corr[i][j]) > Math.abs(corr[best[0]][best[1]])) best = [i, j];
    }
  }
  const [a, b] = best;
  const rng = new Rng(options.seed ?? 0);
  const count = Math.min(options.count ?? 300, nTrain);
  const normals = Array.from({ length: count }, (_, i) => row(prepared.train, i));
  const synthetic = normals.map((r) =>
    syntheticTableAnomaly(rng, r, row(prepared.train, rng.int(nTrain)))
  );
  const real: Float32Array[] = [];
  prepared.testLabels.forEach((l, r) => l === 1 && real.push(row(prepared.test, r)));
  const trace = (name: string, rows: Float32Array[], color: string, symbol: string) => ({
    type: "scatter",
    mode: "markers",
    name,
    x: rows.map((r) => r[a]),
    y: rows.map((r) => r[b]),
    marker: { color, symbol, size: 6, opacity: 0.6 },
  });
  const title = wrapTitle(`${trainTable.name}: synthetic vs real anomalies (normalised)`);
  // A long column name as the y title ran past the plot's height, up to the figure's title.
  const [nameA, nameB] = shortLabels(
    a === b ? [trainTable.columns[a]] : [trainTable.columns[a], trainTable.columns[b]],
    40,
  );
  return {
    data: [
      trace("training normals", normals, "#1f77b4", "circle"),
      trace("synthetic anomalies", synthetic, "#ff7f0e", "x"),
      trace("real test anomalies", real, "#d62728", "diamond"),
    ],
    layout: {
      template: "plotly_white",
      // Below plotly.js's buttons, as in the figures above.
      title: {
        text: title.text,
        y: 1 - TOP_PAD / 480,
        yref: "container",
        yanchor: "top",
      },
      margin: { t: TOP_PAD + title.lines * TITLE_LINE_PX + 16 },
      xaxis: { title: { text: nameA } },
      yaxis: { title: { text: nameB ?? nameA } },
      height: 480,
    },
  };
}

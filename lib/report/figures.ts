/**
 * Plot specifications as plain plotly.js figure objects, so they can be written to JSON,
 * embedded in HTML reports or shown in notebooks without a browser on the server side.
 *
 * @module
 */

/** A plotly.js figure: traces and layout, plain JSON-compatible data. */
export interface PlotlyFigure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

const BASE_LAYOUT = {
  template: "plotly_white",
  margin: { l: 60, r: 20, t: 50, b: 50 },
  legend: { orientation: "v" },
};

/**
 * The longest tick or legend label a figure shows. Dataset, category, defect and column names are
 * the user's, and plotly clips a label longer than its margin; longer names are cut in the middle
 * (their start kept, and the part that tells them apart), and on an axis of `namedAxis` the bars'
 * hover text still shows the whole name.
 */
export const LABEL_MAX = 30;

/**
 * `name` cut to at most `max` characters: its start, "…", and the part that tells it from the
 * other names (after the longest start it shares with one of them; its end if that is further).
 */
function cutName(name: string, others: readonly string[], max: number): string {
  if (name.length <= max) return name;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  let shared = 0;
  for (const other of others) {
    if (other === name) continue;
    let k = 0;
    while (k < name.length && name[k] === other[k]) k++;
    shared = Math.max(shared, k);
  }
  const from = Math.min(Math.max(shared, head), name.length - tail);
  return `${name.slice(0, head)}…${name.slice(from, from + tail)}`;
}

/** Labels for the names, each at most `max` characters, distinct where the names are. */
export function shortLabels(names: readonly string[], max = LABEL_MAX): string[] {
  const labels = new Map<string, string>();
  const used = new Set<string>();
  for (const name of names) {
    if (labels.has(name)) continue;
    let label = cutName(name, names, max);
    for (let copy = 2; used.has(label); copy++) {
      label = `${cutName(name, names, max - String(copy).length - 3)} (${copy})`;
    }
    used.add(label);
    labels.set(name, label);
  }
  return names.map((name) => labels.get(name)!);
}

/**
 * Characters a figure title's line holds. plotly.js never wraps a title: a longer line runs off
 * both sides of the figure, and at its 17 px font a figure about 1,000 px wide holds some 100.
 */
export const TITLE_LINE = 80;

/** Height in pixels of one line of a figure title at plotly.js's 17 px font. */
export const TITLE_LINE_PX = 24;

/**
 * `text` broken at spaces into lines of at most `max` characters (a longer word, such as a long
 * file name, cut across lines after a `_`, `-` or `.` where it has one), as plotly title markup
 * joined by `<br>`, and how many lines.
 */
export function wrapTitle(text: string, max = TITLE_LINE): { text: string; lines: number } {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter((w) => w !== "")) {
    while (word.length > max) {
      if (line) lines.push(line);
      const mark = Math.max(...["_", "-", "."].map((c) => word.lastIndexOf(c, max - 1)));
      const cut = mark >= max / 2 ? mark + 1 : max;
      lines.push(word.slice(0, cut));
      word = word.slice(cut);
      line = "";
    }
    if (line && line.length + 1 + word.length > max) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line || lines.length === 0) lines.push(line);
  return { text: lines.join("<br>"), lines: lines.length };
}

/**
 * An axis over user-named categories: labels shortened (`shortLabels`) and slanted, and the margin
 * growing to fit them rather than clipping them.
 */
export function namedAxis(names: readonly string[], extra: Record<string, unknown> = {}) {
  return {
    tickangle: -30,
    automargin: true,
    tickmode: "array",
    tickvals: [...names],
    ticktext: shortLabels(names),
    ...extra,
  };
}

/**
 * Characters a grouped-bar title's line holds: left-aligned at that width it ends before the plotly
 * toolbar, which sits at the figure's top right (a long centred title ran under it).
 */
export const BAR_TITLE_LINE = 60;

/**
 * The layout of grouped bars over user-named categories (`names`, or category labels already
 * short enough when omitted), with a y axis as given. The title starts at the plot's left edge,
 * wrapped at {@linkcode BAR_TITLE_LINE} characters with the top margin grown to hold its lines.
 */
export function groupedBarLayout(
  title: string,
  yaxis: Record<string, unknown>,
  names?: readonly string[],
): Record<string, unknown> {
  const wrapped = wrapTitle(title, BAR_TITLE_LINE);
  return {
    ...BASE_LAYOUT,
    margin: {
      ...BASE_LAYOUT.margin,
      t: BASE_LAYOUT.margin.t + (wrapped.lines - 1) * TITLE_LINE_PX,
    },
    title: { text: wrapped.text, x: 0, xref: "paper", xanchor: "left" },
    barmode: "group",
    xaxis: names ? namedAxis(names) : { tickangle: -30, automargin: true },
    yaxis,
  };
}

/** Copies numbers into a plain array with non-finite values as null, which JSON keeps. */
function plain(values: ArrayLike<number>): Array<number | null> {
  return Array.from(values, (v) => (Number.isFinite(v) ? v : null));
}

/**
 * A layout's title, or with `""` none and the top margin it needed: for a figure under a heading
 * that already names it.
 */
function titleOrNone(title: string): Record<string, unknown> {
  return title ? { title: { text: title } } : { margin: { ...BASE_LAYOUT.margin, t: 20 } };
}

/** ROC curves, one line per model, with the chance diagonal; `title` `""` draws none. */
export function rocFigure(
  curves: Array<{ name: string; fpr: ArrayLike<number>; tpr: ArrayLike<number>; auroc: number }>,
  title = "ROC curve",
): PlotlyFigure {
  return {
    data: [
      ...curves.map((c) => ({
        type: "scatter",
        mode: "lines",
        name: `${c.name} (AUROC ${c.auroc.toFixed(4)})`,
        x: plain(c.fpr),
        y: plain(c.tpr),
      })),
      {
        type: "scatter",
        mode: "lines",
        name: "chance",
        x: [0, 1],
        y: [0, 1],
        line: { dash: "dash", color: "gray" },
        showlegend: false,
      },
    ],
    layout: {
      ...BASE_LAYOUT,
      ...titleOrNone(title),
      xaxis: { title: { text: "False positive rate" }, range: [0, 1] },
      yaxis: { title: { text: "True positive rate" }, range: [0, 1.02] },
    },
  };
}

/**
 * Precision-recall curves, one per model, drawn as steps the way average precision sums them.
 * Points may come in either recall order (e.g. straight from `prCurve`); `title` `""` draws none.
 */
export function prFigure(
  curves: Array<
    { name: string; recall: ArrayLike<number>; precision: ArrayLike<number>; aupr: number }
  >,
  title = "Precision-recall curve",
): PlotlyFigure {
  return {
    data: curves.map((c) => {
      const points = Array.from(c.recall, (r, i) => [r, c.precision[i]]);
      points.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
      return {
        type: "scatter",
        mode: "lines",
        name: `${c.name} (AUPR ${c.aupr.toFixed(4)})`,
        x: plain(points.map((p) => p[0])),
        y: plain(points.map((p) => p[1])),
        // Average precision holds each precision over the recall step that leads to it.
        line: { shape: "vh" },
      };
    }),
    layout: {
      ...BASE_LAYOUT,
      ...titleOrNone(title),
      xaxis: { title: { text: "Recall" }, range: [0, 1] },
      yaxis: { title: { text: "Precision" }, range: [0, 1.02] },
    },
  };
}

/**
 * Overlaid histograms of normal and anomalous scores, each class as its share on one bin grid,
 * with the decision threshold marked.
 */
export function scoreHistogramFigure(
  normalScores: ArrayLike<number>,
  anomalyScores: ArrayLike<number>,
  threshold: number,
  title = "Anomaly scores",
): PlotlyFigure {
  const shapes = Number.isFinite(threshold)
    ? [{
      type: "line",
      x0: threshold,
      x1: threshold,
      y0: 0,
      y1: 1,
      yref: "paper",
      line: { color: "black", dash: "dot" },
    }]
    : [];
  return {
    data: [
      // One bin grid for both classes (`bingroup`): binned apart, a few anomalies far out drew
      // one bar as wide as the whole range, across the normals and the threshold.
      {
        type: "histogram",
        name: "normal",
        x: plain(normalScores),
        bingroup: "scores",
        nbinsx: 40,
        histnorm: "percent",
        opacity: 0.6,
        marker: { color: "#1f77b4" },
      },
      {
        type: "histogram",
        name: "anomaly",
        x: plain(anomalyScores),
        bingroup: "scores",
        nbinsx: 40,
        histnorm: "percent",
        opacity: 0.6,
        marker: { color: "#d62728" },
      },
    ],
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      barmode: "overlay",
      xaxis: { title: { text: "Score" } },
      // Each class as its share: 60 anomalies beside 570 normals were slivers on a count axis.
      yaxis: { title: { text: "% of the class" } },
      shapes,
      annotations: Number.isFinite(threshold)
        ? [{
          x: threshold,
          y: 1,
          yref: "paper",
          text: `threshold ${threshold.toPrecision(4)}`,
          showarrow: false,
          yanchor: "bottom",
        }]
        : [],
    },
  };
}

/**
 * Training curves: one line per key. The x axis is each row's `epoch` when rows have one,
 * otherwise the row number from 1.
 */
export function lossCurvesFigure(
  rows: Array<Record<string, number>>,
  keys: string[],
  title = "Training curves",
  yTitle?: string,
): PlotlyFigure {
  const x = rows.map((r, i) => (typeof r.epoch === "number" ? r.epoch : i + 1));
  const isAuroc = (key: string) => /auroc/i.test(key);
  const both = keys.some(isAuroc) && keys.some((k) => !isAuroc(k));
  // AUROCs stay on their own scale, 1 at most: autoranged beside the losses, a flat 0.95 put the
  // right axis' top near 1.8.
  const aurocs = rows.flatMap((r) => keys.filter(isAuroc).map((k) => r[k]))
    .filter((v) => typeof v === "number" && Number.isFinite(v));
  const aurocRange = [Math.max(0, Math.min(0.5, ...aurocs) - 0.02), 1.01];
  return {
    data: keys.map((key) => ({
      type: "scatter",
      mode: "lines+markers",
      name: CURVE_NAMES[key] ?? key,
      x,
      y: plain(rows.map((r) => (typeof r[key] === "number" ? r[key] : NaN))),
      ...(both && isAuroc(key) ? { yaxis: "y2", line: { dash: "dot" } } : {}),
    })),
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      xaxis: {
        title: { text: rows.some((r) => typeof r.epoch === "number") ? "Epoch" : "Step" },
        // Whole epochs: plotly's automatic ticks put 1.5 and 2.5 between two or three.
        ...(x.length <= 20 ? { dtick: 1 } : {}),
      },
      yaxis: {
        title: {
          text: yTitle ??
            (keys.every(isAuroc) ? "AUROC" : keys.every((k) => /loss/.test(k)) ? "loss" : ""),
        },
      },
      ...(both
        ? {
          // Ticks of its own (an overlaying axis takes the left one's, at odd values).
          yaxis2: {
            title: { text: "AUROC" },
            overlaying: "y",
            side: "right",
            tickmode: "auto",
            nticks: 6,
            showgrid: false,
            range: aurocRange,
          },
          margin: { ...BASE_LAYOUT.margin, r: 70 },
        }
        : {}),
      legend: { orientation: "h", y: -0.25 },
    },
  };
}

/** What the training log's columns are, in a legend. */
const CURVE_NAMES: Record<string, string> = {
  loss: "training loss",
  recon_loss: "reconstruction loss",
  anomaly_loss: "anomaly head loss",
  val_auroc: "validation AUROC (right axis)",
};

/** Bars of means with ± one standard deviation error bars, e.g. AUROC over seeds. */
export function barFigure(
  names: string[],
  means: ArrayLike<number>,
  stds: ArrayLike<number>,
  title: string,
): PlotlyFigure {
  return {
    data: [{
      type: "bar",
      x: names,
      y: plain(means),
      error_y: { type: "data", array: plain(stds), visible: true },
    }],
    layout: { ...BASE_LAYOUT, title: { text: title } },
  };
}

/** A horizontal line across the plot at `y` (chance, or a reference value). */
function levelLine(y: number, dash: string, color: string) {
  return { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { dash, color } };
}

/**
 * Evidence components of one dataset's score side by side: each one's share of the score (from
 * validation) and its AUROC alone on the test part, with chance marked at 0.5.
 */
export function componentFigure(
  // A null AUROC (a test part of one class) leaves its bar out.
  components: { name: string; weight: number; auroc: number | null }[],
  title: string,
): PlotlyFigure {
  const names = components.map((c) => c.name);
  return {
    data: [
      { type: "bar", name: "share of the score", x: names, y: components.map((c) => c.weight) },
      { type: "bar", name: "test AUROC alone", x: names, y: components.map((c) => c.auroc) },
    ],
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      barmode: "group",
      yaxis: { range: [0, 1], title: { text: "share of the score / AUROC" } },
      shapes: [levelLine(0.5, "dot", "grey")],
    },
  };
}

/**
 * An image category's test AUROC by defect type (each type against the good images alone), with
 * the category's AUROC over all defects and chance marked.
 */
export function defectFigure(
  defects: { defect: string; count: number; auroc: number }[],
  overall: number,
  title: string,
): PlotlyFigure {
  const names = defects.map((d) => `${d.defect} (${d.count})`);
  return {
    data: [{
      type: "bar",
      name: "test AUROC against the good images",
      x: names,
      y: defects.map((d) => d.auroc),
    }],
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      xaxis: namedAxis(names),
      yaxis: { range: [0, 1], title: { text: "AUROC" } },
      shapes: [levelLine(0.5, "dot", "grey"), levelLine(overall, "dash", "black")],
    },
  };
}

/**
 * Table rows explained by their features: each row's contributions as a heatmap (rows top to
 * bottom as given, features left to right), red where a feature makes the row look anomalous,
 * blue where a normal value there would look odder, white where it does not matter.
 */
export function featureContributionFigure(
  rowLabels: string[],
  columns: string[],
  contributions: Float32Array,
  title: string,
): PlotlyFigure {
  const d = columns.length;
  const z = rowLabels.map((_, i) => Array.from(contributions.subarray(i * d, (i + 1) * d)));
  // The colours span the 95th percentile of the sizes, so one dominant feature does not wash out
  // the rest (beyond it they saturate; hovering shows every value).
  const sizes = Array.from(contributions, Math.abs).sort((a, b) => a - b);
  const extent = Math.max(
    1e-9,
    sizes[Math.min(sizes.length - 1, Math.floor(0.95 * sizes.length))] ?? 0,
  );
  return {
    data: [{
      type: "heatmap",
      x: columns,
      y: rowLabels,
      z,
      zmin: -extent,
      zmax: extent,
      zmid: 0,
      colorscale: [[0, "#2166ac"], [0.5, "#ffffff"], [1, "#b2182b"]],
      colorbar: {
        title: {
          text: sizes[sizes.length - 1] > extent
            ? "score lost if normal<br>(colours end at ±" + extent.toPrecision(3) +
              ",<br>the 95th percentile)"
            : "score lost if normal",
        },
      },
      hovertemplate: "%{y}<br>%{x}: %{z:.3f}<extra></extra>",
    }],
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      height: Math.max(320, 120 + 18 * rowLabels.length),
      yaxis: { autorange: "reversed", automargin: true },
      xaxis: namedAxis(columns, { tickangle: "auto" }),
    },
  };
}

/** A 2×2 confusion matrix as an annotated heatmap (rows = truth, columns = prediction). */
export function confusionFigure(
  cm: { tp: number; fp: number; tn: number; fn: number },
  title = "Confusion matrix",
): PlotlyFigure {
  return {
    data: [{
      type: "heatmap",
      x: ["normal", "anomaly"],
      y: ["normal", "anomaly"],
      z: [[cm.tn, cm.fp], [cm.fn, cm.tp]],
      text: [[String(cm.tn), String(cm.fp)], [String(cm.fn), String(cm.tp)]],
      texttemplate: "%{text}",
      // plotly's "Blues" runs from dark to light: reversed, the larger count is the darker cell.
      colorscale: "Blues",
      reversescale: true,
      showscale: false,
    }],
    layout: {
      ...BASE_LAYOUT,
      // Room above for the title, clear of the plot's toolbar.
      margin: { ...BASE_LAYOUT.margin, l: 90, t: 80 },
      title: { text: title },
      xaxis: { side: "bottom", title: { text: "predicted" } },
      yaxis: { autorange: "reversed", title: { text: "true" } },
      width: 440,
      height: 400,
    },
  };
}

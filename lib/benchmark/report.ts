/**
 * The benchmark summary as tables (terminal and HTML) and as a self-contained HTML report: the
 * model against the baselines per dataset (AUROC, AUPR, F1 at the true count as mean ± std over
 * seeds, the winner in bold), the mean rows, grouped bars per dataset, train and scoring times,
 * pixel metrics where masks exist and the model's evidence shares.
 *
 * @module
 */
import { formatMeanStd } from "../report/ablation_tables.ts";
import { groupedBarLayout, type PlotlyFigure } from "../report/figures.ts";
import { escapeHtml, htmlReport, type ReportSection } from "../report/html.ts";
import { mvtecAttributionHtml } from "../report/attribution.ts";
import type { TableRow } from "../report/table.ts";
import {
  type BenchmarkSummary,
  type MeanRow,
  type MeanStd,
  type Metric,
  PROJECT,
  PROJECT_JOINT,
  winnersOf,
} from "./summary.ts";
import { PEERS_FILE, SKLEARN_PEERS } from "./peers.ts";
import { counted } from "../util/text.ts";
import { TABLE_BASELINES } from "./baselines.ts";

/** `1h 02m`, `3m 05s`, `12.3 s`, `70 ms`, `0.06 ms` (baselines take milliseconds). */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 0.1) return `${Number(Math.max(0, seconds * 1000).toPrecision(2))} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}h ${pad(m)}m` : `${m}m ${pad(s % 60)}s`;
}

const METRIC_LABEL: Record<Metric, string> = {
  auroc: "AUROC",
  aupr: "AUPR",
  f1_at_true_count: "F1 at the true count",
};

/** The label of a mean row. */
export function meanLabel(row: MeanRow): string {
  return `mean (${row.group === "all" ? "all" : row.group}, ${row.datasets})`;
}

/**
 * Rows of one metric: a row per dataset and mean row, a column per method, then the winner (the
 * highest mean of that metric; tied ones joined by " = "; "-" where fewer than two methods were
 * measured).
 */
export function benchmarkRows(summary: BenchmarkSummary, metric: Metric = "auroc"): TableRow[] {
  const rows: TableRow[] = summary.datasets.map((d) => {
    const row: TableRow = { name: d.name, data: d.modality };
    for (const m of summary.methods) row[m] = formatMeanStd(d.methods[m]?.[metric]);
    row.winner = winnersOf(d.methods, summary.methods, metric).join(" = ") || "-";
    return row;
  });
  for (const mean of summary.means) {
    const row: TableRow = { name: meanLabel(mean), data: mean.group };
    for (const m of summary.methods) row[m] = formatMeanStd(mean.methods[m]?.[metric]);
    row.winner = winnersOf(mean.methods, summary.methods, metric).join(" = ") || "-";
    rows.push(row);
  }
  return rows;
}

/** The methods with measured times (scikit-learn's peers, read from their file, have none). */
function timedMethods(summary: BenchmarkSummary): string[] {
  return summary.methods.filter((m) =>
    summary.datasets.some((d) => (d.methods[m]?.train_seconds.n ?? 0) > 0)
  );
}

/**
 * How often `method` (MADformer with one model per dataset, by default; or the joint model) is
 * at or above the best of `rivals` by mean AUROC, over the datasets that have `method` and any
 * rival; null when none has both. A tie up to rounding counts, as in sklearn_tables.py's count.
 */
export function winsAgainst(
  summary: BenchmarkSummary,
  rivals: readonly string[],
  method: string = PROJECT,
): { wins: number; of: number } | null {
  let wins = 0, of = 0;
  for (const d of summary.datasets) {
    const mine = d.methods[method]?.auroc.mean;
    const best = Math.max(...rivals.map((m) => d.methods[m]?.auroc.mean ?? -Infinity));
    if (mine === undefined || !Number.isFinite(mine) || !Number.isFinite(best)) continue;
    of++;
    if (mine >= best - 1e-9) wins++;
  }
  return of > 0 ? { wins, of } : null;
}

/** {@linkcode winsAgainst} scikit-learn's peers (read from the tables folder's peers file). */
export function peerWins(
  summary: BenchmarkSummary,
  method: string = PROJECT,
): { wins: number; of: number } | null {
  const peers = summary.methods.filter((m) => Object.values(SKLEARN_PEERS).includes(m));
  return winsAgainst(summary, peers, method);
}

/**
 * "MADformer is at or above the best of them on 10 of 17 tables", for each model, against
 * scikit-learn's peers (when the tables folder has their file) and against the three in-project
 * table baselines (when the benchmark has tables).
 */
export function winLines(summary: BenchmarkSummary): { peers: string[]; baselines: string[] } {
  const lines = (of: (m: string) => { wins: number; of: number } | null) =>
    [PROJECT, PROJECT_JOINT].flatMap((m) => {
      const count = of(m);
      return count
        ? [`${m} is at or above the best of them on ${count.wins} of ${count.of} tables`]
        : [];
    });
  return {
    peers: lines((m) => peerWins(summary, m)),
    baselines: lines((m) => winsAgainst(summary, TABLE_BASELINES, m)),
  };
}

/** Train and scoring seconds (mean over seeds) per dataset and method. */
export function timeRows(summary: BenchmarkSummary): TableRow[] {
  return summary.datasets.map((d) => {
    const row: TableRow = { name: d.name };
    for (const m of timedMethods(summary)) {
      const s = d.methods[m];
      row[`${m} train`] = s ? duration(s.train_seconds.mean) : "-";
      row[`${m} score`] = s ? duration(s.score_seconds.mean) : "-";
    }
    return row;
  });
}

const cell = (value: MeanStd | undefined) =>
  value !== undefined && Number.isFinite(value.mean) ? value.mean : null;
const err = (value: MeanStd | undefined) =>
  value !== undefined && Number.isFinite(value.std) ? value.std : null;

/** Grouped bars: a group per dataset (and mean row), a bar per method, ± one std. */
export function comparisonFigure(
  summary: BenchmarkSummary,
  metric: Metric = "auroc",
): PlotlyFigure {
  const groups = [
    ...summary.datasets.map((d) => ({ label: d.name, methods: d.methods })),
    ...summary.means.map((m) => ({ label: meanLabel(m), methods: m.methods })),
  ];
  return {
    data: summary.methods.map((m) => ({
      type: "bar",
      name: m,
      x: groups.map((g) => g.label),
      y: groups.map((g) => cell(g.methods[m]?.[metric])),
      error_y: {
        type: "data",
        array: groups.map((g) => err(g.methods[m]?.[metric])),
        visible: summary.seeds.length > 1,
      },
    })),
    layout: groupedBarLayout(
      `Test ${METRIC_LABEL[metric]} per dataset (${
        summary.seeds.length > 1 ? "mean ± std over seeds" : "one seed"
      })`,
      { title: { text: METRIC_LABEL[metric] }, range: [0, 1.05] },
      groups.map((g) => g.label),
    ),
  };
}

/** plotly's default colours, so a method's two bars share one. */
const METHOD_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** Train (solid) and scoring (hatched) seconds per dataset and method, on a log axis. */
export function timeFigure(summary: BenchmarkSummary): PlotlyFigure {
  const names = summary.datasets.map((d) => d.name);
  const traces = timedMethods(summary).flatMap((m, k) =>
    (["train_seconds", "score_seconds"] as const).map((what) => ({
      type: "bar",
      name: `${m} ${what === "train_seconds" ? "train" : "score"}`,
      x: names,
      y: summary.datasets.map((d) => cell(d.methods[m]?.[what])),
      marker: {
        color: METHOD_COLOURS[k % METHOD_COLOURS.length],
        ...(what === "score_seconds" ? { pattern: { shape: "/" } } : {}),
      },
    }))
  );
  const over = summary.seeds.length > 1 ? "mean over seeds" : "one seed";
  return {
    data: traces,
    layout: groupedBarLayout(
      `Seconds to train and to score per dataset (${over}` +
        `${summary.joint ? "; joint: whole training" : ""})`,
      { title: { text: "seconds" }, type: "log" },
      names,
    ),
  };
}

/** An HTML table of rows, the winner column's method named in bold in its own cell. */
function rowsTable(rows: TableRow[], bold?: (row: TableRow, column: string) => boolean): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const td = (r: TableRow, c: string) => {
    const text = escapeHtml(String(r[c] ?? ""));
    return `<td>${bold?.(r, c) ? `<b>${text}</b>` : text}</td>`;
  };
  return `<table><thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>` +
    `</thead><tbody>${
      rows.map((r) => `<tr>${cols.map((c) => td(r, c)).join("")}</tr>`).join("")
    }</tbody></table>`;
}

/** Pixel AUROC and PRO rows, for the image datasets that have masks. */
function pixelRows(summary: BenchmarkSummary): TableRow[] {
  return summary.datasets.filter((d) => Object.values(d.methods).some((m) => m.pixel_auroc))
    .map((d) => {
      const row: TableRow = { name: d.name };
      for (const m of summary.methods) {
        if (!d.methods[m]?.pixel_auroc) continue;
        row[`${m} pixel AUROC`] = formatMeanStd(d.methods[m].pixel_auroc);
        row[`${m} PRO`] = formatMeanStd(d.methods[m].pro);
      }
      return row;
    });
}

/** The model's evidence components per dataset: share of the score and AUROC alone. */
function componentRows(summary: BenchmarkSummary): TableRow[] {
  return summary.datasets.flatMap((d) =>
    [PROJECT, PROJECT_JOINT].flatMap((m) => {
      const comps = d.methods[m]?.components;
      if (!comps) return [];
      const together = d.methods[m]?.transformer;
      return Object.entries(comps).sort(([, a], [, b]) => b.weight.mean - a.weight.mean)
        .map(([name, c]) => ({
          name: d.name,
          model: m,
          component: name,
          share: formatMeanStd(c.weight),
          "AUROC alone": formatMeanStd(c.auroc),
        })).concat(
          together
            ? [{
              name: d.name,
              model: m,
              component: `the Transformer's evidence (${together.components.join(" + ")})`,
              share: "-",
              "AUROC alone": formatMeanStd(together.auroc),
            }]
            : [],
        );
    })
  );
}

/** Test AUROC by defect type, per image category with several and per method that reports it. */
function defectRows(summary: BenchmarkSummary): TableRow[] {
  return summary.datasets.flatMap((d) =>
    summary.methods.flatMap((m) =>
      Object.entries(d.methods[m]?.defects ?? {}).map(([defect, auroc]) => ({
        name: d.name,
        method: m,
        defect,
        AUROC: formatMeanStd(auroc),
      }))
    )
  );
}

/** A section holding `rows` as a table, or none when there are no rows. */
function tableSection(heading: string, rows: TableRow[], caption: string): ReportSection[] {
  return rows.length > 0 ? [{ heading, html: rowsTable(rows), caption }] : [];
}

/** The whole report as one HTML page (plotly.js embedded). */
export function benchmarkHtml(summary: BenchmarkSummary): string {
  const s = summary.settings;
  const winnerBold = (row: TableRow, column: string) =>
    String(row.winner).split(" = ").includes(column);
  const intro = [
    counted(summary.datasets.length, "dataset"),
    `${summary.seeds.length} seed${summary.seeds.length === 1 ? "" : "s"}`,
    `${counted(s.epochs, "epoch")}${s.quick ? " (--quick)" : ""}`,
    `models: ${
      s.joint === "both"
        ? "one per dataset and one joint"
        : s.joint === "only"
        ? "joint only"
        : "one per dataset"
    }`,
  ].join(", ");
  const { peers: peerCounts, baselines: baselineCounts } = winLines(summary);
  const sources = [s.images ? `images: ${s.images}` : "", s.tables ? `tables: ${s.tables}` : ""]
    .filter(Boolean).join("; ");
  const sections: ReportSection[] = [{
    heading: "Setting",
    html: `<p>${escapeHtml(intro)}. ${escapeHtml(sources)}.</p>` +
      "<p>Tables: the half-normals protocol (train on a random half of the normals, test on the " +
      "rest plus every anomaly; split folders as given); images: train/good vs test. Baselines " +
      "run on the same splits: Isolation Forest (100 trees of 256 rows), kNN (k = 5, mean " +
      "distance) and a one-class SVM (Gaussian kernel, nu 0.05, gamma 'scale', as scikit-learn's) " +
      "on z-scored table rows, raw-patch kNN (8x8 RGB patches, nearest training patch, " +
      "image score the largest) on images. " +
      (summary.seeds.length > 1
        ? "Values are mean ± std over seeds; the winner has the highest mean AUROC. "
        : "Values are of one seed; the winner has the highest AUROC. ") +
      "Mean rows average over datasets per seed, for the methods that cover every dataset of " +
      "the group.</p>" +
      (baselineCounts.length
        ? `<p>Of the three table baselines: ${escapeHtml(baselineCounts.join("; "))}.</p>`
        : "") +
      (peerCounts.length
        ? `<p>scikit-learn's Isolation Forest, kNN (k = 5) and OCSVM (nu 0.05) are read from ` +
          `the tables folder's ${PEERS_FILE} (sklearn_tables.py, on the same split folders). ` +
          `${escapeHtml(peerCounts.join("; "))} (mean AUROC over seeds).</p>`
        : "") +
      (summary.skipped.length
        ? `<p>Skipped: ${
          summary.skipped.map((k) => escapeHtml(`${k.source} (${k.reason})`)).join("; ")
        }</p>`
        : "") +
      // MVTec AD's licence asks for credit wherever results on its images are shown.
      mvtecAttributionHtml(
        summary.datasets.filter((d) => d.modality === "image").map((d) => d.source),
      ),
  }];
  for (const metric of ["auroc", "aupr", "f1_at_true_count"] as const) {
    sections.push({
      heading: `Test ${METRIC_LABEL[metric]}`,
      html: rowsTable(benchmarkRows(summary, metric), winnerBold),
      figure: comparisonFigure(summary, metric),
    });
  }
  const pixel = pixelRows(summary);
  if (pixel.length > 0) sections.push({ heading: "Pixel AUROC and PRO", html: rowsTable(pixel) });
  sections.push({
    heading: "Train and scoring time",
    html: rowsTable(timeRows(summary)) +
      (summary.joint
        ? `<p>The joint model trained ${summary.joint.epochs} epochs on all datasets in ${
          escapeHtml(duration(summary.joint.train_seconds.mean))
        }${
          // One seed has no spread to show: "± 0 ms" would claim one.
          summary.seeds.length > 1
            ? ` per seed (± ${escapeHtml(duration(summary.joint.train_seconds.std))})`
            : ""}.</p>`
        : ""),
    figure: timeFigure(summary),
  });
  sections.push(
    ...tableSection(
      "AUROC by defect type",
      defectRows(summary),
      "Each defect type's test images ranked against the good test images alone.",
    ),
    ...tableSection(
      "Evidence shares",
      componentRows(summary),
      "Each evidence component's share of the model's score and its test AUROC alone. A " +
        "component the calibration gave no share of a dataset's score in a run is still measured " +
        "there for this table (share 0 in that run's mean), though the score leaves it out; the " +
        "trained heads (recon, cls, patch) are read at share 0 for comparison.",
    ),
  );
  return htmlReport({ title: "MADformer benchmark", sections });
}

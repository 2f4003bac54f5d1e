/**
 * How time and peak memory grow with the data (`deno task bench --growth`): synthetic tables of
 * more rows (at 6 features) and of more features (at a fixed row count), and synthetic image
 * folders of more files (MVTec layout), each trained, evaluated and scored by `deno task` child
 * processes whose wall time and peak RSS are measured; then the same figures as a plain-text
 * table, a Markdown table and a plotly figure, each size beside the first of its series.
 *
 * @module
 */
import { join } from "node:path";
import { type ProcessCost, timedProcess } from "./memory.ts";
import { writeScaleTable } from "./table_scale.ts";
import { RUN_FILES } from "../train/run_files.ts";
import { writeSyntheticImages } from "../data/synthetic.ts";
import { MadError } from "../errors.ts";
import type { PlotlyFigure } from "../report/figures.ts";
import { escapeHtml, htmlReport } from "../report/html.ts";
import type { TableRow } from "../report/table.ts";

/** What a series grows: table rows, table features, or image files. */
export type GrowthSeries = "rows" | "features" | "images";

/** One dataset of the growth section. */
export interface GrowthCase {
  series: GrowthSeries;
  /** Table rows, or image files in the folder. */
  size: number;
  /** Table features (tables only). */
  features?: number;
}

/** What the growth section measured for one dataset. */
export interface GrowthRow extends GrowthCase {
  /** A label for tables and plots, e.g. `10,000 x 6` or `1,000 images`. */
  label: string;
  train: ProcessCost;
  evaluate: ProcessCost;
  score: ProcessCost;
  /** Test AUROC from `deno task eval` (null when it did not run). */
  auroc: number | null;
}

/** The sizes the section runs, as the bench's flags give them. */
export interface GrowthSpec {
  /** Table rows at 6 features. */
  rows: number[];
  /** Table features at `featureRows` rows. */
  features: number[];
  featureRows: number;
  /** Image files per synthetic folder. */
  images: number[];
}

/** The defaults: rows 1k/10k/100k, features 6/50/500 at 2,000 rows, images 100/1,000. */
export const DEFAULT_GROWTH: GrowthSpec = {
  rows: [1_000, 10_000, 100_000],
  features: [6, 50, 500],
  featureRows: 2_000,
  images: [100, 1_000],
};

/** Features of the rows series. */
export const ROWS_SERIES_FEATURES = 6;

/**
 * A flag's comma-separated sizes (positive integers), or none for `none` / an empty value.
 *
 * @throws {MadError} naming the flag when a value is not a positive integer.
 */
export function sizeList(flag: string, value: string): number[] {
  const text = value.trim();
  if (text === "" || text === "none") return [];
  const out = text.split(",").map((v) => Number(v.trim()));
  if (out.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new MadError(
      `--${flag} must be comma-separated positive integers or 'none', got '${value}'`,
      2,
    );
  }
  return out;
}

/** Every dataset of the section, series by series, each in its given order. */
export function growthCases(spec: GrowthSpec): GrowthCase[] {
  if (spec.images.some((n) => n < 10)) {
    // A tenth of the folder is test/good and a tenth defects: both need a file.
    throw new MadError(`--growth-images: at least 10 images a folder, got ${spec.images}`, 2);
  }
  return [
    ...spec.rows.map((size) => ({
      series: "rows" as const,
      size,
      features: ROWS_SERIES_FEATURES,
    })),
    ...spec.features.map((features) => ({
      series: "features" as const,
      size: spec.featureRows,
      features,
    })),
    ...spec.images.map((size) => ({ series: "images" as const, size })),
  ];
}

/** The section's datasets and training epochs. */
export interface GrowthPlan {
  cases: GrowthCase[];
  epochs: number;
}

/**
 * The plan from the bench's `--growth-*` flags (their values as given).
 *
 * @throws {MadError} naming the flag when a value is malformed, or when no dataset is left.
 */
export function growthPlan(flags: {
  "growth-rows": string;
  "growth-features": string;
  "growth-feature-rows": string;
  "growth-images": string;
  "growth-epochs": string;
}): GrowthPlan {
  const one = (name: keyof typeof flags) => {
    const list = sizeList(name, flags[name]);
    if (list.length !== 1) {
      throw new MadError(`--${name} must be one positive integer, got '${flags[name]}'`, 2);
    }
    return list[0];
  };
  const cases = growthCases({
    rows: sizeList("growth-rows", flags["growth-rows"]),
    features: sizeList("growth-features", flags["growth-features"]),
    featureRows: one("growth-feature-rows"),
    images: sizeList("growth-images", flags["growth-images"]),
  });
  if (cases.length === 0) {
    throw new MadError("the growth section has no datasets: every series is 'none'", 2);
  }
  return { cases, epochs: one("growth-epochs") };
}

/** How to run the section. */
export interface GrowthOptions {
  /** Where data, checkpoints and the children's decode caches go (their working folder). */
  work: string;
  /** The project's scripts folder (train.ts, eval.ts, score.ts). */
  scripts: string;
  backend: string;
  /** Training epochs of every dataset. */
  epochs: number;
  /** Called with a line of progress. */
  onProgress?: (line: string) => void;
}

/** A case's label: `rows x features` for tables, `N images` for folders. */
export function growthLabel(c: GrowthCase): string {
  return c.series === "images"
    ? `${c.size.toLocaleString("en")} images`
    : `${c.size.toLocaleString("en")} x ${c.features}`;
}

/** Side of the synthetic images: the model's input size, so decoding costs what it would. */
const IMAGE_SIDE = 128;

/**
 * Writes a case's data under `dir`: a CSV for tables, for images a folder in the MVTec layout
 * (`weave/train/good`, `weave/test/good`, `weave/test/<defect>` with masks) of `size` files, 80%
 * of them training normals. Returns what `--table` or `--images` takes.
 */
export async function writeGrowthData(c: GrowthCase, dir: string): Promise<string> {
  if (c.series !== "images") {
    const file = join(dir, `table-${c.size}x${c.features}.csv`);
    await writeScaleTable(file, { rows: c.size, features: c.features! });
    return file;
  }
  const root = join(dir, `images-${c.size}`);
  const test = Math.round(0.1 * c.size);
  await writeSyntheticImages(root, {
    seed: 4,
    size: IMAGE_SIDE,
    categories: ["weave"],
    nTrain: c.size - 2 * test,
    nTestGood: test,
    nTestBad: test,
  });
  return root;
}

/**
 * Trains on one case's data (`deno task train`, `--epochs`), evaluates the checkpoint
 * (`deno task eval`) and scores every sample (`deno task score`: every row of the table, every
 * file of the folder), each a child process in `options.work`, timed from start to end.
 */
export async function benchGrowthCase(c: GrowthCase, options: GrowthOptions): Promise<GrowthRow> {
  const label = growthLabel(c);
  const say = options.onProgress ?? (() => {});
  const tag = c.series === "images" ? `images-${c.size}` : `${c.size}x${c.features}`;
  const run = join(options.work, `run-${tag}`);
  say(`growth ${label}: writing the data ...`);
  const data = await writeGrowthData(c, options.work);
  const dataFlag = c.series === "images" ? "--images" : "--table";
  const deno = (script: string, args: string[]) =>
    timedProcess(Deno.execPath(), [
      "run",
      "-A",
      join(options.scripts, script),
      ...args,
      "--backend",
      options.backend,
    ], { cwd: options.work });
  const skipped: ProcessCost = { seconds: null, peakRssBytes: null, note: "no checkpoint" };
  try {
    say(`growth ${label}: training ...`);
    const train = await deno("train.ts", [
      "--quiet",
      dataFlag,
      data,
      "--out",
      run,
      "--epochs",
      String(options.epochs),
    ]);
    const checkpoint = join(run, RUN_FILES.best);
    let evaluate = skipped;
    let score = skipped;
    let auroc: number | null = null;
    if (train.ok) {
      say(`growth ${label}: evaluating ...`);
      const json = join(run, "eval.json");
      evaluate = await deno("eval.ts", ["--checkpoint", checkpoint, "--json", json]);
      if (evaluate.seconds !== null) {
        const entry = JSON.parse(await Deno.readTextFile(json)).datasets?.[0];
        auroc = typeof entry?.auroc === "number" ? entry.auroc : null;
      }
      say(`growth ${label}: scoring ...`);
      const scoreData = c.series === "images" ? join(data, "weave") : data;
      score = await deno("score.ts", [
        "--checkpoint",
        checkpoint,
        dataFlag,
        scoreData,
        "--json",
        join(run, "scores.json"),
      ]);
    }
    return { ...c, label, train: cost(train), evaluate: cost(evaluate), score: cost(score), auroc };
  } finally {
    await Deno.remove(data, { recursive: true }).catch(() => {});
    await Deno.remove(run, { recursive: true }).catch(() => {});
  }
}

/** A process's cost without its output. */
function cost(p: ProcessCost): ProcessCost {
  return { seconds: p.seconds, peakRssBytes: p.peakRssBytes, ...(p.note ? { note: p.note } : {}) };
}

/** Runs every case, one after the other (they would compete for the cores otherwise). */
export async function benchGrowth(
  cases: GrowthCase[],
  options: GrowthOptions,
): Promise<GrowthRow[]> {
  const out: GrowthRow[] = [];
  for (const c of cases) out.push(await benchGrowthCase(c, options));
  return out;
}

const SERIES_NAMES: Record<GrowthSeries, string> = {
  rows: "table rows (6 features)",
  features: "table features",
  images: "image files",
};

const sec = (c: ProcessCost) => c.seconds === null ? "—" : c.seconds.toFixed(1);
const gb = (c: ProcessCost) =>
  c.peakRssBytes === null ? "—" : (c.peakRssBytes / 1024 ** 3).toFixed(2);

/** The first row of `row`'s series: what its growth is measured against. */
function firstOf(rows: GrowthRow[], row: GrowthRow): GrowthRow {
  return rows.find((r) => r.series === row.series)!;
}

/** `value / base` as `x2.5`, or `—` when either is missing or it is the base itself. */
function times(value: number | null, base: number | null, same: boolean): string {
  if (same) return "1";
  return value === null || base === null || base <= 0 ? "—" : (value / base).toFixed(1);
}

/**
 * The section's rows as a table: per dataset the wall time (s) and peak RSS (GB) of training,
 * evaluation and scoring, the test AUROC, and the growth of training and scoring time and of the
 * largest peak over the first dataset of its series.
 */
export function growthRows(rows: GrowthRow[]): TableRow[] {
  const peak = (r: GrowthRow) => {
    const all = [r.train, r.evaluate, r.score].map((c) => c.peakRssBytes)
      .filter((b): b is number => b !== null);
    return all.length > 0 ? Math.max(...all) : null;
  };
  return rows.map((r) => {
    const base = firstOf(rows, r);
    const same = base === r;
    return {
      name: SERIES_NAMES[r.series],
      size: r.label,
      "train s": sec(r.train),
      "train GB": gb(r.train),
      "eval s": sec(r.evaluate),
      "eval GB": gb(r.evaluate),
      "score s": sec(r.score),
      "score GB": gb(r.score),
      AUROC: r.auroc === null ? "—" : r.auroc.toFixed(3),
      "train x": times(r.train.seconds, base.train.seconds, same),
      "score x": times(r.score.seconds, base.score.seconds, same),
      "peak x": times(peak(r), peak(base), same),
    };
  });
}

/** Why a dataset has no numbers, one line each (none when all ran). */
export function growthNotes(rows: GrowthRow[]): string[] {
  return rows.flatMap((r) =>
    (["train", "evaluate", "score"] as const)
      .filter((k) => r[k].note)
      .map((k) => `${r.label} ${k}: ${r[k].note}`)
  );
}

/** The section as Markdown: a heading line, the table, then any notes. */
export function growthMarkdown(rows: GrowthRow[], epochs: number): string {
  const notes = growthNotes(rows);
  return [
    `Growth with the data (train: ${epochs} epoch${epochs === 1 ? "" : "s"}; every figure a ` +
    "whole `deno task` process, start-up included; GB: peak RSS; x: over the first size of the " +
    "series).",
    "",
    markdown(growthRows(rows)),
    ...(notes.length > 0 ? ["", ...notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
}

/** Rows as a Markdown table, the series first and the figures right-aligned. */
function markdown(rows: TableRow[]): string {
  const columns = Object.keys(rows[0] ?? { name: "" });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(columns.map((c) => (c === "name" ? "series" : c))),
    line(columns.map((_, i) => (i < 2 ? "---" : "---:"))),
    ...rows.map((r) => line(columns.map((c) => String(r[c] ?? "")))),
  ].join("\n");
}

/** What a series' x axis counts. */
const SERIES_AXES: Record<GrowthSeries, string> = {
  rows: "table rows (6 features)",
  features: "table features",
  images: "image files",
};

/**
 * One column per series: wall time (top, log-log: a line as steep as the diagonal grows in
 * proportion to the data) and peak RSS (bottom) against the series' size, a line per task.
 */
export function growthFigure(rows: GrowthRow[]): PlotlyFigure {
  const series = [...new Set(rows.map((r) => r.series))];
  const tasks = [["train", "train"], ["evaluate", "eval"], ["score", "score"]] as const;
  const colour = { train: "#1f77b4", evaluate: "#ff7f0e", score: "#2ca02c" } as const;
  const data: Array<Record<string, unknown>> = [];
  const layout: Record<string, unknown> = {
    template: "plotly_white",
    title: { text: "Time and peak memory as the data grows" },
    grid: { rows: 2, columns: series.length, pattern: "independent" },
    margin: { l: 60, r: 20, t: 60, b: 50 },
    height: 640,
    legend: { orientation: "h", y: -0.12 },
  };
  series.forEach((s, i) => {
    const part = rows.filter((r) => r.series === s);
    const x = part.map((r) => (s === "features" ? r.features! : r.size));
    const top = i + 1;
    const bottom = series.length + i + 1;
    for (const [key, name] of tasks) {
      for (const [axis, value] of [[top, "seconds"], [bottom, "peakRssBytes"]] as const) {
        data.push({
          type: "scatter",
          mode: "lines+markers",
          name,
          legendgroup: key,
          showlegend: i === 0 && axis === top,
          x,
          y: part.map((r) => {
            const v = r[key][value];
            return v === null ? null : value === "seconds" ? v : v / 1024 ** 3;
          }),
          text: part.map((r) => r.label),
          xaxis: `x${axis === 1 ? "" : axis}`,
          yaxis: `y${axis === 1 ? "" : axis}`,
          line: { color: colour[key] },
        });
      }
    }
    const suffix = (n: number) => (n === 1 ? "" : String(n));
    layout[`xaxis${suffix(top)}`] = { type: "log" };
    layout[`yaxis${suffix(top)}`] = {
      type: "log",
      ...(i === 0 ? { title: { text: "wall time (s)" } } : {}),
    };
    layout[`xaxis${suffix(bottom)}`] = { type: "log", title: { text: SERIES_AXES[s] } };
    layout[`yaxis${suffix(bottom)}`] = {
      rangemode: "tozero",
      ...(i === 0 ? { title: { text: "peak RSS (GB)" } } : {}),
    };
  });
  return { data, layout };
}

/** A self-contained HTML page: the figure, the table and the notes. */
export function growthHtml(rows: GrowthRow[], epochs: number, machine: string): string {
  const table = growthRows(rows);
  const columns = Object.keys(table[0] ?? { name: "" });
  const html = `<table><thead><tr>${
    columns.map((c) => `<th>${escapeHtml(c === "name" ? "series" : c)}</th>`).join("")
  }</tr></thead><tbody>${
    table.map((r) =>
      `<tr>${columns.map((c) => `<td>${escapeHtml(String(r[c] ?? ""))}</td>`).join("")}</tr>`
    ).join("")
  }</tbody></table>`;
  const notes = growthNotes(rows);
  return htmlReport({
    title: "MADformer: growth with the data",
    sections: [
      {
        heading: "Time and peak memory",
        figure: growthFigure(rows),
        caption: `Train: ${epochs} epoch(s). ${machine}`,
      },
      {
        heading: "Table",
        html: html +
          (notes.length > 0
            ? `<ul>${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`
            : ""),
      },
    ],
  });
}

/** The section as plain text for the terminal. */
export function growthSummary(rows: GrowthRow[], epochs: number): string {
  return growthMarkdown(rows, epochs).trimEnd();
}

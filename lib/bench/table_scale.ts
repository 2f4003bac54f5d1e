/**
 * Tables at scale (issue 24): a synthetic table of Gaussian features with a share of rows
 * shifted (the anomalies), written as a CSV of numeric features plus a `label` column, the
 * format `deno task train --table` and `deno task score --table` read; and the bench section
 * that trains and scores such tables with this project and, on the same rows in the same run,
 * with scikit-learn's IsolationForest and kNN (`scripts/sklearn_table.py`), for time, peak
 * memory and their ratios (`deno task bench --tables`).
 *
 * @module
 */
import { join } from "node:path";
import { Rng } from "../rng.ts";
import { type ProcessCost, timedProcess as timed } from "./memory.ts";
import { pythonCandidates } from "./torch.ts";
import { readLabelledCsv } from "../data/table.ts";
import { RUN_FILES } from "../train/run_files.ts";
import { auroc } from "../metrics/ranking.ts";

export type { ProcessCost };

/** Shape of a synthetic scale table. */
export interface ScaleTableSpec {
  rows: number;
  features: number;
  /** Share of anomalous rows (label 1), 0.01 by default. */
  anomalyShare?: number;
  /** How far an anomalous row's shifted features move, in standard deviations (3). */
  shift?: number;
  seed?: number;
}

/**
 * Writes the table to `path` in blocks (a 1M x 6 table is about 60 MB of text): every feature
 * standard normal; an anomalous row has two random features shifted by `shift` (either sign).
 * Returns the number of anomalies written.
 */
export async function writeScaleTable(path: string, spec: ScaleTableSpec): Promise<number> {
  const { rows, features } = spec;
  const share = spec.anomalyShare ?? 0.01;
  const shift = spec.shift ?? 3;
  const rng = new Rng(spec.seed ?? 24);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let anomalies = 0;
  try {
    const header = [...Array(features).keys()].map((j) => `f${j}`).join(",") + ",label\n";
    await file.write(encoder.encode(header));
    const values = new Float64Array(features);
    let block: string[] = [];
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < features; j++) values[j] = rng.normal();
      const anomaly = rng.next() < share;
      if (anomaly) {
        anomalies++;
        for (let s = 0; s < Math.min(2, features); s++) {
          values[rng.int(features)] += rng.next() < 0.5 ? -shift : shift;
        }
      }
      block.push(Array.from(values, (v) => v.toFixed(4)).join(",") + (anomaly ? ",1" : ",0"));
      if (block.length === 8192 || i === rows - 1) {
        const bytes = encoder.encode(block.join("\n") + "\n");
        for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
        block = [];
      }
    }
  } finally {
    file.close();
  }
  return anomalies;
}

/** scikit-learn's figures on one table (from `scripts/sklearn_table.py`). */
export interface SklearnResult {
  python: string;
  /** The whole process, reading the CSV included. */
  process: ProcessCost;
  readSeconds: number;
  isolationForest: { seconds: number; trees: number; auroc: number | null };
  knn: { seconds: number; k: number; auroc: number | null };
}

/** One table of the section: what it was, our costs, scikit-learn's, and the ratios. */
export interface TableScaleRow {
  rows: number;
  features: number;
  /** The CSV (generated, or given with --table). */
  file: string;
  train: ProcessCost;
  score: ProcessCost;
  /** AUROC of our scores on every row of the file (train rows included), when labelled. */
  scoreAuroc: number | null;
  sklearn: SklearnResult | null;
  /** Why scikit-learn was not run. */
  sklearnNote?: string;
  /** Our `score` wall time over scikit-learn's kNN fit+score, and over its forest's fit+score. */
  scoreOverKnn: number | null;
  scoreOverIsolationForest: number | null;
}

/** How to run the section. */
export interface TableScaleOptions {
  /** Where generated tables, checkpoints and scores go. */
  work: string;
  /** The project's scripts folder (train.ts, score.ts, sklearn_table.py). */
  scripts: string;
  backend: string;
  /** `--epochs` for training (the config's default when left out). */
  epochs?: number;
  /** `--config FILE` for training (e.g. a smaller `tableBatchSize` for hundreds of features). */
  config?: string;
  /** Called with a line of progress. */
  onProgress?: (line: string) => void;
}

/** First interpreter that can `import sklearn`, or null. */
export async function findSklearnPython(): Promise<string | null> {
  for (const python of pythonCandidates()) {
    try {
      const o = await new Deno.Command(python, {
        args: ["-c", "import sklearn"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (o.success) return python;
    } catch {
      // not installed
    }
  }
  return null;
}

/**
 * Trains on a table file and scores every row of it with this project (`deno task train`, then
 * `deno task score`, each a child process timed from start to end, start-up included), then
 * runs scikit-learn on the same file when a Python with it is found.
 */
export async function benchTableFile(
  file: string,
  spec: { rows: number; features: number },
  options: TableScaleOptions,
  python: string | null,
): Promise<TableScaleRow> {
  const tag = `${spec.rows}x${spec.features}`;
  const out = join(options.work, `run-${tag}`);
  const say = options.onProgress ?? (() => {});
  const deno = Deno.execPath();
  say(`tables ${tag}: training ...`);
  const train = await timed(deno, [
    "run",
    "-A",
    join(options.scripts, "train.ts"),
    "--quiet",
    "--table",
    file,
    "--out",
    out,
    "--backend",
    options.backend,
    ...(options.epochs ? ["--epochs", String(options.epochs)] : []),
    ...(options.config ? ["--config", options.config] : []),
  ]);
  let score: ProcessCost = { seconds: null, peakRssBytes: null, note: "no checkpoint" };
  let scoreAuroc: number | null = null;
  if (train.ok) {
    say(`tables ${tag}: scoring ...`);
    const json = join(out, "scores.json");
    const scored = await timed(deno, [
      "run",
      "-A",
      join(options.scripts, "score.ts"),
      "--checkpoint",
      join(out, RUN_FILES.best),
      "--table",
      file,
      "--json",
      json,
      "--backend",
      options.backend,
    ]);
    score = { seconds: scored.seconds, peakRssBytes: scored.peakRssBytes, note: scored.note };
    if (scored.ok) scoreAuroc = fileAuroc(file, json);
  }
  let sklearn: SklearnResult | null = null;
  let sklearnNote: string | undefined;
  if (python) {
    say(`tables ${tag}: scikit-learn ...`);
    const run = await timed(python, [join(options.scripts, "sklearn_table.py"), file]);
    if (run.ok) {
      const parsed = JSON.parse(run.stdout.trim().split("\n").pop()!);
      sklearn = {
        python,
        process: { seconds: run.seconds, peakRssBytes: run.peakRssBytes },
        readSeconds: parsed.readSeconds,
        isolationForest: parsed.isolationForest,
        knn: parsed.knn,
      };
    } else sklearnNote = run.note;
  } else {
    sklearnNote = `no Python with scikit-learn found (tried ${pythonCandidates().join(", ")}; ` +
      "install python3-sklearn or set MADFORMER_PYTHON)";
  }
  const ratio = (ours: number | null, theirs: number | undefined) =>
    ours !== null && theirs ? ours / theirs : null;
  return {
    rows: spec.rows,
    features: spec.features,
    file,
    train: { seconds: train.seconds, peakRssBytes: train.peakRssBytes, note: train.note },
    score,
    scoreAuroc,
    sklearn,
    sklearnNote,
    scoreOverKnn: ratio(score.seconds, sklearn?.knn.seconds),
    scoreOverIsolationForest: ratio(score.seconds, sklearn?.isolationForest.seconds),
  };
}

/** AUROC of `score --json` output against the file's labels, or null without both classes. */
function fileAuroc(csv: string, json: string): number | null {
  const labels = readLabelledCsv(csv, { requireLabel: false }).labels;
  if (!labels || labels.every((l) => l === labels[0])) return null;
  const scored = JSON.parse(Deno.readTextFileSync(json)) as { score: number }[];
  return auroc(Float32Array.from(scored, (s) => s.score), labels);
}

/** Generates each table (rows x features) under `options.work` and benches it. */
export async function benchTableScale(
  cases: { rows: number; features: number }[],
  options: TableScaleOptions,
): Promise<TableScaleRow[]> {
  const python = await findSklearnPython();
  const out: TableScaleRow[] = [];
  for (const spec of cases) {
    const file = join(options.work, `table-${spec.rows}x${spec.features}.csv`);
    await writeScaleTable(file, spec);
    out.push(await benchTableFile(file, spec, options, python));
    await Deno.remove(file).catch(() => {});
  }
  return out;
}

const num = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
const gbOf = (bytes: number | null | undefined) =>
  bytes ? `${(bytes / 1024 ** 3).toFixed(2)}` : "—";

/** The section as a plain-text table, one line per table. */
export function tableScaleSummary(rows: TableScaleRow[]): string {
  const header = [
    "rows",
    "feat",
    "train s",
    "train GB",
    "score s",
    "score GB",
    "AUROC",
    "skl IF s",
    "skl kNN s",
    "skl proc s",
    "skl GB",
    "score/kNN",
    "score/IF",
  ];
  const body = rows.map((r) => [
    r.rows.toLocaleString("en"),
    String(r.features),
    num(r.train.seconds),
    gbOf(r.train.peakRssBytes),
    num(r.score.seconds),
    gbOf(r.score.peakRssBytes),
    num(r.scoreAuroc, 3),
    num(r.sklearn?.isolationForest.seconds, 2),
    num(r.sklearn?.knn.seconds, 2),
    num(r.sklearn?.process.seconds, 1),
    gbOf(r.sklearn?.process.peakRssBytes),
    num(r.scoreOverKnn, 2),
    num(r.scoreOverIsolationForest, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  const notes = rows.flatMap((r) => [
    ...(r.train.note ? [`  ${r.rows}x${r.features} train: ${r.train.note}`] : []),
    ...(r.score.note ? [`  ${r.rows}x${r.features} score: ${r.score.note}`] : []),
    ...(r.sklearnNote ? [`  ${r.rows}x${r.features} scikit-learn: ${r.sklearnNote}`] : []),
  ]);
  return [
    "tables at scale (train and score: whole `deno task` processes, start-up and CSV reading " +
    "included; scikit-learn: fit + score of all rows, reading excluded, and its whole process; " +
    "GB: peak RSS):",
    "  " + line(header),
    ...body.map((b) => "  " + line(b)),
    ...notes,
  ].join("\n");
}

if (import.meta.main) {
  const [out, rows, features] = Deno.args;
  if (!out) {
    console.error("usage: deno run -A lib/bench/table_scale.ts OUT.csv [ROWS=100000] [FEATURES=6]");
    Deno.exit(2);
  }
  const n = await writeScaleTable(out, {
    rows: Number(rows ?? 100_000),
    features: Number(features ?? 6),
  });
  console.error(`wrote ${out}: ${rows ?? 100_000} rows, ${n} anomalies`);
}

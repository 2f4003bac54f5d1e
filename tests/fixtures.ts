/**
 * Fixtures shared by the tests: checks of one-line errors, a tiny in-memory checkpoint,
 * hand-made PNG bytes, and running the command-line scripts as subprocesses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MadError } from "../lib/errors.ts";
import type { Checkpoint } from "../lib/train/checkpoint.ts";
import { type Config, DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { initAdam } from "../lib/train/optimizer.ts";
import { initParams } from "../lib/model/madformer.ts";
import {
  demoConfig,
  type Experiment,
  type ExperimentData,
  tinyConfig,
  writeTinyData,
} from "../lib/experiment/setup.ts";
import { train } from "../lib/train/loop.ts";
import { Rng } from "../lib/rng.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import type { EvaluationEntry } from "../lib/experiment/results.ts";

// ---------------------------------------------------------------------------------------------
// Files

/** Whether `path` exists (follows links). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The shared thyroid data sets (odds/, uci/, course/), when this machine has them. */
export const SHARED_THYROID = new URL("../../shared/datasets/thyroid/", import.meta.url);

/** Whether SHARED_THYROID holds odds/thyroid.csv; tests of the real data are skipped otherwise. */
export const hasSharedThyroid = (() => {
  try {
    Deno.statSync(new URL("odds/thyroid.csv", SHARED_THYROID));
    return true;
  } catch {
    return false;
  }
})();

/** The bytes of `parts`, one after the other. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One-line errors

/** Asserts `e` is a one-line MadError containing every one of `parts`; returns its message. */
export function checkMadError(e: unknown, parts: string[]): string {
  assert.ok(e instanceof MadError, `expected MadError, got ${e}`);
  assert.ok(!e.message.includes("\n"), `multi-line: ${e.message}`);
  for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
  return e.message;
}

/** Asserts `fn` throws a one-line MadError containing every one of `parts`; returns its message. */
export function madError(fn: () => unknown, ...parts: string[]): string {
  try {
    fn();
  } catch (e) {
    return checkMadError(e, parts);
  }
  assert.fail(`expected a MadError with ${parts.join(", ")}`);
}

/** {@linkcode madError} for a message that must also be one line. */
export function oneLineError(fn: () => unknown, ...parts: string[]): string {
  const message = madError(fn, ...parts);
  assert.ok(!message.includes("\n"), `not one line: ${message}`);
  return message;
}

/** Rows of a smooth 4-feature table: `normals` of them, then 6 anomalies far off. */
export function smoothTableRows(normals: number): { rows: number[][]; labels: number[] } {
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < normals; i++) {
    rows.push([Math.sin(i * 1.7), Math.cos(i * 0.9), Math.sin(i * 0.37) * 2, (i % 7) / 3]);
    labels.push(0);
  }
  for (let i = 0; i < 6; i++) {
    rows.push([4 + i, -3 - i, 5, 4]);
    labels.push(1);
  }
  return { rows, labels };
}

/** CSV text of `rows` under `columns`, with a `label` column when labels are given. */
export function csvText(
  columns: string[],
  rows: number[][],
  labels?: (number | string)[],
): string {
  const head = labels ? [...columns, "label"] : columns;
  const lines = rows.map((r, i) => (labels ? [...r, labels[i]] : r).join(","));
  return [head.join(","), ...lines].join("\n") + "\n";
}

/** {@linkcode madError} for a function that returns a promise. */
export async function madErrorAsync(
  fn: () => Promise<unknown>,
  ...parts: string[]
): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return checkMadError(e, parts);
  }
  assert.fail(`expected a MadError with ${parts.join(", ")}`);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** A small model for tests that train or score real features: 32 px images, one layer. */
export const SMALL_MODEL = {
  imageSize: 32,
  stem: [2, 2, 2],
  stemChannels: [8, 16],
  width: 16,
  layers: 1,
  heads: 2,
};

/** Config overrides of the tiny model that `tinyCheckpoint` uses by default. */
export const TINY = {
  model: { imageSize: 8, stem: [2, 2, 2], stemChannels: [4, 4], width: 4, heads: 1, layers: 1 },
  train: { epochs: 1 },
};

/** Options of `tinyCheckpoint`. */
export interface TinyCheckpointOptions {
  /** The checkpoint's config; `TINY` merged over the defaults when left out. */
  config?: Config;
  /** Whether to include Adam moments (else `adam: null`); default true. */
  adam?: boolean;
  /** Standard deviations of the table's three columns; default [1, 2, 3]. */
  std?: number[];
  /** Whether the image stats carry `cls` moments besides `recon`; default false. */
  cls?: boolean;
}

/** A small valid checkpoint with one image and one table dataset, for encode/decode tests. */
export function tinyCheckpoint(options: TinyCheckpointOptions = {}): Checkpoint {
  const {
    config = mergeConfig(DEFAULT_CONFIG, TINY),
    adam = true,
    std = [1, 2, 3],
    cls = false,
  } = options;
  const tables = [{ name: "t", features: 3 }];
  const params = initParams(config.model, tables, 0);
  const split = { protocol: "half-normals" as const, seed: 0, valShare: 0.1 };
  const moments = { mean: 0.5, std: 0.25 };
  const w = config.model.width;
  return {
    config,
    tables,
    datasets: [
      { name: "cat", modality: "image", source: "/data/images", split },
      {
        name: "t",
        modality: "table",
        source: "/data/t.csv",
        split,
        columns: ["a", "b", "c"],
        normalisation: { kind: "standard", mean: [0, 1, 2], std },
      },
    ],
    params,
    adam: adam ? initAdam(params) : null,
    banks: new Map([
      ["image:cat|knn2", { dim: 2 * w, rows: 2, transposed: new Float32Array(4 * w).fill(0.1) }],
      ["table:t|knn", { dim: 3, rows: 3, transposed: new Float32Array(9).fill(0.2) }],
    ]),
    stats: {
      "image:cat": {
        sample: cls ? { recon: moments, cls: moments } : { recon: moments },
        tokens: { recon: moments },
        threshold: 1,
      },
      "table:t": { sample: { recon: moments }, tokens: {}, threshold: 0.5 },
    },
    progress: { epoch: 1, step: 3, rngState: 12345, bestMetric: 0.75, bestEpoch: 1 },
  };
}

// ---------------------------------------------------------------------------------------------
// PNG bytes

/** The CRC-32 that PNG chunks carry. */
export function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** One PNG chunk: length, type, data and CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A tiny PNG whose header claims `width`×`height` 8-bit gray pixels (a decompression bomb). */
export function bombPng(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grayscale
  return concat(
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    pngChunk("IEND", new Uint8Array()),
  );
}

// ---------------------------------------------------------------------------------------------
// Scripts as subprocesses

/** The project's root folder. */
export const ROOT = new URL("..", import.meta.url).pathname;

/** The `deno` arguments that run `scripts/<script>` with `args`. */
export function scriptArgs(script: string, args: string[]): string[] {
  return ["run", "-A", join(ROOT, "scripts", script), ...args];
}

/** Runs `scripts/<script>` to the end (in ROOT, output piped unless `options` say otherwise). */
export async function runScript(
  script: string,
  args: string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const opts: Deno.CommandOptions = { cwd: ROOT, stdout: "piped", stderr: "piped", ...options };
  const out = await new Deno.Command(Deno.execPath(), { ...opts, args: scriptArgs(script, args) })
    .output();
  const text = (s: "stdout" | "stderr") =>
    opts[s] === "piped" ? new TextDecoder().decode(out[s]) : "";
  return { code: out.code, stdout: text("stdout"), stderr: text("stderr") };
}

/** Runs `fn` in a fresh temporary folder (named with `prefix`), removed afterwards whatever happens. */
export async function inTempDir(
  fn: (dir: string) => Promise<void>,
  prefix = "madformer_test_",
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs a script as a user would, in `cwd` (its image cache and default folders land there),
 * without stdin or colours and without `MADFORMER_DEBUG`'s stack traces: exit code and stderr.
 */
export async function runCli(
  script: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stderr: string }> {
  const r = await runScript(script, args, {
    cwd,
    stdin: "null",
    env: { NO_COLOR: "1", MADFORMER_DEBUG: "" },
  });
  return { code: r.code, stderr: r.stderr };
}

/** The one `error:` line of a failed command's stderr, asserted to be its only and last. */
export function errorLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
  const errors = lines.filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, stderr);
  assert.equal(lines.at(-1), errors[0], stderr);
  return errors[0];
}

/**
 * Writes the tiny data and a tiny config of `epochs` epochs under `dir`; returns the data, the
 * run folder `dir/run` and the train.ts flags that train on them into it.
 */
export async function tinyTrainRun(
  dir: string,
  epochs: number,
): Promise<{ data: ExperimentData; out: string; args: string[] }> {
  const data = await writeTinyData(join(dir, "data"));
  const configPath = join(dir, "config.json");
  await Deno.writeTextFile(configPath, JSON.stringify(tinyConfig({ train: { epochs } })));
  const out = join(dir, "run");
  const args = [
    "--images",
    data.imageDirs[0],
    "--table",
    data.tablePaths[0],
    "--config",
    configPath,
    "--out",
    out,
  ];
  return { data, out, args };
}

/** A Gaussian blob of `n` rows in `d` dimensions (row-major, standard normal values), from `seed`. */
export function gaussianRows(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/**
 * An evaluation entry whose AUROC, AUPR and F1 at the true count are all `auroc` (10 samples, 5
 * anomalies; the thresholded metrics 0), for summaries built from made-up runs.
 */
export function evaluationEntry(
  name: string,
  modality: "image" | "table",
  auroc: number,
  components: EvaluationEntry["components"] = {},
): EvaluationEntry {
  return {
    name,
    modality,
    n: 10,
    anomalies: 5,
    auroc,
    aupr: auroc,
    precision: 0,
    recall: 0,
    f1: 0,
    accuracy: 0,
    false_alarm_rate: 0,
    threshold: 0,
    f1_at_true_count: auroc,
    components,
  };
}

/** The smallest table model (width 8, one block): `epochs` epochs of `steps` table steps. */
export function tinyTableConfig(epochs: number, steps: number): Config {
  return demoConfig({
    model: { width: 8, layers: 1, heads: 1 },
    train: { epochs, tableStepsPerEpoch: steps },
  });
}

/**
 * A table-only setup of {@linkcode tinyTableConfig} (`epochs` epochs of two table steps, seconds
 * to train) on a synthetic table of 200 rows and 4 features written to `dir/t.csv`.
 */
export async function tinyTableSetup(dir: string, epochs: number): Promise<Experiment> {
  const table = join(dir, "t.csv");
  await writeSyntheticTableCsv(table, { seed: 1, n: 200, d: 4 });
  return { full: false, config: tinyTableConfig(epochs, 2), imageDirs: [], tablePaths: [table] };
}

/**
 * Trains the smallest table model (width 8, one block, one epoch of two table steps) on one
 * table into `out`, quietly; returns the best checkpoint's path.
 */
export async function trainTinyTable(table: string, out: string): Promise<string> {
  const run = await train({
    config: tinyTableConfig(1, 2),
    imageDirs: [],
    tablePaths: [table],
    out,
    quiet: true,
  });
  return run.best;
}

/** Mean distance of each query row to its k nearest bank rows (both row-major), by brute force. */
export function bruteForceKnn(
  bank: ArrayLike<number>,
  queries: ArrayLike<number>,
  dim: number,
  k: number,
): Float64Array {
  const rows = bank.length / dim;
  return Float64Array.from({ length: queries.length / dim }, (_, i) => {
    const d = Array.from({ length: rows }, (_, r) => {
      let sq = 0;
      for (let c = 0; c < dim; c++) sq += (queries[i * dim + c] - bank[r * dim + c]) ** 2;
      return Math.sqrt(sq);
    }).sort((x, y) => x - y);
    return d.slice(0, k).reduce((s, v) => s + v, 0) / Math.min(k, rows);
  });
}

/** Asserts each distance is the brute-force one to within float32's rounding (1e-6, relative). */
export function assertNearDistances(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 1e-6 * (1 + expected[i]),
      `${what}, query ${i}: ${actual[i]} against ${expected[i]}`,
    );
  }
}

/**
 * Table batches are sized by a memory budget (not a fixed 512 rows to score, which exhausted
 * wasm memory from 27 features on, nor a whole step of 128 rows to train, which aborted at 500),
 * and backend crashes become one-line errors.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { MadError } from "../lib/errors.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import {
  DEFAULT_TABLE_BATCH_MB,
  MAX_TABLE_BATCH_ROWS,
  MIN_TABLE_FIT_ROWS,
  TABLE_BATCH_MB_ENV,
  tableBatchMegabytes,
  tableBatchRows,
  tableFitRows,
  tableRowBytes,
  tableTrainRows,
  TRAIN_STEP_PASSES,
} from "../lib/model/table_batch.ts";
import {
  backendFailure,
  errorFromMessage,
  isBackendFailure,
} from "../lib/model/backend_failure.ts";
import { microBatchNote } from "../lib/train/step.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { wasmMemory } from "../lib/backend/wasm_memory.ts";
import { tableEvidence } from "../lib/model/detector.ts";
import { initParams } from "../lib/model/madformer.ts";
import { Rng } from "../lib/rng.ts";

const MODEL = DEFAULT_CONFIG.model;
/** The evaluation's heads-only config: reconstruction (3 masked passes) and sigmoid passes. */
const HEADS = {
  ...MODEL,
  tableHeadEvidence: true,
  knnHead: false,
  densityHead: false,
  isolationHead: false,
};

Deno.test("table batch: wasm memory stays within the budget at 36 features, same scores", async () => {
  await useBackend("wasm");
  const d = 36;
  const n = 120;
  const params = initParams(HEADS, [{ name: "t", features: d }], 1);
  const rng = new Rng(5);
  const rows = new Float32Array(n * d).map(() => rng.normal());
  const memory = () => wasmMemory(tf.backend() as never)?.buffer.byteLength ?? 0;
  /** The evidence with a table batch budget of `mb` megabytes. */
  const evidenceWithin = (mb: string) => {
    Deno.env.set(TABLE_BATCH_MB_ENV, mb);
    try {
      return tableEvidence(params, HEADS, "t", rows, d);
    } finally {
      Deno.env.delete(TABLE_BATCH_MB_ENV);
    }
  };
  const before = memory();
  const small = evidenceWithin("48");
  const grown = (memory() - before) / 2 ** 20;
  // 120 rows in one batch would take about 1.3 GB; the 48 MB budget gives 3 rows a batch.
  assert.ok(grown < 96, `wasm memory grew by ${grown.toFixed(0)} MB`);
  // Batches of another size give the same scores.
  const whole = evidenceWithin("160");
  for (const key of ["recon", "cls"] as const) {
    const a = small.sample[key]!;
    const b = whole.sample[key]!;
    assert.equal(a.length, n);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * (1 + Math.abs(b[i])));
  }
  for (const [, p] of params) p.dispose();
});

Deno.test("table batch: rows fit the budget, fewer as features grow, within [1, 512]", () => {
  let previous = Infinity;
  for (const d of [2, 6, 12, 27, 36, 64, 400]) {
    const rows = tableBatchRows(MODEL, d, 4, DEFAULT_TABLE_BATCH_MB);
    assert.ok(rows >= 1 && rows <= MAX_TABLE_BATCH_ROWS, `${d}: ${rows}`);
    assert.ok(rows <= previous, `${d}: ${rows} > ${previous}`);
    if (rows > 1) assert.ok(rows * tableRowBytes(MODEL, d, 4) <= DEFAULT_TABLE_BATCH_MB * 2 ** 20);
    previous = rows;
  }
  // ODDS thyroid keeps a batch of a few hundred rows; 36 features get well under 512.
  assert.ok(tableBatchRows(MODEL, 6, 4, DEFAULT_TABLE_BATCH_MB) >= 200);
  assert.ok(tableBatchRows(MODEL, 36, 4, DEFAULT_TABLE_BATCH_MB) < 64);
  // Features only (no encoder pass) are charged one pass; a tiny budget still gives a row.
  assert.equal(tableBatchRows(MODEL, 6, 0, 1), tableBatchRows(MODEL, 6, 1, 1));
  assert.equal(tableBatchRows(MODEL, 400, 4, 1), 1);
  assert.equal(tableBatchRows(MODEL, 2, 1, 1e6), MAX_TABLE_BATCH_ROWS);
});

Deno.test("table batch: the budget comes from MADFORMER_TABLE_BATCH_MB", () => {
  const env = (value: string | undefined) => () => value;
  assert.equal(tableBatchMegabytes(env(undefined)), DEFAULT_TABLE_BATCH_MB);
  assert.equal(tableBatchMegabytes(env(" ")), DEFAULT_TABLE_BATCH_MB);
  assert.equal(tableBatchMegabytes(env("128")), 128);
  assert.equal(tableBatchMegabytes(env("0.5")), 0.5);
  for (const bad of ["0", "-4", "lots", "Infinity"]) {
    assert.throws(() => tableBatchMegabytes(env(bad)), (e: unknown) => {
      assert.ok(e instanceof MadError);
      assert.ok(e.message.includes(`${TABLE_BATCH_MB_ENV}=${bad}`), e.message);
      return true;
    });
  }
});

Deno.test("backend failures become one-line errors naming the data and what to change", () => {
  const aborted = new WebAssembly.RuntimeError("Aborted(). Build with -sASSERTIONS for more info.");
  const oob = new WebAssembly.RuntimeError("memory access out of bounds");
  for (const e of [aborted, oob, new RangeError("Array buffer allocation failed")]) {
    assert.ok(isBackendFailure(e));
    const out = backendFailure(
      e,
      "/x/12_fault.npz: scoring table 12_fault (1307 rows x 27 features)",
    );
    assert.ok(out instanceof MadError);
    assert.ok(!out.message.includes("\n"));
    for (
      const part of ["12_fault.npz", "1307 rows x 27 features", TABLE_BATCH_MB_ENV, "--backend cpu"]
    ) {
      assert.ok(out.message.includes(part), `"${out.message}" lacks "${part}"`);
    }
  }
  const mine = new MadError("x.csv: bad");
  const bug = new TypeError("undefined is not a function");
  assert.equal(backendFailure(mine, "t"), mine);
  assert.equal(backendFailure(bug, "t"), bug);
  assert.ok(!isBackendFailure(bug));
});

Deno.test("training micro-batches: rows fit the budget, fewer as tokens grow, at least 1", () => {
  // One token a feature: fewer rows as features grow.
  const ungrouped = { ...MODEL, tableMaxTokens: 0 };
  let previous = Infinity;
  for (const d of [2, 6, 12, 27, 50, 100, 500, 5000]) {
    const rows = tableTrainRows(ungrouped, d, DEFAULT_TABLE_BATCH_MB);
    assert.ok(rows >= 1 && rows <= previous, `${d}: ${rows} after ${previous}`);
    if (rows > 1) {
      const bytes = rows * tableRowBytes(ungrouped, d, TRAIN_STEP_PASSES);
      assert.ok(bytes <= DEFAULT_TABLE_BATCH_MB * 2 ** 20, `${d}: ${rows} rows`);
    }
    previous = rows;
  }
  // ODDS thyroid: a whole step of 128 rows in one pass, as before. 500 features: one row.
  assert.ok(
    tableTrainRows(MODEL, 6, DEFAULT_TABLE_BATCH_MB) >= DEFAULT_CONFIG.train.tableBatchSize,
  );
  assert.equal(tableTrainRows(ungrouped, 500, DEFAULT_TABLE_BATCH_MB), 1);
  assert.equal(tableTrainRows(ungrouped, 500, 4 * DEFAULT_TABLE_BATCH_MB), 6);
  assert.equal(tableTrainRows(MODEL, 6, 0.001), 1);
  // The default's 64 tokens at most: up to 64 features as before, 500 features in 63 tokens.
  for (const d of [6, 27, 64]) {
    assert.equal(tableTrainRows(MODEL, d), tableTrainRows(ungrouped, d), `${d}`);
  }
  assert.equal(tableTrainRows(MODEL, 500, DEFAULT_TABLE_BATCH_MB), 19);
  assert.ok(tableTrainRows(MODEL, 5000, DEFAULT_TABLE_BATCH_MB) >= 1);
});

Deno.test("training micro-batches: a log line when a step's shard does not fit, else none", () => {
  const config = DEFAULT_CONFIG;
  assert.equal(microBatchNote(config, "thyroid", 6, 2, DEFAULT_TABLE_BATCH_MB), null);
  assert.equal(microBatchNote(config, "thyroid", 6, 1, DEFAULT_TABLE_BATCH_MB), null);
  const ungrouped = { ...config, model: { ...config.model, tableMaxTokens: 0 } };
  const wide = microBatchNote(ungrouped, "wide", 500, 2, DEFAULT_TABLE_BATCH_MB)!;
  for (
    const part of ["table wide", "500 features", "128 rows", "at most 1 row ", TABLE_BATCH_MB_ENV]
  ) {
    assert.ok(wide.includes(part), `"${wide}" lacks "${part}"`);
  }
  // In the default's 63 tokens, 19 rows of 500 features fit.
  assert.match(microBatchNote(config, "t", 500, 2, DEFAULT_TABLE_BATCH_MB)!, /at most 19 rows/);
  // 50 features: 28 rows fit, a shard of 64 does not.
  assert.match(microBatchNote(config, "t", 50, 2, DEFAULT_TABLE_BATCH_MB)!, /at most 28 rows/);
  assert.equal(microBatchNote(config, "t", 50, 8, DEFAULT_TABLE_BATCH_MB), null);
});

Deno.test("table fitting: rows whose token features fit the budget, at least a floor", () => {
  const full = 2 ** 20 * DEFAULT_TABLE_BATCH_MB / (4 * MODEL.width);
  assert.equal(tableFitRows(MODEL, 500, DEFAULT_TABLE_BATCH_MB), Math.floor(full / 500));
  assert.ok(tableFitRows(MODEL, 6, DEFAULT_TABLE_BATCH_MB) > 20_000); // thyroid: all 20,000
  assert.ok(tableFitRows(MODEL, 50, DEFAULT_TABLE_BATCH_MB) > 20_000);
  assert.equal(tableFitRows(MODEL, 100_000, DEFAULT_TABLE_BATCH_MB), MIN_TABLE_FIT_ROWS);
});

Deno.test("backend failures: advice for tables, images or both; workers' messages kept", () => {
  const oom = new WebAssembly.RuntimeError("table index is out of bounds");
  const table = (backendFailure(oom, "t.csv: a training step on table t") as Error).message;
  assert.ok(table.includes(TABLE_BATCH_MB_ENV) && !table.includes("--batch-size"), table);
  const images = (backendFailure(oom, "cat: evaluating", "images") as Error).message;
  assert.ok(images.includes("--batch-size") && !images.includes(TABLE_BATCH_MB_ENV), images);
  const both = (backendFailure(oom, "training on a, b", "any") as Error).message;
  assert.ok(both.includes("--batch-size") && both.includes(TABLE_BATCH_MB_ENV), both);
  // A worker's out-of-memory message stays recognisable; its other errors stay one-liners.
  const worker = errorFromMessage("gradient worker: memory access out of bounds");
  assert.ok(isBackendFailure(worker) && !(worker instanceof MadError));
  assert.ok(backendFailure(worker, "x.csv: a step") instanceof MadError);
  const other = errorFromMessage("gradient worker: no such table");
  assert.ok(other instanceof MadError && !isBackendFailure(other));
});

/**
 * Table scoring batches are sized by a memory budget (not a fixed 512 rows, which exhausted
 * wasm memory from 27 features on), and backend crashes become one-line errors.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { MadError } from "../lib/errors.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import {
  DEFAULT_TABLE_BATCH_MB,
  MAX_TABLE_BATCH_ROWS,
  TABLE_BATCH_MB_ENV,
  tableBatchMegabytes,
  tableBatchRows,
  tableRowBytes,
} from "../lib/model/table_batch.ts";
import { backendFailure, isBackendFailure } from "../lib/model/backend_failure.ts";
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

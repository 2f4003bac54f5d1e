/**
 * Table rows explained by their features (`lib/model/explain.ts`, `lib/experiment/explain_table.ts`):
 * occlusion by the nearest normal row's value, contributions, and the check against known
 * altered features.
 */
import assert from "node:assert/strict";
import {
  attributionCheck,
  featureContributions,
  largestContributions,
  normalRowsBank,
  normalRowsOf,
  occludedRows,
} from "../lib/model/explain.ts";
import { alteredRows } from "../lib/experiment/explain_table.ts";
import type { MemoryBank } from "../lib/model/knn.ts";
import { MadError } from "../lib/errors.ts";

/** A plain bank of normal rows [rows, d], stored transposed. */
function bankOf(rows: number[][]): MemoryBank {
  const d = rows[0].length;
  const transposed = new Float32Array(d * rows.length);
  rows.forEach((r, i) => r.forEach((v, j) => transposed[j * rows.length + i] = v));
  return { dim: d, rows: rows.length, transposed };
}

const NORMALS = bankOf([[0, 0], [1, 1], [5, 0]]);
const sumOfSquares = (rows: Float32Array) => {
  const out = new Float32Array(rows.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = rows[2 * i] ** 2 + rows[2 * i + 1] ** 2;
  return out;
};

Deno.test("occludedRows: each feature takes the value of the normal row nearest on the others", () => {
  // Row (5, 1): on feature 1 alone the nearest normal is (1, 1), on feature 0 alone (5, 0).
  const out = occludedRows(Float32Array.of(5, 1, 0, 0), 2, NORMALS);
  assert.deepEqual(Array.from(out), [1, 1, 5, 0, 0, 0, 0, 0]);
  assert.throws(() => occludedRows(Float32Array.of(1, 2, 3), 3, NORMALS), MadError);
});

Deno.test("featureContributions: the score lost when one feature is made normal", () => {
  const c = featureContributions(Float32Array.of(5, 1), 2, NORMALS, sumOfSquares);
  assert.deepEqual(Array.from(c), [24, 1]); // 26 - 2, 26 - 25
  // Many rows go in chunks with progress; the same values as one at a time.
  const n = 9000;
  const rows = Float32Array.from({ length: 2 * n }, (_, i) => (i * 7919) % 13 - 6);
  const seen: number[] = [];
  const all = featureContributions(rows, 2, NORMALS, sumOfSquares, (done) => seen.push(done));
  assert.ok(
    seen.length > 1 && seen.at(-1) === n && seen.every((v, i) => i === 0 || v > seen[i - 1]),
  );
  for (const i of [0, 4321, n - 1]) {
    const one = featureContributions(rows.subarray(2 * i, 2 * i + 2), 2, NORMALS, sumOfSquares);
    assert.deepEqual(Array.from(all.subarray(2 * i, 2 * i + 2)), Array.from(one));
  }
});

Deno.test("largestContributions: a row's top features, largest first", () => {
  const c = Float32Array.of(0, 1, 2, 5, -1, 3);
  assert.deepEqual(largestContributions(["a", "b", "c"], c, 1, 2), [["a", 5], ["c", 3]]);
});

Deno.test("attributionCheck: feature AUROC and top-1 against the altered flags", () => {
  const altered = Uint8Array.of(1, 0, 0, 0, 0, 1);
  const right = attributionCheck(Float32Array.of(3, 1, 0, 0, 1, 2), altered, 3);
  assert.deepEqual(right, { rows: 2, auroc: 1, top1: 1 });
  const wrong = attributionCheck(Float32Array.of(0, 1, 2, 3, 2, 0), altered, 3);
  assert.equal(wrong.auroc, 0);
  assert.equal(wrong.top1, 0);
  assert.throws(() => attributionCheck(new Float32Array(4), altered, 3), MadError);
});

Deno.test("normalRowsOf / normalRowsBank: the stored sample of normal rows, or one made", () => {
  assert.equal(normalRowsOf({ dens: NORMALS }), NORMALS);
  assert.equal(normalRowsOf({ iso: NORMALS }), NORMALS);
  assert.equal(normalRowsOf({}), null);
  const made = normalRowsBank(Float32Array.of(0, 0, 1, 1, 5, 0), 2, 1);
  assert.deepEqual([made.dim, made.rows], [2, 3]);
  assert.deepEqual(Array.from(made.transposed), Array.from(NORMALS.transposed));
});

Deno.test("alteredRows: synthetic anomalies flag exactly the features they changed", () => {
  const d = 4;
  const val = Float32Array.from({ length: 30 * d }, (_, i) => Math.sin(i));
  const train = Float32Array.from({ length: 50 * d }, (_, i) => Math.cos(i));
  const { values, altered } = alteredRows({ d, val, train }, 25, 3);
  assert.equal(values.length, 25 * d);
  for (let i = 0; i < 25; i++) {
    const flags = altered.subarray(i * d, (i + 1) * d);
    assert.ok(flags.some((f) => f === 1) && flags.filter((f) => f).length <= 3);
  }
  // The same seed draws the same anomalies.
  assert.deepEqual(alteredRows({ d, val, train }, 25, 3).values, values);
});

import assert from "node:assert/strict";
import {
  buildBank,
  knnDistances,
  knnDistancesOnLines,
  lineBlocksOf,
  rowsOf,
} from "../lib/model/knn.ts";
import { Rng } from "../lib/rng.ts";

/** Table-like feature tokens: value_j * a_j + b_j per feature, `width` numbers each. */
function tokens(values: Float32Array, d: number, width: number, seed = 7): Float32Array {
  const rng = new Rng(seed);
  const a = Float32Array.from({ length: d * width }, () => rng.normal());
  const b = Float32Array.from({ length: d * width }, () => rng.normal());
  const n = values.length / d;
  const out = new Float32Array(n * d * width);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      for (let c = 0; c < width; c++) {
        out[(i * d + j) * width + c] = values[i * d + j] * a[j * width + c] + b[j * width + c];
      }
    }
  }
  return out;
}

/** Mean distance to the k nearest rows, in float64, by brute force. */
function bruteForce(bank: Float32Array, queries: Float32Array, dim: number, k: number) {
  const rows = bank.length / dim;
  return Float32Array.from({ length: queries.length / dim }, (_, i) => {
    const d = Array.from({ length: rows }, (_, r) => {
      let sq = 0;
      for (let c = 0; c < dim; c++) sq += (queries[i * dim + c] - bank[r * dim + c]) ** 2;
      return Math.sqrt(sq);
    }).sort((x, y) => x - y);
    return d.slice(0, k).reduce((s, v) => s + v, 0) / Math.min(k, rows);
  });
}

function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

for (const [d, width] of [[6, 16], [20, 4]]) {
  Deno.test(`kNN of table tokens (${d} features x ${width}) along their lines = whole rows`, () => {
    const dim = d * width;
    const train = tokens(normals(300 * d, 1), d, width);
    const bank = buildBank(train, dim, 300, new Rng(0), { coreset: false });
    const lines = lineBlocksOf(bank);
    assert.ok(lines, "the tokens lie on one line per feature");
    assert.equal(lines.blocks, d);
    // Queries on the lines, and some off them (which count in full).
    const queries = tokens(normals(200 * d, 2), d, width);
    const noise = new Rng(3);
    for (let i = 0; i < 50 * dim; i++) queries[i] += 0.3 * noise.normal();
    for (const k of [1, 5]) {
      const fast = knnDistances(bank, queries, k);
      const slow = bruteForce(train, queries, dim, k);
      assert.equal(fast.length, 200);
      for (let i = 0; i < fast.length; i++) {
        assert.ok(
          Math.abs(fast[i] - slow[i]) <= 1e-4 * (1 + slow[i]),
          `query ${i}, k ${k}: ${fast[i]} vs ${slow[i]}`,
        );
      }
    }
  });
}

Deno.test("kNN: rows on no per-block lines are compared whole", () => {
  const dim = 8;
  const rows = normals(100 * dim, 4);
  const bank = buildBank(rows, dim, 100, new Rng(0), { coreset: false });
  assert.equal(lineBlocksOf(bank), null);
  const queries = normals(20 * dim, 5);
  const fast = knnDistances(bank, queries, 3);
  const slow = bruteForce(rows, queries, dim, 3);
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(fast[i] - slow[i]) <= 1e-3 * (1 + slow[i]));
});

Deno.test("kNN along lines: k beyond the bank's rows averages them all", () => {
  const train = tokens(normals(3 * 2, 6), 2, 8);
  const bank = buildBank(train, 16, 3, new Rng(0), { coreset: false });
  assert.ok(lineBlocksOf(bank));
  const queries = tokens(normals(4 * 2, 8), 2, 8);
  const fast = knnDistances(bank, queries, 5);
  const slow = bruteForce(train, queries, 16, 3);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(fast[i] - slow[i]) <= 1e-4 * (1 + slow[i]));
});

Deno.test("kNN of rows given by their values on lines = of the rows made in full", () => {
  const [d, width] = [5, 12];
  const rng = new Rng(9);
  const slope = Float32Array.from({ length: d * width }, () => rng.normal());
  const offset = Float32Array.from({ length: d * width }, () => rng.normal());
  const on = (values: Float32Array) => ({ blocks: d, values, slope, offset });
  const train = rowsOf(on(normals(200 * d, 10)));
  const bank = buildBank(train, d * width, 200, new Rng(0), { coreset: false });
  assert.ok(lineBlocksOf(bank));
  const queries = on(normals(64 * d, 11));
  for (const k of [1, 5]) {
    const compact = knnDistancesOnLines(bank, queries, k);
    const whole = knnDistances(bank, rowsOf(queries), k);
    for (let i = 0; i < 64; i++) {
      assert.ok(Math.abs(compact[i] - whole[i]) <= 1e-4 * (1 + whole[i]));
    }
  }
  // A bank of other rows (not on these lines) gets the rows made in full.
  const other = buildBank(normals(50 * d * width, 12), d * width, 50, new Rng(0), {
    coreset: false,
  });
  assert.deepEqual(knnDistancesOnLines(other, queries, 3), knnDistances(other, rowsOf(queries), 3));
});

import assert from "node:assert/strict";
import { useBackend } from "../lib/backend/mod.ts";
import { buildBank } from "../lib/model/knn.ts";
import { kernelDensityScores, kernelScaleOf, useKernelWidthsOf } from "../lib/model/knn/kernel.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { squaredDistanceBlocks } from "../lib/model/knn/search.ts";
import { Rng } from "../lib/rng.ts";

import { gaussianRows } from "./fixtures.ts";

await useBackend("wasm");

const WIDTHS = DEFAULT_CONFIG.model.tableKernelWidths;

/** One query's squared distance to each bank row, in float64, by brute force. */
function bruteForceSquared(bank: Float32Array, query: Float32Array, dim: number): number[] {
  const rows = bank.length / dim;
  return Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let c = 0; c < dim; c++) s += (query[c] - bank[r * dim + c]) ** 2;
    return s;
  });
}

Deno.test("squaredDistanceBlocks: every query's squared distance to every bank row", () => {
  const dim = 6;
  const rows = gaussianRows(40, dim, 1);
  const queries = gaussianRows(700, dim, 2); // more than one block of queries
  for (const projection of [0, 2]) {
    const bank = buildBank(rows, dim, 40, new Rng(3), { coreset: false, projection });
    const seen = new Set<number>();
    squaredDistanceBlocks(bank, queries, (start, count, squared) => {
      assert.equal(squared.length, count * 40);
      for (let i = 0; i < count; i++) seen.add(start + i);
      if (projection > 0) return; // projected: distances in the kept directions only
      for (const i of [0, count - 1]) {
        const want = bruteForceSquared(rows, queries.subarray((start + i) * dim), dim);
        for (let r = 0; r < 40; r++) {
          assert.ok(Math.abs(squared[i * 40 + r] - want[r]) < 1e-3 * (1 + want[r]));
        }
      }
    });
    assert.equal(seen.size, 700);
  }
});

Deno.test("kernel density: near normals scores low, far scores high and stays finite", () => {
  const dim = 4;
  const rows = gaussianRows(300, dim, 5);
  const bank = buildBank(rows, dim, 300, new Rng(1), { coreset: false, projection: 0 });
  const inside = new Float32Array(dim); // the normals' centre
  const edge = Float32Array.from({ length: dim }, () => 2.5);
  const far = Float32Array.from({ length: dim }, () => 1000);
  const [a, b, c] = kernelDensityScores(
    bank,
    Float32Array.from([...inside, ...edge, ...far]),
    WIDTHS,
  );
  assert.ok(a < b && b < c, `${a} < ${b} < ${c}`);
  assert.ok(Number.isFinite(c));
});

Deno.test("kernel density: the bank's own rows, each without itself, centre on 0", () => {
  const dim = 3;
  const rows = gaussianRows(400, dim, 8);
  const bank = buildBank(rows, dim, 400, new Rng(1), { coreset: false, projection: 0 });
  const scale = kernelScaleOf(bank, WIDTHS);
  assert.equal(scale.twiceSquared.length, WIDTHS.length);
  assert.ok(scale.unit > 0 && scale.spread.every((s) => s > 0));
  // Fresh normals from the same law score around the bank's median: 0 on every width's scale.
  const scores = [...kernelDensityScores(bank, gaussianRows(400, dim, 9), WIDTHS)].sort((x, y) =>
    x - y
  );
  assert.ok(Math.abs(scores[200]) < 0.25, `median ${scores[200]}`);
});

Deno.test("kernel density: a fold reads with the widths of the bank it is part of", () => {
  const dim = 3;
  const rows = gaussianRows(200, dim, 4);
  const whole = buildBank(rows, dim, 200, new Rng(1), { coreset: false, projection: 0 });
  const part = buildBank(rows.subarray(0, 20 * dim), dim, 20, new Rng(1), {
    coreset: false,
    projection: 0,
  });
  useKernelWidthsOf(part, whole);
  assert.equal(kernelScaleOf(part, WIDTHS).unit, kernelScaleOf(whole, WIDTHS).unit);
  const alone = buildBank(rows.subarray(0, 20 * dim), dim, 20, new Rng(1), {
    coreset: false,
    projection: 0,
  });
  // fewer rows lie farther apart
  assert.ok(kernelScaleOf(alone, WIDTHS).unit > kernelScaleOf(whole, WIDTHS).unit);
});

Deno.test("kernel density: scores match the formula computed directly in float64", () => {
  const dim = 3;
  const n = 50;
  const rows = gaussianRows(n, dim, 11);
  const queries = gaussianRows(7, dim, 12).map((v) => 1.5 * v);
  const bank = buildBank(rows, dim, n, new Rng(1), { coreset: false, projection: 0 });
  const sq = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let c = 0; c < dim; c++) s += (a[i * dim + c] - b[j * dim + c]) ** 2;
    return s;
  };
  let unit = 0;
  for (let i = 0; i < n; i++) {
    const d = [...Array(n).keys()].filter((j) => j !== i).map((j) =>
      Math.sqrt(sq(rows, i, rows, j))
    )
      .sort((x, y) => x - y);
    unit += d.slice(0, 5).reduce((s, v) => s + v, 0) / 5 / n;
  }
  const logDensity = (x: Float32Array, i: number, h: number, skip: number) =>
    Math.log(
      [...Array(n).keys()].filter((j) => j !== skip)
        .reduce((s, j) => s + Math.exp(-sq(x, i, rows, j) / (2 * h * h)), 0),
    );
  const quantile = (v: number[], p: number) => {
    const at = p * (v.length - 1);
    const lo = Math.floor(at);
    return v[lo] + (at - lo) * ((v[lo + 1] ?? v[lo]) - v[lo]);
  };
  // The default widths, `v28`'s, and ratios that are no power of two (a power, not squarings);
  // the same bank asked at other widths is scaled anew.
  for (const widths of [WIDTHS, [0.25, 0.5, 2], [0.3, 1], [1]]) {
    const want = Array.from({ length: 7 }, () => 0);
    for (const f of widths) {
      const h = f * unit;
      const own = [...Array(n).keys()].map((i) => -logDensity(rows, i, h, i))
        .sort((x, y) => x - y);
      const median = quantile(own, 0.5);
      const spread = quantile(own, 0.75) - quantile(own, 0.25);
      for (let q = 0; q < 7; q++) {
        want[q] += (-logDensity(queries, q, h, -1) - median) / spread / widths.length;
      }
    }
    const got = kernelDensityScores(bank, queries, widths);
    for (let q = 0; q < 7; q++) {
      assert.ok(Math.abs(got[q] - want[q]) < 1e-3, `[${widths}] ${got[q]} vs ${want[q]}`);
    }
  }
});

Deno.test("kernel density: a bank of one row still scores, by distance", () => {
  const bank = buildBank(Float32Array.of(0, 0), 2, 1, new Rng(1), { coreset: false });
  const [near, far] = kernelDensityScores(bank, Float32Array.of(0.1, 0, 3, 0), WIDTHS);
  assert.ok(Number.isFinite(near) && near < far);
});

Deno.test("squaredDistanceBlocks: a bank of more than one chunk is read whole", () => {
  const rows = gaussianRows(9000, 2, 21); // chunks of 8,192 rows
  const queries = gaussianRows(3, 2, 22);
  const bank = buildBank(rows, 2, 9000, new Rng(1), { coreset: false, projection: 0 });
  squaredDistanceBlocks(bank, queries, (_start, count, squared) => {
    assert.equal(squared.length, count * 9000);
    for (const r of [0, 8191, 8192, 8999]) {
      const want = bruteForceSquared(rows.subarray(r * 2, r * 2 + 2), queries.subarray(2), 2)[0];
      assert.ok(Math.abs(squared[9000 + r] - want) < 1e-4 * (1 + want));
    }
  });
});

Deno.test("model.tableKernelWidths: positive and narrowest first, or a one-line error", () => {
  for (const bad of [[], [0.5, 0.25], [0, 1], [1, 1], [1, Infinity]]) {
    assert.throws(
      () => mergeConfig(DEFAULT_CONFIG, { model: { tableKernelWidths: bad } }),
      /model\.tableKernelWidths must be positive numbers, narrowest first/,
    );
  }
  mergeConfig(DEFAULT_CONFIG, { model: { tableKernelWidths: [0.3, 1] } });
});

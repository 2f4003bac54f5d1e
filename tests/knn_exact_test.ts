import assert from "node:assert/strict";
import { buildBank, knnDistances, knnDistancesExact } from "../lib/model/knn.ts";
import { positionsOfTokenBank } from "../lib/model/evidence/table_knn.ts";
import { Rng } from "../lib/rng.ts";
import { assertNearDistances, bruteForceKnn } from "./fixtures.ts";

function normals(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

Deno.test("exact kNN: the brute-force distances in float64, near duplicates included", () => {
  const dim = 6;
  // Far from the origin, where float32's |q|² + |b|² - 2 q·b loses small distances.
  const train = normals(400 * dim, 1, 30);
  const bank = buildBank(train, dim, 400, new Rng(0), { coreset: false });
  const queries = normals(100 * dim, 2, 30);
  // Queries 0 to 9: bank rows themselves, and a hair off them.
  for (let i = 0; i < 10; i++) {
    for (let j = 0; j < dim; j++) queries[i * dim + j] = train[i * dim + j] + (i % 2) * 1e-3;
  }
  for (const k of [1, 5]) {
    const exact = knnDistancesExact(bank, queries, k);
    const slow = bruteForceKnn(train, queries, dim, k);
    assertNearDistances(exact, slow, `k ${k}`);
    if (k === 1) { for (let i = 0; i < 10; i += 2) assert.equal(exact[i], 0); }
  }
});

Deno.test("exact kNN: k beyond the bank's rows averages them all", () => {
  const train = normals(3 * 4, 6);
  const bank = buildBank(train, 4, 3, new Rng(0), { coreset: false });
  const queries = normals(5 * 4, 8);
  const exact = knnDistancesExact(bank, queries, 5);
  const slow = bruteForceKnn(train, queries, 4, 3);
  assertNearDistances(exact, slow, "k 5 of 3 rows");
});

Deno.test("exact kNN: a bank compared in principal directions is refused", () => {
  const rows = normals(200 * 16, 4);
  const bank = buildBank(rows, 16, 200, new Rng(0), { coreset: false, projection: 4 });
  assert.ok(bank.projection);
  assert.throws(() => knnDistancesExact(bank, normals(16, 5)), /projected/);
  // The float32 search still takes it.
  assert.equal(knnDistances(bank, normals(3 * 16, 5), 2).length, 3);
});

Deno.test("table kNN: feature positions give the distances of whole tokens; old token banks convert", () => {
  const [d, width] = [5, 12];
  const rng = new Rng(9);
  const slope = Float32Array.from({ length: d * width }, () => rng.normal());
  const offset = Float32Array.from({ length: d * width }, () => rng.normal());
  const tokensOf = (values: Float32Array) => {
    const n = values.length / d;
    const out = new Float32Array(n * d * width);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < d * width; c++) {
        out[i * d * width + c] = values[i * d + Math.floor(c / width)] * slope[c] + offset[c];
      }
    }
    return out;
  };
  const length = (j: number) => Math.hypot(...slope.subarray(j * width, (j + 1) * width));
  const positionsOf = (values: Float32Array) => values.map((v, i) => v * length(i % d));
  const train = normals(200 * d, 10);
  const queries = normals(64 * d, 11);
  // Banks of positions and of whole tokens, the latter as checkpoints before v34 stored them.
  const tokenBank = buildBank(tokensOf(train), d * width, 200, new Rng(0), { coreset: false });
  const converted = positionsOfTokenBank(tokenBank.transposed, 200, slope, offset, d);
  const positionBank = buildBank(positionsOf(train), d, 200, new Rng(0), { coreset: false });
  for (let i = 0; i < converted.length; i++) {
    assert.ok(Math.abs(converted[i] - positionBank.transposed[i]) <= 1e-4, `${i}`);
  }
  for (const k of [1, 5]) {
    const compact = knnDistancesExact(positionBank, positionsOf(queries), k);
    const whole = bruteForceKnn(tokensOf(train), tokensOf(queries), d * width, k);
    for (let i = 0; i < 64; i++) {
      assert.ok(Math.abs(compact[i] - whole[i]) <= 1e-4 * (1 + whole[i]), `${i}, k ${k}`);
    }
  }
});

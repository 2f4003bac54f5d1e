import assert from "node:assert/strict";
import { buildKdTree, kdTreeKnn } from "../lib/model/knn/kd_tree.ts";
import { buildBank, knnDistancesExact } from "../lib/model/knn.ts";
import { Rng } from "../lib/rng.ts";
import { assertNearDistances, bruteForceKnn } from "./fixtures.ts";

Deno.test("k-d tree: the k nearest rows exactly, for any width, k and bank size", () => {
  const rng = new Rng(3);
  for (const dim of [1, 2, 6, 16]) {
    for (const n of [1, 5, 17, 300]) {
      const bank = Float64Array.from({ length: n * dim }, () => rng.normal());
      // Queries near the bank, far beyond it, and bank rows themselves.
      const queries = Float32Array.from(
        { length: 40 * dim },
        (_, i) => i < 10 * dim ? bank[i % bank.length] : rng.normal() * (i < 30 * dim ? 1.5 : 20),
      );
      const tree = buildKdTree(bank, n, dim);
      for (const k of [1, 5, 400]) {
        assertNearDistances(
          kdTreeKnn(tree, queries, k).scores,
          bruteForceKnn(bank, queries, dim, k),
          `${dim} wide, ${n} rows, k ${k}`,
        );
      }
    }
  }
});

Deno.test("k-d tree: duplicate rows, coinciding coordinates and rows all alike", () => {
  const rng = new Rng(4);
  const dim = 3;
  // 200 rows on 7 distinct points, one coordinate constant, and a bank of one row repeated.
  const points = Array.from({ length: 7 }, () => [rng.normal(), 2, rng.normal()]);
  const bank = Float64Array.from(
    { length: 200 * dim },
    (_, i) => points[Math.floor(i / dim) % 7][i % dim],
  );
  const same = new Float64Array(50 * dim).fill(1);
  const queries = Float32Array.from({ length: 30 * dim }, () => rng.normal());
  for (const [rows, n] of [[bank, 200], [same, 50]] as const) {
    const tree = buildKdTree(rows, n, dim);
    for (const k of [1, 5, 40]) {
      assertNearDistances(
        kdTreeKnn(tree, queries, k).scores,
        bruteForceKnn(rows, queries, dim, k),
        `${n} rows`,
      );
    }
  }
});

Deno.test("k-d tree: prunes narrow rows; the exact search is exact with the tree and without", () => {
  const rng = new Rng(5);
  const dim = 2;
  const n = 4000;
  const bank = Float32Array.from({ length: n * dim }, () => rng.normal());
  const queries = Float32Array.from({ length: 500 * dim }, () => rng.normal() * 1.2);
  const tree = buildKdTree(Float64Array.from(bank), n, dim);
  const { scores, visited } = kdTreeKnn(tree, queries, 5);
  assert.ok(visited < 500 * n / 20, `visited ${visited} rows for 500 queries of ${n}`);
  // knnDistancesExact settles on the tree here (2 wide), and on the products for 40 i.i.d.
  // coordinates (wider than a tree is tried on); both match brute force.
  const viaSearch = knnDistancesExact(buildBank(bank, dim, n, new Rng(1)), queries, 5);
  assertNearDistances(
    viaSearch,
    bruteForceKnn(Float64Array.from(bank), queries, dim, 5),
    "2 wide, searched",
  );
  assertNearDistances(
    scores,
    bruteForceKnn(Float64Array.from(bank), queries, dim, 5),
    "2 wide, tree",
  );
  const wide = 40;
  const wideBank = Float32Array.from({ length: 600 * wide }, () => rng.normal());
  const wideQueries = Float32Array.from({ length: 300 * wide }, () => rng.normal());
  assertNearDistances(
    knnDistancesExact(buildBank(wideBank, wide, 600, new Rng(1)), wideQueries, 5),
    bruteForceKnn(Float64Array.from(wideBank), wideQueries, wide, 5),
    "40 wide, searched",
  );
});

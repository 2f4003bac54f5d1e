import assert from "node:assert/strict";
import { buildBank } from "../lib/model/knn.ts";
import {
  averagePathLength,
  CLASSIC_FOREST,
  forestOf,
  growForest,
  isolationScores,
} from "../lib/model/isolation.ts";
import { Rng } from "../lib/rng.ts";

function normalBank(n: number, dim: number, seed = 3) {
  const rng = new Rng(seed);
  const rows = Float32Array.from({ length: n * dim }, () => rng.normal());
  return buildBank(rows, dim, n, rng, { coreset: false });
}

Deno.test("average path length: the known values of a binary search tree's failed search", () => {
  assert.equal(averagePathLength(0), 0);
  assert.equal(averagePathLength(1), 0);
  assert.equal(averagePathLength(2), 1);
  // 2 (ln 255 + γ) - 2 * 255 / 256, as in the isolation forest paper.
  assert.ok(Math.abs(averagePathLength(256) - 10.2448) < 1e-4);
});

Deno.test("isolation: two rows split once, so every query has a path of 1 and scores 0.5", () => {
  const bank = buildBank(Float32Array.from([0, 1]), 1, 2, new Rng(0), { coreset: false });
  const forest = growForest(bank, { trees: 10, sample: 256 });
  assert.equal(forest.norm, 1);
  for (const s of isolationScores(forest, Float32Array.from([-5, 0.5, 7]))) assert.equal(s, 0.5);
});

Deno.test("isolation: rows beyond the normals score above ordinary rows", () => {
  const dim = 4;
  const bank = normalBank(1000, dim);
  const forest = growForest(bank);
  const ordinary = normalBank(200, dim, 9).transposed;
  // Back from [dim, rows] to row-major, then one far value on feature 2 of an ordinary row.
  const rows = new Float32Array(200 * dim);
  for (let r = 0; r < 200; r++) {
    for (let j = 0; j < dim; j++) rows[r * dim + j] = ordinary[j * 200 + r];
  }
  // One far value on feature 2 of an ordinary row, and a row far on every feature.
  const odd = rows.slice(0, dim);
  odd[2] = 6;
  const far = new Float32Array(dim).fill(6);
  const scores = isolationScores(forest, rows);
  const [oddScore, farScore] = isolationScores(forest, Float32Array.from([...odd, ...far]));
  const sorted = [...scores].sort((a, b) => a - b);
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  assert.ok(mean > 0.35 && mean < 0.55, `ordinary rows average ${mean}`);
  assert.ok(oddScore > sorted[190], `${oddScore} vs the 95th percentile ${sorted[190]}`);
  assert.ok(farScore > sorted[199] && farScore > oddScore, `${farScore}`);
  assert.ok(scores.every((s) => s > 0 && s < 1));
});

Deno.test("isolation: the forest is a function of the bank, grown once per bank", () => {
  const bank = normalBank(600, 3);
  const queries = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i));
  const a = isolationScores(growForest(bank), queries);
  const b = isolationScores(growForest(normalBank(600, 3)), queries);
  assert.deepEqual(a, b);
  assert.equal(forestOf(bank), forestOf(bank));
  assert.deepEqual(isolationScores(forestOf(bank), queries), a);
  // Trees grow from samples of at most CLASSIC_FOREST.sample rows, to a balanced tree's depth.
  assert.equal(forestOf(bank).norm, averagePathLength(CLASSIC_FOREST.sample));
});

Deno.test("isolation: a forest's shape sets its trees, their samples and their depth", () => {
  const bank = normalBank(600, 3);
  const small = forestOf(bank, { trees: 50, sample: 64 });
  assert.equal(small.trees.length, 50);
  assert.equal(small.norm, averagePathLength(64));
  // Every leaf lies at most ceil(log2 64) = 6 splits deep: its path minus the rows it holds.
  const depthOf = (tree: (typeof small.trees)[number]) => {
    let deepest = 0;
    const walk = (node: number, depth: number) => {
      if (tree.feature[node] < 0) return void (deepest = Math.max(deepest, depth));
      walk(tree.left[node], depth + 1);
      walk(tree.left[node] + 1, depth + 1);
    };
    walk(0, 0);
    return deepest;
  };
  assert.ok(small.trees.every((t) => depthOf(t) <= 6));
  assert.ok(forestOf(bank).trees.some((t) => depthOf(t) > 6));
  // One forest per bank and shape; a bank smaller than the sample lends every row to each tree.
  assert.equal(forestOf(bank, { trees: 50, sample: 64 }), small);
  assert.notEqual(forestOf(bank, { trees: 50, sample: 128 }), small);
  assert.equal(growForest(normalBank(40, 3), { trees: 5, sample: 64 }).norm, averagePathLength(40));
});

Deno.test("isolation: constant features are never split; a bank of one row is refused", () => {
  const rows = new Float32Array(100 * 2);
  for (let r = 0; r < 100; r++) rows[r * 2 + 1] = r;
  const forest = growForest(buildBank(rows, 2, 100, new Rng(1), { coreset: false }), {
    trees: 20,
    sample: 256,
  });
  for (const tree of forest.trees) {
    for (const f of tree.feature) assert.ok(f === -1 || f === 1);
  }
  const one = buildBank(Float32Array.from([1, 2]), 2, 1, new Rng(1));
  assert.throws(() => growForest(one), /at least two normal rows/);
});

Deno.test("isolation: the complete form of the trees scores exactly as walking them", () => {
  const bank = normalBank(3000, 5, 11);
  const rng = new Rng(12);
  const queries = Float32Array.from({ length: 4000 * 5 }, (_, i) => {
    const u = rng.next();
    // Ordinary rows, far ones, and values exactly on the bank's (thresholds lie between them).
    return u < 0.1 ? 20 * rng.normal() : u < 0.2 ? bank.transposed[i % 3000] : rng.normal();
  });
  for (const shape of [{ trees: 300, sample: 64 }, CLASSIC_FOREST, { trees: 5, sample: 3 }]) {
    const forest = growForest(bank, shape);
    assert.deepEqual(
      isolationScores(forest, queries),
      isolationScores(forest, queries, { walk: true }),
    );
  }
});

// Expected values were computed offline with SciPy 1.10 (scipy.stats.rankdata, spearmanr); the
// tests themselves need no Python.
import assert from "node:assert/strict";
import { MadError } from "../lib/errors.ts";
import { pearson, ranks, spearman } from "../lib/metrics/mod.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps, `expected ${b}, got ${a}`);

Deno.test("ranks: from 1, ties share their mean rank (scipy's rankdata)", () => {
  assert.deepEqual(Array.from(ranks([3, 1, 2, 2, 5])), [4, 1, 2.5, 2.5, 5]);
  assert.deepEqual(Array.from(ranks([7, 7, 7])), [2, 2, 2]);
  assert.deepEqual(Array.from(ranks([])), []);
});

Deno.test("spearman: matches scipy's spearmanr, with and without ties", () => {
  close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.8207826816681233);
  close(spearman([0.1, 0.4, 0.4, 0.9, 0.2, 0.3], [1, 3, 2, 2, 0, 5]), 0.45588235294117646);
});

Deno.test("spearman: 1 for any rising transform, -1 reversed, 0 against a constant", () => {
  const x = [0.3, -2, 5, 1.5, 0];
  close(spearman(x, x.map((v) => Math.exp(v))), 1);
  close(spearman(x, x.map((v) => -(v ** 3))), -1);
  assert.equal(spearman(x, [1, 1, 1, 1, 1]), 0);
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
});

Deno.test("correlation: unequal lengths are refused with a one-line error", () => {
  assert.throws(() => spearman([1, 2], [1, 2, 3]), MadError);
  assert.throws(() => pearson([1, 2], [1]), /equal lengths, got 2 and 1/);
});

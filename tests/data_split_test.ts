import assert from "node:assert/strict";
import { join } from "node:path";
import { Rng } from "../lib/rng.ts";
import { readLabelledCsv, tableFromArrays } from "../lib/data/table.ts";
import { courseThyroid, splitGiven, splitTable, subsetTable } from "../lib/data/split.ts";
import {
  applyNormalisation,
  checkNormalisation,
  fitNormalisation,
  fitStandard,
  LOG_OFFSET,
  logScaled,
  SHIFT_LIMIT,
  SHIFT_SAMPLE,
  shiftedFeatures,
} from "../lib/data/normalise.ts";
import type { SplitIndices, SplitSpec } from "../lib/data/types.ts";
import { hasSharedThyroid, madError, SHARED_THYROID } from "./fixtures.ts";

/** ODDS thyroid's label counts: 3679 normals, 93 anomalies, anomalies spread out. */
function oddsLikeLabels(): Uint8Array {
  const labels = new Uint8Array(3772);
  const rng = new Rng(7);
  let placed = 0;
  while (placed < 93) {
    const i = rng.int(labels.length);
    if (!labels[i]) {
      labels[i] = 1;
      placed++;
    }
  }
  return labels;
}

function checkDisjointSorted(s: SplitIndices, total: number): void {
  const seen = new Set<number>();
  for (const part of [s.train, s.val, s.test]) {
    for (let k = 1; k < part.length; k++) assert.ok(part[k - 1] < part[k], "sorted ascending");
    for (const i of part) {
      assert.ok(!seen.has(i), `index ${i} in two parts`);
      seen.add(i);
    }
  }
  assert.equal(seen.size, total);
}

const spec = (seed: number, valShare = 0, protocol: SplitSpec["protocol"] = "half-normals") => ({
  protocol,
  seed,
  valShare,
});

Deno.test("split: half-normals sizes on ODDS-like labels", () => {
  const labels = oddsLikeLabels();
  const s = splitTable(labels, spec(1));
  assert.equal(s.train.length, 1839);
  assert.equal(s.val.length, 0);
  assert.equal(s.test.length, 1933);
  checkDisjointSorted(s, 3772);
  assert.ok([...s.train].every((i) => labels[i] === 0));
  assert.equal(s.test.filter((i) => labels[i] === 1).length, 93);
});

Deno.test("split: validation share honoured, from the training pool", () => {
  const labels = oddsLikeLabels();
  const s = splitTable(labels, spec(3, 0.1));
  assert.equal(s.val.length, Math.round(0.1 * 1839));
  assert.equal(s.train.length + s.val.length, 1839);
  assert.equal(s.test.length, 1933);
  assert.ok(s.val.every((i) => labels[i] === 0));
  checkDisjointSorted(s, 3772);
  // The test part does not depend on the validation share.
  assert.deepEqual(splitTable(labels, spec(3, 0.25)).test, s.test);
});

Deno.test("split: deterministic by seed, different seeds differ", () => {
  const labels = oddsLikeLabels();
  assert.deepEqual(splitTable(labels, spec(42, 0.1)), splitTable(labels, spec(42, 0.1)));
  assert.notDeepEqual(
    splitTable(labels, spec(42, 0.1)).train,
    splitTable(labels, spec(43, 0.1)).train,
  );
});

Deno.test("split: bad specs are rejected", () => {
  const labels = oddsLikeLabels();
  madError(() => splitTable(labels, spec(1, 1)), "validation share");
  madError(() => splitTable(labels, spec(1, -0.1)), "validation share");
  madError(() => splitTable(labels, spec(1, 0, "given")), "half-normals");
  madError(() => splitTable(new Uint8Array([1, 1, 0]), spec(1)), "only 1 normal");
  madError(() => splitGiven(0, new Uint8Array(3), spec(1, 0, "given")), "0 training rows");
});

Deno.test("split: given protocol carves validation from the training rows", () => {
  const test = new Uint8Array(10);
  const s = splitGiven(100, test, spec(5, 0.2, "given"));
  assert.equal(s.val.length, 20);
  assert.equal(s.train.length, 80);
  assert.deepEqual(s.test, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(new Set([...s.train, ...s.val]).size, 100);
  assert.deepEqual(splitGiven(100, test, spec(5, 0.2, "given")), s);
  assert.notDeepEqual(splitGiven(100, test, spec(6, 0.2, "given")).val, s.val);
});

Deno.test("subsetTable keeps the given rows in order", () => {
  const t = tableFromArrays("t", ["a", "b"], [[1, 2], [3, 4], [5, 6]], [0, 1, 0]);
  const s = subsetTable(t, [2, 0], "part");
  assert.equal(s.name, "part");
  assert.equal(s.n, 2);
  assert.deepEqual([...s.values], [5, 6, 1, 2]);
  assert.deepEqual([...s.labels!], [0, 0]);
  madError(() => subsetTable(t, [3]), "row index 3");
});

Deno.test("normalisation: fitted only on the given rows", () => {
  const t = tableFromArrays("t", ["a", "b"], [[1, 5], [3, 5], [100, -7]], [0, 0, 1]);
  const norm = fitStandard(t, [0, 1]);
  assert.deepEqual(norm.mean, [2, 5]);
  assert.equal(norm.std[0], 1); // population std of [1, 3]
  assert.equal(norm.std[1], 1e-6); // constant feature: floored
  const out = applyNormalisation(t, norm);
  assert.notEqual(out.values, t.values);
  assert.deepEqual([...out.values.subarray(0, 4)], [-1, 0, 1, 0]);
  assert.equal(out.values[4], 98);
  assert.deepEqual([...t.values], [1, 5, 3, 5, 100, -7], "input untouched");
  // JSON round-trip, as stored in a checkpoint.
  const back = checkNormalisation(JSON.parse(JSON.stringify(norm)), "ckpt.json");
  assert.deepEqual(back, norm);
});

Deno.test("shiftedFeatures: the features whose typical value lies far from the training rows'", () => {
  // Standardised values: a near 0, b's median 5 (odd count), c's -6 (even count: the middle two's
  // mean), d's median at the limit, not beyond it.
  const rows = [[0.1, 5, -6, SHIFT_LIMIT], [-0.2, 4, -9, 0], [9, 7, -6, SHIFT_LIMIT]];
  const t = tableFromArrays("t", ["a", "b", "c", "d"], rows, null);
  assert.deepEqual(shiftedFeatures(t), [{ column: "c", median: -6 }, { column: "b", median: 5 }]);
  const even = tableFromArrays("t", ["a"], [[1], [-7], [-9], [40]], null);
  assert.deepEqual(shiftedFeatures(even), []);
  assert.deepEqual(shiftedFeatures(even, 2), [{ column: "a", median: -3 }]);
  assert.deepEqual(shiftedFeatures(tableFromArrays("t", ["a"], [], null)), []);
  // A long file is read through an evenly spaced sample (here every third row, all 10).
  const long = tableFromArrays(
    "t",
    ["a"],
    Array.from({ length: 3 * SHIFT_SAMPLE }, (_, i) => [i % 3 === 0 ? 10 : 0]),
    null,
  );
  assert.deepEqual(shiftedFeatures(long), [{ column: "a", median: 10 }]);
});

Deno.test("normalisation: matches plain loops on random data", () => {
  const rng = new Rng(11);
  const rows = Array.from({ length: 50 }, () => [rng.normal() * 3 + 1, rng.uniform(-5, 5)]);
  const t = tableFromArrays("r", ["a", "b"], rows, null);
  const pick = Array.from({ length: 25 }, (_, i) => i * 2);
  const norm = fitStandard(t, pick);
  for (let j = 0; j < 2; j++) {
    const xs = pick.map((i) => rows[i][j]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    assert.ok(Math.abs(norm.mean[j] - mean) < 1e-12);
    assert.ok(Math.abs(norm.std[j] - std) < 1e-12);
  }
});

Deno.test("normalisation: right-skewed features on a log scale, the others as they are", () => {
  const rng = new Rng(5);
  // Column a: symmetric; column b: exponential (skewness 2), as lab values are.
  const rows = Array.from({ length: 400 }, () => [rng.normal(), -Math.log(1 - rng.uniform(0, 1))]);
  const t = tableFromArrays("s", ["a", "b"], rows, null);
  const all = rows.map((_, i) => i);
  const norm = fitNormalisation(t, all, { logSkewed: true });
  assert.equal(norm.log?.[0], null);
  const scale = norm.log?.[1];
  assert.ok(scale);
  const bs = rows.map((r) => r[1]);
  assert.equal(scale.min, Math.min(...bs));
  assert.equal(scale.range, Math.max(...bs) - Math.min(...bs));
  assert.equal(scale.offset, LOG_OFFSET);
  // Standardised on the log scale: mean 0 and unit population spread there.
  const out = applyNormalisation(t, norm);
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < rows.length; i++) sum += out.values[i * 2 + 1];
  for (let i = 0; i < rows.length; i++) sq += out.values[i * 2 + 1] ** 2;
  assert.ok(Math.abs(sum / rows.length) < 1e-9);
  assert.ok(Math.abs(sq / rows.length - 1) < 1e-9);
  const logged = Math.log((rows[7][1] - scale.min) / scale.range + LOG_OFFSET);
  assert.ok(Math.abs(out.values[15] - (logged - norm.mean[1]) / norm.std[1]) < 1e-12);
  // Without the option, or with no skewed feature, the normalisation is plain.
  assert.equal(fitNormalisation(t, all).log, undefined);
  assert.deepEqual(fitNormalisation(t, all), fitStandard(t, all));
  const symmetric = tableFromArrays("n", ["a"], rows.map((r) => [r[0]]), null);
  assert.equal(fitNormalisation(symmetric, all, { logSkewed: true }).log, undefined);
  // Read back from a checkpoint's JSON, it applies the same transform.
  const back = checkNormalisation(JSON.parse(JSON.stringify(norm)), "ckpt.json");
  assert.deepEqual([...applyNormalisation(t, back).values], [...out.values]);
});

Deno.test("logScaled: continuous, increasing and finite below the training minimum", () => {
  const scale = { min: 2, range: 4, offset: 0.05 };
  assert.equal(logScaled(2, scale), Math.log(0.05));
  assert.equal(logScaled(6, scale), Math.log(1.05));
  const eps = 1e-7;
  // The tangent continuation meets the log at the minimum with the same slope.
  const slopeBelow = (logScaled(2, scale) - logScaled(2 - eps, scale)) / eps;
  const slopeAbove = (logScaled(2 + eps, scale) - logScaled(2, scale)) / eps;
  assert.ok(Math.abs(slopeBelow - slopeAbove) / slopeAbove < 1e-3);
  const xs = [-1e6, -10, 1, 1.99, 2, 2.01, 3, 100];
  const ys = xs.map((x) => logScaled(x, scale));
  assert.ok(ys.every(Number.isFinite));
  for (let i = 1; i < ys.length; i++) assert.ok(ys[i] > ys[i - 1]);
});

Deno.test("normalisation: errors", () => {
  const t = tableFromArrays("t", ["a", "b"], [[1, 2]], null, "data/t.csv");
  const three = { kind: "standard" as const, mean: [0, 0, 0], std: [1, 1, 1] };
  madError(() => applyNormalisation(t, three), "data/t.csv", "3 columns", "has 2");
  madError(() => fitStandard(t, []), "data/t.csv", "zero rows");
  madError(() => fitStandard(t, [5]), "row index 5");
  madError(
    () => checkNormalisation({ kind: "standard", mean: [0], std: [0] }, "c.json"),
    "c.json",
    "standard deviation",
  );
  madError(() => checkNormalisation({ kind: "minmax" }, "c.json"), "c.json", "minmax");
  const plain = { kind: "standard", mean: [0, 0], std: [1, 1] };
  madError(
    () => checkNormalisation({ ...plain, log: [null] }, "c.json"),
    "c.json",
    "one entry per feature",
  );
  madError(
    () =>
      checkNormalisation({ ...plain, log: [null, { min: 0, range: 0, offset: 0.05 }] }, "c.json"),
    "c.json",
    "positive range",
  );
});

Deno.test("courseThyroid reads a course-style folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_course_" });
  try {
    await Deno.writeTextFile(join(dir, "train-set.csv"), "feature_1,feature_2\n1,2\n3,4\n");
    await Deno.writeTextFile(
      join(dir, "test-set.csv"),
      "feature_1,feature_2,label\n1,2,0.0\n9,9,1.0\n",
    );
    const { train, test } = courseThyroid(dir);
    assert.equal(train.n, 2);
    assert.deepEqual([...train.labels!], [0, 0]);
    assert.deepEqual([...test.labels!], [0, 1]);
    await Deno.writeTextFile(join(dir, "test-set.csv"), "feature_1,label\n1,0\n");
    madError(() => courseThyroid(dir), "test-set.csv", "1 feature columns");
    // The same count under other names: refused at once (a model trained on train-set.csv's
    // names could not evaluate test-set.csv, which eval matches by name).
    await Deno.writeTextFile(join(dir, "test-set.csv"), "feature_1,feature_3,label\n1,2,0\n");
    madError(
      () => courseThyroid(dir),
      join(dir, "test-set.csv"),
      join(dir, "train-set.csv"),
      "only in train-set.csv: feature_2",
      "only in test-set.csv: feature_3",
    );
    // The same names in another order: the test rows come in the training file's order.
    await Deno.writeTextFile(
      join(dir, "test-set.csv"),
      "feature_2,label,feature_1\n2,0,1\n8,1,9\n",
    );
    const reordered = courseThyroid(dir).test;
    assert.deepEqual(reordered.columns, ["feature_1", "feature_2"]);
    assert.deepEqual([...reordered.values], [1, 2, 9, 8]);
    await Deno.remove(join(dir, "train-set.csv"));
    madError(() => courseThyroid(dir), "train-set.csv", "not found");
    // A folder with neither file (an image category given as a table) says what it needs.
    await Deno.remove(join(dir, "test-set.csv"));
    madError(() => courseThyroid(dir), dir, "must hold train-set.csv", "--images");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "split: real ODDS thyroid and course files",
  ignore: !hasSharedThyroid,
  fn() {
    const odds = readLabelledCsv(new URL("odds/thyroid.csv", SHARED_THYROID).pathname);
    const s = splitTable(odds.labels!, spec(0, 0.1));
    assert.equal(s.train.length + s.val.length, 1839);
    assert.equal(s.test.length, 1933);
    checkDisjointSorted(s, 3772);
    const { train, test } = courseThyroid(new URL("course/", SHARED_THYROID).pathname);
    assert.equal(train.n, 1839);
    assert.equal(test.n, 1933);
    assert.equal(test.labels!.reduce((a, b) => a + b, 0), 94); // known defect, see README
  },
});

// Expected values were computed offline with scikit-learn 1.2.1 (roc_auc_score,
// average_precision_score, precision_recall_curve, roc_curve, f1_score), NumPy quantile and a
// brute-force scipy.ndimage PRO reference; the tests themselves need no Python.
import assert from "node:assert/strict";
import { MadError } from "../lib/errors.ts";
import {
  auroc,
  averagePrecision,
  bestF1Threshold,
  confusionAt,
  connectedComponents,
  evaluateScores,
  f1AtTrueCount,
  pixelAuroc,
  prCurve,
  pro,
  rocCurve,
  thresholdAtCount,
  thresholdFromNormals,
} from "../lib/metrics/mod.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps, `expected ${b}, got ${a}`);

const RANDOM_SCORES = [
  0.0,
  0.3,
  -0.3,
  -0.9,
  -0.5,
  -1.0,
  0.1,
  1.3,
  -0.5,
  -0.6,
  0.5,
  0.4,
  0.1,
  -0.9,
  -0.0,
  0.7,
  -1.3,
  -0.5,
  -1.9,
  -1.3,
  -1.8,
  -0.2,
  -1.3,
  0.3,
  0.2,
  -0.2,
  -2.5,
  -0.5,
  -0.0,
  0.1,
  -1.5,
  -0.5,
  -1.0,
  -0.8,
  1.1,
  -0.8,
  -0.0,
  0.9,
  -0.6,
  -0.1,
];
const RANDOM_LABELS = [
  0,
  0,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  0,
  1,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  0,
  1,
  0,
  1,
  0,
  1,
  0,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  1,
  1,
];

const CASES: Array<
  { name: string; s: number[]; l: number[]; auroc: number; ap: number; f1k: number }
> = [
  {
    name: "simple",
    s: [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.9, 0.05],
    l: [0, 0, 1, 1, 0, 1, 1, 0],
    auroc: 0.75,
    ap: 0.8166666666666667,
    f1k: 0.5,
  },
  {
    name: "ties",
    s: [0.5, 0.5, 0.2, 0.8, 0.5, 0.8, 0.1, 0.2, 0.5, 0.9],
    l: [1, 0, 0, 1, 1, 0, 0, 1, 0, 1],
    auroc: 0.68,
    ap: 0.6730158730158731,
    f1k: 0.6666666666666666,
  },
  { name: "constant", s: [3, 3, 3, 3, 3], l: [0, 1, 0, 1, 1], auroc: 0.5, ap: 0.6, f1k: 0.75 },
  {
    name: "perfect",
    s: [0.1, 0.2, 0.3, 0.8, 0.9],
    l: [0, 0, 0, 1, 1],
    auroc: 1,
    ap: 1,
    f1k: 1,
  },
  {
    name: "inverted",
    s: [0.9, 0.8, 0.3, 0.2, 0.1],
    l: [0, 0, 0, 1, 1],
    auroc: 0,
    ap: 0.325,
    f1k: 0,
  },
  {
    name: "random",
    s: RANDOM_SCORES,
    l: RANDOM_LABELS,
    auroc: 0.43833333333333335,
    ap: 0.23890323109390044,
    f1k: 0.1818181818181818,
  },
];

Deno.test("auroc, averagePrecision and f1AtTrueCount match scikit-learn", () => {
  for (const c of CASES) {
    close(auroc(c.s, c.l), c.auroc);
    close(averagePrecision(c.s, c.l), c.ap);
    close(f1AtTrueCount(c.s, c.l), c.f1k);
    // Typed arrays work the same.
    close(auroc(Float32Array.from(c.s), Uint8Array.from(c.l)), c.auroc, 1e-9);
  }
});

Deno.test("rocCurve and prCurve match scikit-learn on tied scores", () => {
  const s = CASES[1].s, l = CASES[1].l;
  const roc = rocCurve(s, l);
  assert.deepEqual(roc.fpr, [0, 0, 0.2, 0.6, 0.8, 1]);
  assert.deepEqual(roc.tpr, [0, 0.2, 0.4, 0.8, 1, 1]);
  // scikit-learn 1.2 puts max + 1 first; newer versions and this module use Infinity.
  assert.deepEqual(roc.thresholds, [Infinity, 0.9, 0.8, 0.5, 0.2, 0.1]);
  const pr = prCurve(s, l);
  const expP = [0.5, 0.5555555555555556, 0.5714285714285714, 0.6666666666666666, 1, 1];
  assert.deepEqual(pr.thresholds, [0.1, 0.2, 0.5, 0.8, 0.9]);
  pr.precision.forEach((p, i) => close(p, expP[i]));
  assert.deepEqual(pr.recall, [1, 1, 0.8, 0.4, 0.2, 0]);
});

Deno.test("confusionAt on a hand case, never NaN", () => {
  const s = [0.9, 0.8, 0.7, 0.2, 0.1, 0.6];
  const l = [1, 0, 1, 1, 0, 0];
  const c = confusionAt(s, l, 0.7);
  assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [2, 1, 2, 1]);
  close(c.precision, 2 / 3);
  close(c.recall, 2 / 3);
  close(c.f1, 2 / 3);
  close(c.accuracy, 4 / 6);
  const none = confusionAt(s, l, 10);
  assert.deepEqual(
    [none.tp, none.fp, none.precision, none.recall, none.f1],
    [0, 0, 0, 0, 0],
  );
  close(none.accuracy, 0.5);
});

Deno.test("threshold choices", () => {
  assert.equal(thresholdAtCount([0.3, 0.9, 0.1, 0.5], 2), 0.5);
  assert.equal(thresholdAtCount([0.3, 0.9], 0), Infinity);
  assert.throws(() => thresholdAtCount([1, 2], 3), MadError);
  close(thresholdFromNormals([1, 2, 3, 4, 10], 0.99), 9.76);
  close(thresholdFromNormals([1, 2, 3, 4, 10], 0.9), 7.6000000000000005, 1e-12);
  assert.equal(thresholdFromNormals([5, 1, 3], 0.5), 3);
  assert.throws(() => thresholdFromNormals([], 0.9), MadError);
  assert.throws(() => thresholdFromNormals([1], 1.5), MadError);
  const best = bestF1Threshold([0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.9, 0.05], [
    0,
    0,
    1,
    1,
    0,
    1,
    1,
    0,
  ]);
  // Flagging >= 0.2 gives tp 4, fp 2, fn 0: F1 = 8 / 10 (>= 0.35 gives only 6 / 9).
  assert.equal(best.threshold, 0.2);
  close(best.f1, 0.8);
});

Deno.test("evaluateScores fills DatasetMetrics; a one-class set gets what it can measure", () => {
  const m = evaluateScores(CASES[0].s, CASES[0].l, 0.5, "toy");
  assert.equal(m.n, 8);
  assert.equal(m.anomalies, 4);
  close(m.auroc!, 0.75);
  close(m.aupr!, 0.8166666666666667);
  assert.equal(m.threshold, 0.5);
  close(m.f1_at_true_count!, 0.5);
  // >= 0.5 flags 0.8, 0.7, 0.9: tp 2, fp 1, fn 2.
  close(m.precision!, 2 / 3);
  close(m.recall!, 0.5);
  close(m.false_alarm_rate!, 1 / 4);
  // Only normals: the share of them flagged and the accuracy, nothing that needs anomalies.
  assert.deepEqual(evaluateScores([0.1, 0.6, 0.2, 0.3], [0, 0, 0, 0], 0.5, "thyroid"), {
    n: 4,
    anomalies: 0,
    auroc: null,
    aupr: null,
    precision: null,
    recall: null,
    f1: null,
    accuracy: 0.75,
    false_alarm_rate: 0.25,
    threshold: 0.5,
    f1_at_true_count: null,
  });
  // Only anomalies: the share of them flagged (recall), no false-alarm rate.
  const bad = evaluateScores([0.1, 0.9], [1, 1], 0.5);
  assert.equal(bad.recall, 0.5);
  assert.equal(bad.false_alarm_rate, null);
  assert.equal(bad.auroc, null);
  assert.equal(bad.precision, null);
  const none = evaluateScores([], [], 0.5, "x");
  assert.equal(none.n, 0);
  assert.equal(none.accuracy, null);
  assert.equal(none.auroc, null);
  // A single class still fails the bare ranking metrics, in one line.
  assert.throws(
    () => auroc([0.1, 0.2], [0, 0]),
    (e: unknown) =>
      e instanceof MadError &&
      e.message === "evaluation set has only normal samples; AUROC needs both classes",
  );
  assert.throws(() => auroc([0.1, 0.2], [0, 1, 1]), MadError);
  assert.throws(() => auroc([NaN, 0.2], [0, 1]), MadError);
  assert.throws(() => auroc([0.1, 0.2], [0, 2]), MadError);
  assert.throws(() => evaluateScores([NaN, 0.2], [0, 1], 0.5, "x"), /evaluation set x: score 0/);
});

// Two 4×5 maps with ties between anomalous and normal pixels (0.73).
const MAPS = [
  [
    0.09,
    0.24,
    0.8,
    0.58,
    0.09,
    0.43,
    0.78,
    0.46,
    0.73,
    0.11,
    0.39,
    0.82,
    0.73,
    0.59,
    0.74,
    0.96,
    0.28,
    0.65,
    0.7,
    0.29,
  ],
  [
    0.0,
    0.97,
    0.3,
    0.31,
    0.89,
    0.59,
    0.47,
    0.77,
    0.03,
    0.71,
    0.37,
    0.09,
    0.66,
    0.93,
    0.21,
    0.63,
    0.3,
    0.74,
    0.72,
    0.22,
  ],
  [
    0.9,
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.2,
    0.6,
    0.1,
    0.0,
    0.3,
    0.3,
    0.3,
    0.3,
    0.3,
    0.2,
    0.2,
    0.2,
    0.2,
    0.2,
  ],
].map((m) => Float32Array.from(m));
const MASKS = [
  [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
  // Diagonal neighbours: one region under 8-connectivity.
  [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
].map((m) => Float32Array.from(m));

Deno.test("pixelAuroc matches scikit-learn on a toy map", () => {
  close(pixelAuroc(MAPS.slice(0, 2), MASKS.slice(0, 2)), 0.7671568627450981);
  assert.throws(() => pixelAuroc([MAPS[0]], [new Float32Array(20)]), /no anomalous pixels/);
  assert.throws(() => pixelAuroc([MAPS[0]], [new Float32Array(3)]), MadError);
});

Deno.test("connectedComponents uses 8-connectivity", () => {
  assert.equal(connectedComponents(MASKS[2], 5, 4).count, 1);
  assert.equal(connectedComponents(MASKS[1], 5, 4).count, 2);
  assert.equal(connectedComponents(MASKS[0], 5, 4).count, 1);
});

Deno.test("pro matches a brute-force reference, is 1 for a perfect map", () => {
  close(pro(MAPS, MASKS, 5, 4), 0.47395833333333326, 1e-9);
  close(pro(MAPS, MASKS, 5, 4, { maxFpr: 1 }), 0.7794471153846155, 1e-9);
  close(pro(MAPS, MASKS, 5, 4, { maxFpr: 0.05 }), 0, 1e-12);
  const perfect = MASKS.map((m) => Float32Array.from(m, (v) => v * 0.9 + 0.05));
  close(pro(perfect, MASKS, 5, 4), 1, 1e-12);
  close(pro(perfect, MASKS, 5, 4, { steps: 50 }), 1, 1e-12);
  const inverted = MASKS.map((m) => Float32Array.from(m, (v) => 1 - v));
  assert.equal(pro(inverted, MASKS, 5, 4), 0);
  // The binned curve approaches the exact one with enough steps.
  const approx = pro(MAPS, MASKS, 5, 4, { steps: 20000 });
  assert.ok(Math.abs(approx - 0.47395833333333326) < 0.01, `binned PRO ${approx}`);
  assert.throws(() => pro(MAPS, MASKS, 4, 4), MadError);
  assert.throws(
    () => pro(MAPS, MASKS.map((m) => new Float32Array(m.length)), 5, 4),
    /no anomalous/,
  );
});

Deno.test("pixel metrics stay fast on 40 maps of 256×256", () => {
  const size = 256 * 256;
  const maps: Float32Array[] = [], masks: Float32Array[] = [];
  let seed = 1;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 40; i++) {
    const mask = new Float32Array(size);
    for (let y = 100; y < 140; y++) for (let x = 60; x < 100 + i; x++) mask[y * 256 + x] = 1;
    const map = Float32Array.from(mask, (v) => v * 0.5 + rand());
    maps.push(map);
    masks.push(mask);
  }
  const t0 = performance.now();
  const a = pixelAuroc(maps, masks);
  const p = pro(maps, masks, 256, 256);
  const ms = performance.now() - t0;
  assert.ok(a > 0.8 && a < 1, `pixel AUROC ${a}`);
  assert.ok(p > 0 && p < 1, `PRO ${p}`);
  assert.ok(ms < 15000, `took ${ms} ms`);
});

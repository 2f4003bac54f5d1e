import assert from "node:assert/strict";

const assertAlmostEquals = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b} (tolerance ${tol})`);
import {
  exactMarginalDensityScores,
  marginalDensityScores,
  silvermanBandwidth,
  useBandwidthsOf,
} from "../lib/model/density.ts";
import type { MemoryBank } from "../lib/model/knn.ts";
import { Rng } from "../lib/rng.ts";

/** A bank [dim, rows] transposed from per-feature value generators. */
function bankOf(rows: number, features: Array<(rng: Rng) => number>, seed = 1): MemoryBank {
  const rng = new Rng(seed);
  const dim = features.length;
  const transposed = new Float32Array(dim * rows);
  for (let j = 0; j < dim; j++) {
    for (let r = 0; r < rows; r++) transposed[j * rows + r] = features[j](rng);
  }
  return { dim, rows, transposed };
}

const FEATURES: Array<(rng: Rng) => number> = [
  (rng) => rng.normal(),
  // Right-skewed, as lab values are.
  (rng) => Math.exp(rng.normal()),
  // Binary, as thyroid's flags are.
  (rng) => (rng.next() < 0.2 ? 1 : 0),
  // Two separated modes.
  (rng) => (rng.next() < 0.5 ? -4 : 4) + 0.3 * rng.normal(),
];

function queriesOf(n: number, dim: number, seed = 2): Float32Array {
  const rng = new Rng(seed);
  // Mostly ordinary values, some far out (the anomalies' side), some exactly on bank values.
  return Float32Array.from({ length: n * dim }, (_, i) => {
    const u = rng.next();
    if (u < 0.05) return 12 * rng.normal();
    if (u < 0.1) return i % dim === 2 ? (rng.next() < 0.5 ? 0 : 1) : 0;
    return 2 * rng.normal();
  });
}

Deno.test("binned density scores match the exact kernel sums within 1e-3 per feature", () => {
  const bank = bankOf(20000, FEATURES);
  const queries = queriesOf(5000, bank.dim);
  const binned = marginalDensityScores(bank, queries);
  const exact = exactMarginalDensityScores(bank, queries);
  assert.equal(binned.length, 5000);
  let worst = 0;
  for (let i = 0; i < binned.length; i++) {
    assert.ok(Number.isFinite(binned[i]));
    // float32 scores far out (|x| of 12 bandwidths and more) round to 1e-7 of their size.
    worst = Math.max(worst, Math.abs(binned[i] - exact[i]) - 1e-6 * Math.abs(exact[i]));
  }
  assert.ok(worst < 1e-3 * bank.dim, `largest difference ${worst}`);
});

Deno.test("binned density: small banks and constant features are exact enough too", () => {
  const bank = bankOf(50, [(rng) => rng.normal(), () => 3, (rng) => rng.uniform(0, 1e-3)]);
  const queries = queriesOf(500, bank.dim, 5);
  const binned = marginalDensityScores(bank, queries);
  const exact = exactMarginalDensityScores(bank, queries);
  for (let i = 0; i < binned.length; i++) {
    assertAlmostEquals(binned[i], exact[i], 1e-3 * bank.dim + 1e-3 * Math.abs(exact[i]));
  }
});

Deno.test("density: a single normal value's exact score is the Gaussian's", () => {
  // The bank does not vary, so the feature gets a unit (standardised) feature's bandwidth.
  const bank: MemoryBank = { dim: 1, rows: 2, transposed: Float32Array.from([0, 0]) };
  const h = silvermanBandwidth(1, 2);
  const x = 0.5 * h;
  const [score] = exactMarginalDensityScores(bank, Float32Array.from([x]));
  const expected = -(-Math.log(h * Math.sqrt(2 * Math.PI)) - 0.5 * 0.25);
  assertAlmostEquals(score, expected, 1e-4 * Math.abs(expected));
  const [binned] = marginalDensityScores(bank, Float32Array.from([x]));
  assertAlmostEquals(binned, expected, 1e-3 * Math.abs(expected));
});

Deno.test("density: a part of the normals read with the bandwidths of all of them", () => {
  // A binary feature on which one normal of 40 differs: the other 39, a calibration fold
  // without it, hold the feature constant, so their own bandwidth is a unit feature's, far
  // wider than the whole bank's.
  const whole = bankOf(40, [(rng) => rng.normal(), () => 0]);
  whole.transposed[40 + 7] = 1;
  const part: MemoryBank = {
    dim: 2,
    rows: 39,
    transposed: Float32Array.from(
      [...whole.transposed.subarray(0, 40), ...whole.transposed.subarray(40, 80)]
        .filter((_, i) => i !== 7 && i !== 47),
    ),
  };
  const held = Float32Array.of(whole.transposed[7], 1);
  const alone = marginalDensityScores(part, held)[0];
  useBandwidthsOf(part, whole);
  const shared = marginalDensityScores(part, held)[0];
  assert.ok(shared > 0 && shared < 1e3, `with the whole bank's bandwidths: ${shared}`);
  assert.ok(alone < shared, `the part's own bandwidth: ${alone}, the whole's: ${shared}`);
  // Read so, the part scores values as the whole bank's estimate would, less the missing row.
  const ordinary = Float32Array.of(0.1, 0);
  assertAlmostEquals(
    marginalDensityScores(part, ordinary)[0],
    exactMarginalDensityScores(whole, ordinary)[0],
    0.2,
  );
});

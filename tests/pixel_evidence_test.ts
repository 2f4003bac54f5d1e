import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig, validateConfig } from "../lib/model/config.ts";
import {
  activeComponents,
  addKnn,
  banksFromEvidence,
  combineScores,
  CONTRAST_FLOOR,
  contrastNormalise,
  type Evidence,
  EVIDENCE_FLOOR,
  EVIDENCE_RELATIVE_FLOOR,
  imageEvidence,
  isPixelComponent,
  knnDim,
  moments,
  quartileMoments,
  standardiseImages,
} from "../lib/model/detector.ts";
import { initParams, patchify } from "../lib/model/madformer.ts";
import { buildBank, knnDistances } from "../lib/model/knn.ts";
import {
  calibrateImageKey,
  concatEvidence,
  fitImageKey,
  fitScoring,
  scoreKey,
  weightsFor,
} from "../lib/model/scorer.ts";
import { isGrey, syntheticImageAnomaly } from "../lib/data/anomalies.ts";
import { Rng } from "../lib/rng.ts";
import { SMALL_MODEL } from "./fixtures.ts";

await useBackend("wasm");

// The default image scoring on a small model: learned stem features plus the pixel patches.
const small = mergeConfig(DEFAULT_CONFIG, {
  model: SMALL_MODEL,
}).model;

function randomImage(rng: Rng, size = 32): Float32Array {
  return Float32Array.from({ length: size * size * 3 }, () => rng.next());
}

Deno.test("contrast normalisation ignores brightness, and contrast above the floor", () => {
  const rng = new Rng(1);
  const image = randomImage(rng, 8);
  const side = 4;
  const [a, b, c, flat] = tf.tidy(() => {
    const x = tf.tensor4d(image, [1, 8, 8, 3]);
    const norm = (t: tf.Tensor4D) => contrastNormalise(patchify(t, side), 3).dataSync();
    return [
      norm(x),
      norm(x.add(0.3) as tf.Tensor4D),
      norm(x.mul(10) as tf.Tensor4D),
      norm(tf.fill([1, 8, 8, 3], 0.7) as tf.Tensor4D),
    ];
  });
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, "an offset changes nothing"));
  // Ten times the contrast: the same pattern, longer by (10 std + floor) / (std + floor) at most.
  let dot = 0, na = 0, nc = 0;
  a.forEach((v, i) => {
    dot += v * c[i];
    na += v * v;
    nc += c[i] * c[i];
  });
  assert.ok(dot / Math.sqrt(na * nc) > 0.9999, "same direction");
  // Uniform noise has std ~0.29 per pixel: a length near std / (std + floor), below one.
  const cells = a.length / (side * side * 3);
  assert.ok(
    Math.sqrt(na / cells) < 1 && Math.sqrt(na / cells) > 0.29 / (0.29 + CONTRAST_FLOOR) - 0.1,
  );
  assert.ok(flat.every((v) => Math.abs(v) < 1e-5), "a flat patch is the zero pattern");
});

Deno.test("image standardisation: zero mean per image and channel, gain and offset removed", () => {
  const rng = new Rng(2);
  const image = randomImage(rng, 16);
  const [plain, changed] = tf.tidy(() => {
    const x = tf.tensor4d(image, [1, 16, 16, 3]);
    const y = x.mul(tf.tensor1d([0.5, 1.5, 1])).add(tf.tensor1d([0.1, -0.2, 0.3])) as tf.Tensor4D;
    return [standardiseImages(x).dataSync(), standardiseImages(y).dataSync()];
  });
  for (let c = 0; c < 3; c++) {
    let mean = 0;
    for (let i = c; i < plain.length; i += 3) mean += plain[i];
    assert.ok(Math.abs(mean / (plain.length / 3)) < 1e-5);
  }
  // Only the floor (0.01 on spreads of 0.14 to 0.43) leaves a difference, of a few percent.
  plain.forEach((v, i) => assert.ok(Math.abs(v - changed[i]) < 0.08 * Math.abs(v) + 1e-3));
});

Deno.test("default image components: learned stem features and the pixel patches, no heads", () => {
  const components = activeComponents(small, "image");
  assert.deepEqual(components, ["knn0", "pix4", "con4", "con8", "std4", "std8", "enc"]);
  assert.deepEqual(
    activeComponents({ ...small, imageHeadEvidence: true }, "image"),
    ["recon", ...components, "patch", "cls"],
  );
  // Without the kNN views and the encoder evidence the heads are all an image has.
  assert.deepEqual(activeComponents({ ...small, knnHead: false }, "image"), ["enc"]);
  assert.deepEqual(
    activeComponents({ ...small, knnHead: false, encoderEvidence: false }, "image"),
    [
      "recon",
      "patch",
      "cls",
    ],
  );
  // Tables likewise: kNN, density, isolation and the encoder evidence's two readings, the heads
  // when asked or when nothing else is left.
  assert.deepEqual(activeComponents(small, "table"), ["knn", "dens", "iso", "enc", "enc_kde"]);
  assert.deepEqual(
    activeComponents({ ...small, tableHeadEvidence: true }, "table"),
    ["recon", "knn", "dens", "iso", "enc", "enc_kde", "cls"],
  );
  assert.deepEqual(
    activeComponents({ ...small, isolationHead: false }, "table"),
    ["knn", "dens", "enc", "enc_kde"],
  );
  assert.deepEqual(
    activeComponents({ ...small, tableEncoderDensity: false }, "table"),
    ["knn", "dens", "iso", "enc"],
  );
  assert.deepEqual(
    activeComponents({ ...small, tableEncoderEvidence: false }, "table"),
    ["knn", "dens", "iso"],
  );
  assert.deepEqual(
    activeComponents(
      {
        ...small,
        knnHead: false,
        densityHead: false,
        isolationHead: false,
        encoderEvidence: false,
      },
      "table",
    ),
    ["recon", "cls"],
  );
  assert.ok(["pix", "pix4", "std8", "con16"].every(isPixelComponent));
  assert.ok(!["knn0", "knn", "dens", "iso", "recon", "cls"].some(isPixelComponent));
  const params = initParams(small, [], 0);
  const rng = new Rng(3);
  const evidence = imageEvidence(params, small, [randomImage(rng), randomImage(rng)]);
  for (const c of components) {
    assert.equal(knnDim(small, c), evidence.features[c].dim, c);
  }
  assert.equal(evidence.features.con8.grid, 4);
  assert.equal(evidence.features.std4.data.length, 2 * 8 * 8 * 48);
  assert.deepEqual(Object.keys(evidence.tokens), [], "no head evidence is computed");
  // Pixel views are compared in half their width (at most knnProjection), learned ones whole.
  const banks = banksFromEvidence(evidence, {
    limit: 50,
    seed: 0,
    projection: small.knnProjection,
    pixelProjectionShare: small.pixelProjectionShare,
  });
  assert.equal(banks.pix4.projection?.width, 24);
  assert.equal(banks.con8.projection?.width, 64);
  assert.equal(banks.knn0.projection, undefined);
  assert.throws(
    () =>
      validateConfig({
        ...DEFAULT_CONFIG,
        model: { ...DEFAULT_CONFIG.model, imageWeights: "x" as "equal" },
      }),
    /imageWeights must be one of equal, validation/,
  );
  assert.throws(
    () => mergeConfig(DEFAULT_CONFIG, { model: { tableWeights: "median" } }),
    /tableWeights must be one of equal, validation, best, separating, got "median"/,
  );
  assert.throws(
    () => mergeConfig(DEFAULT_CONFIG, { model: { isolationSample: 1 } }),
    /isolationSample must be an integer of at least 2, got 1/,
  );
  assert.throws(
    () => mergeConfig(DEFAULT_CONFIG, { model: { isolationTrees: 0 } }),
    /isolationTrees must be a positive integer, got 0/,
  );
  assert.throws(
    () => mergeConfig(DEFAULT_CONFIG, { model: { knnContrastPatches: [5] } }),
    /knnContrastPatches: 5 does not divide imageSize 128/,
  );
});

Deno.test("leave-one-out kNN: a sample's queries skip the bank rows taken from it", () => {
  const rng = new Rng(4);
  const dim = 5;
  const perSample = 6;
  const samples = 4;
  const rows = Float32Array.from({ length: samples * perSample * dim }, () => rng.normal());
  const bank = buildBank(rows, dim, 1000, rng);
  assert.deepEqual(Array.from(bank.sources!), [...Array(samples * perSample).keys()]);
  const ids = Int32Array.from([0, 1, 2, 3]);
  const bankSamples = bank.sources!.map((r) => Math.floor(r / perSample));
  const plain = knnDistances(bank, rows, 1);
  assert.ok(plain.every((d) => d < 1e-3), "every row finds itself");
  // The nearest one, and (as tables score) the mean of the nearest few.
  for (const k of [1, 3]) {
    const exclusion = { rowsPerSample: perSample, samples: ids, bankSamples };
    const left = knnDistances(bank, rows, k, exclusion);
    for (let q = 0; q < samples * perSample; q++) {
      const own = Math.floor(q / perSample);
      const others: number[] = [];
      for (let r = 0; r < samples * perSample; r++) {
        if (Math.floor(r / perSample) === own) continue;
        let sq = 0;
        for (let j = 0; j < dim; j++) sq += (rows[q * dim + j] - rows[r * dim + j]) ** 2;
        others.push(Math.sqrt(sq));
      }
      const want = others.sort((a, b) => a - b).slice(0, k).reduce((a, b) => a + b, 0) / k;
      assert.ok(Math.abs(left[q] - want) < 1e-3, `k ${k}, query ${q}: ${left[q]} vs ${want}`);
    }
  }
  // A sample of -1 (not in the bank) is scored against all of it.
  const none = knnDistances(bank, rows.subarray(0, perSample * dim), 1, {
    rowsPerSample: perSample,
    samples: Int32Array.from([-1]),
    bankSamples,
  });
  assert.deepEqual(Array.from(none), Array.from(plain.subarray(0, perSample)));
  assert.throws(
    () => knnDistances(bank, rows, 1, { rowsPerSample: 5, samples: ids, bankSamples }),
    /exclusion does not match/,
  );
});

Deno.test("equal weights: every component counts the same, per modality as configured", () => {
  const n = 6;
  const tokens = (scale: number, offset: number) => ({
    grid: 1,
    values: Float32Array.from({ length: n }, (_, i) => offset + scale * i),
  });
  const evidence = (offset: number): Evidence => ({
    n,
    sample: {},
    tokens: { knn0: tokens(1, offset), con4: tokens(0.1, offset * 0.01) },
    features: {},
  });
  const config = {
    minComponentWeight: 0.05,
    separatingAuroc: 0.7,
    thresholdQuantile: 0.99,
    smoothMaps: false,
    chooseSmoothing: false,
    imageWeights: "equal" as const,
    tableWeights: "validation" as const,
    tableScale: "moments" as const,
    tableOneSided: false,
    tableAgreementPower: 0,
    tableOneSidedTail: false,
  };
  const equal = fitScoring(evidence(0), evidence(5), ["knn0", "con4"], config, "image");
  assert.deepEqual(equal.stats.weights, { knn0: 0.5, con4: 0.5 });
  const weighted = fitScoring(evidence(0), evidence(5), ["knn0", "con4"], {
    ...config,
    imageWeights: "validation",
  }, "image");
  assert.ok(weighted.stats.weights!.knn0 > weighted.stats.weights!.con4);
  // Tables follow tableWeights: a row distance that separates and a density that barely does.
  const rows = (offset: number): Evidence => ({
    n,
    sample: {
      knn: Float32Array.from({ length: n }, (_, i) => offset + i),
      dens: Float32Array.from({ length: n }, (_, i) => (i % 2) + offset * 0.05),
    },
    tokens: {},
    features: {},
  });
  const byValidation = fitScoring(rows(0), rows(5), ["knn", "dens"], config, "table");
  assert.ok(byValidation.stats.weights!.knn > byValidation.stats.weights!.dens);
  const tableEqual = fitScoring(rows(0), rows(5), ["knn", "dens"], {
    ...config,
    tableWeights: "equal",
  }, "table");
  assert.deepEqual(tableEqual.stats.weights, { knn: 0.5, dens: 0.5 });
  // `best`: the best-validating component alone, and the score is that component's ranking.
  const best = fitScoring(rows(0), rows(5), ["knn", "dens"], {
    ...config,
    tableWeights: "best",
  }, "table");
  assert.deepEqual(best.stats.weights, { knn: 1, dens: 0 });
  assert.equal(best.report.auroc, best.report.components.knn);
});

Deno.test("a table's components are scaled by their quartiles, which a few far normals cannot move", () => {
  // Known case: median 5, quartiles 3 and 7, so 4 / 1.349 (a normal distribution's spread).
  const nine = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual(quartileMoments(nine), { mean: 5, std: 4 / 1.349 });
  // One normal far out moves the mean and standard deviation, hardly the quartiles.
  const far = [...nine, 1000];
  assert.ok(moments(far).std > 100 * moments(nine).std);
  assert.ok(Math.abs(quartileMoments(far).std - quartileMoments(nine).std) < 0.5);
  // Where the quartiles coincide, the (floored) standard deviation.
  assert.equal(quartileMoments([2, 2, 2, 2, 2, 9]).std, moments([2, 2, 2, 2, 2, 9]).std);
  // Constant evidence: the floor relative to its size (float noise must not become a spread).
  assert.equal(quartileMoments([2, 2, 2]).std, 2 * EVIDENCE_RELATIVE_FLOOR);
  assert.equal(quartileMoments([0, 0, 0]).std, EVIDENCE_FLOOR);
  // fitScoring scales a table's components so when `tableScale` asks for it.
  const n = 40;
  const evidence = (offset: number, outlier: number): Evidence => ({
    n,
    sample: {
      knn: Float32Array.from({ length: n }, (_, i) => offset + (i % 10) + (i ? 0 : outlier)),
    },
    tokens: {},
    features: {},
  });
  const config = {
    minComponentWeight: 0,
    separatingAuroc: 0.7,
    thresholdQuantile: 0.99,
    smoothMaps: false,
    chooseSmoothing: false,
    imageWeights: "equal" as const,
    tableWeights: "equal" as const,
    tableScale: "quartiles" as const,
    tableOneSided: false,
    tableAgreementPower: 0,
    tableOneSidedTail: false,
  };
  const normals = evidence(0, 500);
  const values = normals.sample.knn;
  const table = fitScoring(normals, evidence(20, 0), ["knn"], config, "table");
  assert.deepEqual(table.stats.sample.knn, quartileMoments(values));
  const byMoments = fitScoring(normals, evidence(20, 0), ["knn"], {
    ...config,
    tableScale: "moments",
  }, "table");
  assert.deepEqual(byMoments.stats.sample.knn, moments(values));
  assert.throws(
    () => mergeConfig(DEFAULT_CONFIG, { model: { tableScale: "mad" } }),
    /tableScale must be one of moments, quartiles, tail, got "mad"/,
  );
});

/**
 * A table's evidence for the one-sided tests: 40 rows spread 0..9 on every component, the row
 * distances (`knn`) shifted by `knn`, so anomalies lie far out on the row distances alone.
 */
function spreadEvidence(knn: number): Evidence {
  const n = 40;
  const spread = (offset: number) => Float32Array.from({ length: n }, (_, i) => offset + (i % 10));
  return {
    n,
    sample: { knn: spread(knn), dens: spread(0), iso: spread(0) },
    tokens: {},
    features: {},
  };
}

/** The default model with equal weights, so only the scales and floors tell components apart. */
const EQUAL_WEIGHTS = {
  ...DEFAULT_CONFIG.model,
  tableWeights: "equal" as const,
  imageWeights: "equal" as const,
};

Deno.test("tableOneSided: a table's densities and forest count only above their normals' median", () => {
  const evidence = spreadEvidence;
  const config = { ...EQUAL_WEIGHTS, tableOneSidedTail: false };
  const components = ["knn", "dens", "iso"];
  const fitted = fitScoring(evidence(0), evidence(20), components, config, "table");
  assert.deepEqual(fitted.stats.oneSided, ["dens", "iso"]);
  // A row near the normals on its distances and more typical than most on every feature: the
  // typical features no longer pull its score below what the distances say.
  const row: Evidence = {
    n: 1,
    sample: { knn: Float32Array.of(9), dens: Float32Array.of(0), iso: Float32Array.of(0) },
    tokens: {},
    features: {},
  };
  const { scores, parts } = combineScores(row, components, fitted.stats, false);
  const z = (c: string, v: number) =>
    (v - fitted.stats.sample[c].mean) / fitted.stats.sample[c].std;
  assert.ok(parts.dens[0] < 0, "each component's own standardised value is kept whole");
  assert.ok(Math.abs(scores[0] - z("knn", 9) / 3) < 1e-5);
  // Off, or for images, every component counts on both sides.
  const off = fitScoring(evidence(0), evidence(20), components, {
    ...config,
    tableOneSided: false,
    tableAgreementPower: 0,
    tableOneSidedTail: false,
  }, "table");
  assert.equal(off.stats.oneSided, undefined);
  const both = combineScores(row, components, off.stats, false).scores[0];
  assert.ok(Math.abs(both - (z("knn", 9) + z("dens", 0) + z("iso", 0)) / 3) < 1e-5);
  assert.equal(
    fitScoring(evidence(0), evidence(20), components, config, "image").stats.oneSided,
    undefined,
  );
  // With no two-sided component counted there is nothing to offset: the densities alone count
  // whole rather than tie every row below their median.
  const alone = fitScoring(evidence(0), evidence(20), ["dens"], config, "table");
  assert.equal(alone.stats.oneSided, undefined);
});

Deno.test("tableOneSidedTail: a table's densities and forest are summed on their tail scale", () => {
  const n = 40;
  const evidence = spreadEvidence;
  const config = EQUAL_WEIGHTS;
  const components = ["knn", "dens", "iso"];
  const fitted = fitScoring(evidence(0), evidence(20), components, config, "table");
  const tails = fitted.stats.tails!;
  assert.deepEqual(Object.keys(tails), ["dens", "iso"], "the two-sided row distances keep z");
  assert.equal(tails.dens.normals, n);
  const z = (c: string, v: number) =>
    (v - fitted.stats.sample[c].mean) / fitted.stats.sample[c].std;
  // Far beyond every normal on the densities: log n plus the excess over the largest normal,
  // where the standardised scale would have given the excess in quartile units alone.
  const far = 30;
  const row = (dens: number, iso: number): Evidence => ({
    n: 1,
    sample: { knn: Float32Array.of(9), dens: Float32Array.of(dens), iso: Float32Array.of(iso) },
    tokens: {},
    features: {},
  });
  const { scores, parts } = combineScores(row(far, 0), components, fitted.stats, false);
  assert.ok(Math.abs(parts.dens[0] - z("dens", far)) < 1e-5, "parts keep the standardised scale");
  const beyond = Math.log(n) + (z("dens", far) - z("dens", 9));
  // The forest's value is the normals' smallest: floored at the median, log 2.
  assert.ok(Math.abs(scores[0] - (z("knn", 9) + beyond + Math.LN2) / 3) < 1e-4, `${scores[0]}`);
  // Increasing in each one-sided component, as on the standardised scale.
  const rising = [0, 4.5, 7, 9, 9.5, 12].map((v) =>
    combineScores(row(v, 0), components, fitted.stats, false).scores[0]
  );
  for (let i = 1; i < rising.length; i++) assert.ok(rising[i] >= rising[i - 1], `${rising}`);
  // Off, and for images, no tail scale.
  const off = fitScoring(evidence(0), evidence(20), components, {
    ...config,
    tableOneSidedTail: false,
  }, "table");
  assert.equal(off.stats.tails, undefined);
  assert.equal(
    fitScoring(evidence(0), evidence(20), components, config, "image").stats.tails,
    undefined,
  );
});

Deno.test('tableScale "tail": every table component, the row distances too, on its tail scale', () => {
  const n = 40;
  const evidence = spreadEvidence;
  const config = { ...EQUAL_WEIGHTS, tableScale: "tail" as const };
  const components = ["knn", "dens", "iso"];
  const fitted = fitScoring(evidence(0), evidence(20), components, config, "table");
  assert.deepEqual(Object.keys(fitted.stats.tails!), components);
  // Each first on its quartiles, as the default scale.
  const quartiles = fitScoring(evidence(0), evidence(20), components, EQUAL_WEIGHTS, "table");
  assert.deepEqual(fitted.stats.sample, quartiles.stats.sample);
  const z = (c: string, v: number) =>
    (v - fitted.stats.sample[c].mean) / fitted.stats.sample[c].std;
  // A row far beyond every normal on its distances counts log n plus the excess there, where
  // the quartile scale gave the excess alone; the one-sided components keep their floor, log 2.
  const row: Evidence = {
    n: 1,
    sample: { knn: Float32Array.of(30), dens: Float32Array.of(0), iso: Float32Array.of(0) },
    tokens: {},
    features: {},
  };
  const beyond = Math.log(n) + (z("knn", 30) - z("knn", 9));
  const { scores } = combineScores(row, components, fitted.stats, false);
  assert.ok(Math.abs(scores[0] - (beyond + 2 * Math.LN2) / 3) < 1e-4, `${scores[0]}`);
  // Images keep their own scale.
  assert.equal(
    fitScoring(evidence(0), evidence(20), components, config, "image").stats.tails,
    undefined,
  );
});

Deno.test("weightsFor: equal, by validation, the best alone, or equal over those that separate", () => {
  const aurocs = { knn: 0.9, dens: 0.7, iso: 0.9 };
  const settings = { minComponentWeight: 0, separatingAuroc: 0.8 };
  assert.deepEqual(weightsFor(aurocs, "equal", settings), { knn: 1 / 3, dens: 1 / 3, iso: 1 / 3 });
  assert.deepEqual(
    weightsFor(aurocs, "best", settings),
    { knn: 1, dens: 0, iso: 0 },
    "first on ties",
  );
  const byAuroc = weightsFor(aurocs, "validation", settings);
  assert.ok(byAuroc.knn > byAuroc.dens && byAuroc.knn === byAuroc.iso);
  assert.deepEqual(weightsFor(aurocs, "separating", settings), { knn: 0.5, dens: 0, iso: 0.5 });
  // The threshold itself counts; when nothing reaches it, the best component alone.
  assert.deepEqual(
    weightsFor(aurocs, "separating", { ...settings, separatingAuroc: 0.7 }),
    { knn: 1 / 3, dens: 1 / 3, iso: 1 / 3 },
  );
  assert.deepEqual(
    weightsFor({ knn: 0.6, dens: 0.65, iso: 0.55 }, "separating", settings),
    { knn: 0, dens: 1, iso: 0 },
  );
});

Deno.test("calibration on all normals: leave-one-out training normals, fitted on all of them", () => {
  const rng = new Rng(5);
  const config = { ...small, knnBankSize: 100000 };
  const params = initParams(config, [], 0);
  const train = Array.from({ length: 6 }, () => randomImage(rng));
  const val = Array.from({ length: 2 }, () => randomImage(rng));
  const { fitted } = fitImageKey(params, config, train, val, 0, 11);
  assert.equal(fitted.stats.calibrated, 8);
  assert.deepEqual(Object.values(fitted.stats.weights!), Array(7).fill(1 / 7));
  // Scored against the whole bank a training image finds itself; left out, it cannot (knn0: the
  // pixel views are projected, so even a row's distance to itself keeps what the directions miss).
  const evidence = imageEvidence(params, config, [train[0]]);
  addKnn(evidence, fitted.banks, config);
  const self = Math.max(...evidence.tokens.knn0.values);
  assert.ok(self < 0.02, `found itself at ${self}`);
  const left = imageEvidence(params, config, [train[0]]);
  addKnn(left, fitted.banks, config, undefined, Int32Array.from([0]));
  assert.ok(Math.min(...left.tokens.knn0.values) > 10 * self);
  // The same calibration from the banks directly, and twice the anomalies of the normals.
  const again = calibrateImageKey(params, config, fitted.banks, train, val, 11);
  assert.deepEqual(again.stats, fitted.stats);
  // Banks read back from a checkpoint do not know their rows' sources: a clear error.
  const stored = banksFromEvidence(
    imageEvidence(params, config, train, { featuresOnly: true }),
    { limit: 100, seed: 0 },
  );
  for (const bank of Object.values(stored)) delete bank.sources;
  assert.throws(() => calibrateImageKey(params, config, stored, train, val, 11), /freshly built/);
});

Deno.test("images scored with progress: a chunk at a time, the same scores and maps", () => {
  const rng = new Rng(6);
  const params = initParams(small, [], 0);
  const train = Array.from({ length: 6 }, () => randomImage(rng));
  const val = Array.from({ length: 2 }, () => randomImage(rng));
  const { fitted } = fitImageKey(params, small, train, val, 0, 11);
  const images = Array.from({ length: 18 }, () => randomImage(rng));
  const whole = scoreKey(params, small, fitted, { modality: "image", images });
  const heard: number[] = [];
  const chunked = scoreKey(params, small, fitted, { modality: "image", images }, {
    onProgress: (done) => heard.push(done),
  });
  assert.deepEqual(heard, [0, 16, 18]);
  // Equal to float32 rounding: products over other batch sizes round differently.
  const near = (a: Float32Array, b: Float32Array) => {
    assert.equal(a.length, b.length);
    a.forEach((v, i) =>
      assert.ok(Math.abs(v - b[i]) <= 1e-5 * (1 + Math.abs(b[i])), `${v} ${b[i]}`)
    );
  };
  near(chunked.scores, whole.scores);
  assert.equal(chunked.maps!.length, whole.maps!.length);
  chunked.maps!.forEach((map, i) => near(map, whole.maps![i]));
  assert.equal(chunked.grid, whole.grid);
  for (const c of Object.keys(whole.parts)) near(chunked.parts[c], whole.parts[c]);
});

Deno.test("concatEvidence joins scores and maps in order", () => {
  const part = (v: number, n: number): Evidence => ({
    n,
    sample: { cls: new Float32Array(n).fill(v) },
    tokens: { knn0: { grid: 2, values: new Float32Array(4 * n).fill(v) } },
    features: {},
  });
  const joined = concatEvidence([part(1, 2), part(2, 1)]);
  assert.equal(joined.n, 3);
  assert.deepEqual(Array.from(joined.sample.cls), [1, 1, 2]);
  assert.deepEqual(Array.from(joined.tokens.knn0.values), [
    ...Array(8).fill(1),
    ...Array(4).fill(2),
  ]);
});

Deno.test("a grey image's synthetic anomalies stay grey", () => {
  const rng = new Rng(6);
  const size = 24;
  const grey = new Float32Array(size * size * 3);
  for (let i = 0; i < size * size; i++) grey.fill(rng.next(), i * 3, i * 3 + 3);
  const colour = randomImage(rng, size);
  assert.ok(isGrey(grey) && !isGrey(colour));
  for (let k = 0; k < 30; k++) {
    const kinds = [["cutpaste"], ["noise-shape"], ["scar"], ["smudge"]][k % 4] as never;
    const made = syntheticImageAnomaly(rng, { size, data: grey }, { size, data: colour }, kinds);
    assert.ok(isGrey(made.data), `kind ${made.kind}`);
  }
});

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig, validateConfig } from "../lib/model/config.ts";
import {
  activeComponents,
  type Evidence,
  imageEvidence,
  knnDim,
  tableEvidence,
  usedComponents,
  weightsFromAuroc,
} from "../lib/model/detector.ts";
import {
  encodeImages,
  forwardImages,
  forwardTable,
  geometry,
  initParams,
  maskPatterns,
  patchify,
  patchTargets,
  randomMaskValues,
  reconstructImageTokens,
  stemStages,
  tableGroups,
  tableMaskValues,
  unpatchify,
} from "../lib/model/madformer.ts";
import {
  buildBank,
  greedyCoreset,
  knnDistances,
  principalDirections,
  type ProjectedQueries,
  projectQueries,
  symmetricEigen,
} from "../lib/model/knn.ts";
import { squaredDistanceBlocks } from "../lib/model/knn/search.ts";
import { COVARIANCE_MAX_DIM } from "../lib/model/knn/linalg.ts";
import { fitScoring, weighByAgreement } from "../lib/model/scorer.ts";
import { marginalDensityScores, silvermanBandwidth } from "../lib/model/density.ts";
import { Rng } from "../lib/rng.ts";
import { SMALL_MODEL } from "./fixtures.ts";

await useBackend("wasm");

// A tiny model whose image scores use every head and every feature level, as the heads' tests
// need; the normalised pixel patches have tests of their own.
const tiny = mergeConfig(DEFAULT_CONFIG, {
  model: {
    ...SMALL_MODEL,
    knnLevels: [0, 1, 2],
    knnPixels: true,
    knnPixelPatches: [],
    knnStandardPatches: [],
    knnContrastPatches: [],
    imageHeadEvidence: true,
  },
}).model;

Deno.test("patchify and unpatchify are inverse reshapes", () => {
  tf.tidy(() => {
    const x = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D;
    const p = patchify(x, 4);
    assert.deepEqual(p.shape, [2, 2, 2, 48]);
    // The first cell holds the top-left 4x4 block, row by row.
    assert.deepEqual(
      Array.from(p.slice([0, 0, 0, 0], [1, 1, 1, 12]).dataSync()),
      Array.from(x.slice([0, 0, 0, 0], [1, 1, 4, 3]).dataSync()),
    );
    const back = unpatchify(p, 4, 3);
    assert.ok(tf.max(tf.abs(back.sub(x))).dataSync()[0] < 1e-7);
  });
});

Deno.test("image forward pass has the documented shapes", () => {
  const params = initParams(tiny, [], 1);
  const g = geometry(tiny);
  assert.equal(g.grid, 4);
  tf.tidy(() => {
    const out = forwardImages(params, tiny, tf.randomUniform([3, 32, 32, 3]) as tf.Tensor4D, null);
    assert.deepEqual(out.tokens.shape, [3, 16, 16]);
    assert.deepEqual(out.cls.shape, [3, 16]);
    assert.deepEqual(out.reconstruction.shape, [3, 16, g.patchDim]);
    assert.deepEqual(out.patchLogits.shape, [3, 16]);
    assert.deepEqual(out.clsLogits.shape, [3]);
  });
});

Deno.test("reconstruction from reused stem tokens equals the full masked forward pass", () => {
  const params = initParams(tiny, [], 1);
  const g = geometry(tiny);
  tf.tidy(() => {
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 4) as tf.Tensor4D;
    const mask = tf.tensor2d(maskPatterns(4, g.tokens, g.grid)[1], [1, g.tokens]).tile([2, 1]);
    const full = forwardImages(params, tiny, x, mask as tf.Tensor2D).reconstruction;
    const stem = forwardImages(params, tiny, x, null).stemTokens;
    const reused = reconstructImageTokens(params, tiny, stem, mask as tf.Tensor2D);
    assert.deepEqual(reused.shape, full.shape);
    assert.ok(full.sub(reused).abs().max().dataSync()[0] < 1e-6);
  });
});

Deno.test("stemStages equals the full pass's stem stages, and evidence without heads uses it", () => {
  const config = { ...tiny, stem: [4, 2, 2], knnPixels: false, imageHeadEvidence: false };
  const params = initParams(config, [], 2);
  const images = [0, 1].map((i) =>
    Float32Array.from({ length: config.imageSize ** 2 * 3 }, (_, j) => ((j * 7 + i) % 13) / 13)
  );
  tf.tidy(() => {
    const x = tf.tensor4d(
      Float32Array.from([...images[0], ...images[1]]),
      [2, config.imageSize, config.imageSize, 3],
    );
    const full = encodeImages(params, config, x, null).stages;
    const alone = stemStages(params, config, x, 2);
    assert.equal(alone.length, 2);
    for (const [i, stage] of alone.entries()) {
      assert.deepEqual(stage.shape, full[i].shape);
      assert.deepEqual([...stage.dataSync()], [...full[i].dataSync()]);
    }
    assert.equal(stemStages(params, config, x, 0).length, 0);
  });
  // The stem-only path gives the same kNN features as the full one (heads asked for).
  const stemOnly = { ...config, knnLevels: [0, 1] };
  assert.ok(!activeComponents(stemOnly, "image").includes("recon"));
  const withHeads = { ...stemOnly, imageHeadEvidence: true };
  const a = imageEvidence(params, stemOnly, images).features;
  const b = imageEvidence(params, withHeads, images).features;
  for (const name of ["knn0", "knn1"]) assert.deepEqual([...a[name].data], [...b[name].data]);
});

Deno.test("recon evidence is each token's error in the one pass that hides it", () => {
  const params = initParams(tiny, [], 3);
  const g = geometry(tiny);
  const rng = new Rng(8);
  const images = [0, 1].map(() => Float32Array.from({ length: 32 * 32 * 3 }, () => rng.next()));
  const got = imageEvidence(params, tiny, images).tokens.recon.values;
  tf.tidy(() => {
    const x = tf.tensor4d([...images[0], ...images[1]], [2, 32, 32, 3]);
    const stem = forwardImages(params, tiny, x, null).stemTokens;
    const target = patchTargets(tiny, x);
    let want = tf.zeros([2, g.tokens]);
    for (const pattern of maskPatterns(4, g.tokens, g.grid)) {
      const mask = tf.tensor2d(pattern, [1, g.tokens]).tile([2, 1]) as tf.Tensor2D;
      const full = reconstructImageTokens(params, tiny, stem, mask);
      want = want.add(full.sub(target).square().mean(2).mul(mask));
    }
    const w = want.dataSync();
    got.forEach((v, i) => assert.ok(Math.abs(v - w[i]) < 1e-5, `token ${i}: ${v} vs ${w[i]}`));
  });
});

Deno.test("kNN token features come from the encoder layer asked for (model.knnTokenLayer)", () => {
  const twoLayers = { ...tiny, layers: 2 };
  const params = initParams(twoLayers, [], 1);
  tf.tidy(() => {
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 5) as tf.Tensor4D;
    const at = (layer: number) => encodeImages(params, twoLayers, x, null, layer);
    const out = at(2);
    // At or beyond the last layer they are the encoder output; the rest of the pass is unchanged.
    const same = (a: tf.Tensor, b: tf.Tensor) => a.sub(b).abs().max().dataSync()[0] === 0;
    assert.ok(same(out.knnTokens, out.tokens));
    assert.ok(same(at(7).knnTokens, at(7).tokens));
    const early = at(0);
    assert.ok(same(early.tokens, out.tokens));
    // Layer 0: the embedded stem tokens, final layer norm applied, before any attention.
    const [B, T, D] = early.knnTokens.shape;
    assert.deepEqual([B, T, D], [2, 16, 16]);
    assert.ok(early.knnTokens.sub(out.tokens).abs().max().dataSync()[0] > 1e-3);
    assert.notDeepEqual(
      Array.from(at(1).knnTokens.dataSync()),
      Array.from(early.knnTokens.dataSync()),
    );
  });
  assert.throws(
    () => validateConfig(mergeConfig(DEFAULT_CONFIG, { model: { knnTokenLayer: -1 } })),
    /knnTokenLayer/,
  );
});

Deno.test("table forward pass gives one token per feature", () => {
  const params = initParams(tiny, [{ name: "t", features: 5 }], 1);
  tf.tidy(() => {
    const out = forwardTable(params, tiny, "t", tf.randomNormal([4, 5]) as tf.Tensor2D, null);
    assert.deepEqual(out.tokens.shape, [4, 5, 16]);
    assert.deepEqual(out.reconstruction.shape, [4, 5]);
    assert.deepEqual(out.clsLogits.shape, [4]);
  });
});

Deno.test("table tokens: one a feature up to tableMaxTokens, neighbouring features beyond", () => {
  const at = (d: number, tableMaxTokens = 64) => tableGroups({ tableMaxTokens }, d);
  assert.deepEqual(at(6), { size: 1, tokens: 6 });
  assert.deepEqual(at(64), { size: 1, tokens: 64 });
  assert.deepEqual(at(65), { size: 2, tokens: 33 });
  assert.deepEqual(at(500), { size: 8, tokens: 63 });
  assert.deepEqual(at(1555), { size: 25, tokens: 63 });
  assert.deepEqual(at(1555, 0), { size: 1, tokens: 1555 });
  // A hidden token hides every feature it holds; one token a feature is the plain random mask.
  const mask = tableMaskValues(new Rng(3), 4, 7, 0.5, { size: 3, tokens: 3 });
  for (let b = 0; b < 4; b++) {
    const row = Array.from(mask.subarray(b * 7, b * 7 + 7));
    assert.deepEqual(row.slice(0, 3), Array(3).fill(row[0]));
    assert.deepEqual(row.slice(3, 6), Array(3).fill(row[3]));
    assert.equal(row[0] + row[3] + row[6], 2); // round(0.5 * 3) of the 3 tokens hidden
  }
  assert.deepEqual(
    tableMaskValues(new Rng(3), 4, 7, 0.5, { size: 1, tokens: 7 }),
    randomMaskValues(new Rng(3), 4, 7, 0.5),
  );
});

Deno.test("a wide table's forward pass: grouped tokens, every feature reconstructed and learning", () => {
  const wide = { ...tiny, tableMaxTokens: 4 };
  const params = initParams(wide, [{ name: "t", features: 10 }], 1);
  assert.deepEqual(params.get("table.t.identity")!.shape, [4, 16]);
  assert.deepEqual(params.get("table.t.value")!.shape, [10, 16]);
  const x = tf.randomNormal([3, 10]) as tf.Tensor2D;
  const mask = tf.tensor2d(tableMaskValues(new Rng(1), 3, 10, 0.34, tableGroups(wide, 10)), [
    3,
    10,
  ]);
  const tableVars = [...params].filter(([n]) => n.startsWith("table.")).map(([, v]) => v);
  const { grads } = tf.variableGrads(() => {
    const out = forwardTable(params, wide, "t", x, mask);
    assert.deepEqual(out.tokens.shape, [3, 4, 16]);
    assert.deepEqual(out.residual(1).shape, [3, 4, 16]);
    assert.deepEqual(out.reconstruction.shape, [3, 10]);
    return out.reconstruction.sub(x).square().mean() as tf.Scalar;
  }, tableVars);
  // Every feature's value, bias and reconstruction weights learn, the last token's two included.
  for (const name of ["table.t.value", "table.t.bias", "table.t.recon.w", "table.t.identity"]) {
    const g = grads[params.get(name)!.name].abs().sum(1).dataSync();
    assert.ok(g.every((v) => Number.isFinite(v) && v > 0), `${name}: ${g}`);
  }
  tf.dispose(Object.values(grads));
  // The encoder evidence reads the row's grouped tokens, as the whole pass gives them.
  const rows = x.dataSync() as Float32Array;
  const evidence = tableEvidence(params, wide, "t", rows, 10, { featuresOnly: true });
  assert.equal(evidence.features.enc.dim, 4 * 16);
  assert.equal(knnDim(wide, "enc", 10), 4 * 16);
  const pass = forwardTable(params, wide, "t", x, null).residual(wide.tableEncoderBlocks);
  const expected = pass.dataSync();
  const got = evidence.features.enc.data;
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-4);
  tf.dispose([x, mask, pass]);
});

Deno.test("every parameter used by a modality receives a finite, non-zero gradient", () => {
  const params = initParams(tiny, [{ name: "t", features: 5 }], 2);
  const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
  const mask = tf.tensor2d([
    [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    new Array(16).fill(0),
  ]);
  // The table's own parameters, and its experts in the encoder blocks, are not on the image path.
  const imageVars = [...params].filter(([n]) => !n.startsWith("table.") && !n.includes(".table."))
    .map(([, v]) => v);
  const { grads } = tf.variableGrads(() => {
    const out = forwardImages(params, tiny, x, mask);
    return out.reconstruction.square().mean().add(out.clsLogits.sum()).add(
      out.patchLogits.sum(),
    ) as tf.Scalar;
  }, imageVars);
  for (const v of imageVars) {
    const g = grads[v.name];
    assert.ok(g, `gradient for ${v.name}`);
    const values = g.dataSync();
    assert.ok(values.every(Number.isFinite), `finite gradient for ${v.name}`);
    if (!v.name.includes("embed.modality")) {
      assert.ok(values.some((a) => a !== 0), `non-zero gradient for ${v.name}`);
    }
  }
  tf.dispose(Object.values(grads));
});

Deno.test("switches remove the embeddings they name", () => {
  const noModality = { ...tiny, modalityEmbedding: false, positionEmbedding: false };
  const params = initParams(noModality, [], 3);
  const x = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
  const before = forwardImages(params, noModality, x, null).cls.dataSync();
  params.get("embed.modality")!.assign(tf.randomNormal([2, 16]));
  params.get("embed.position")!.assign(tf.randomNormal([16, 16]));
  const after = forwardImages(params, noModality, x, null).cls.dataSync();
  assert.deepEqual(Array.from(after), Array.from(before));
});

Deno.test("separate encoders create one parameter set per modality", () => {
  const params = initParams({ ...tiny, sharedEncoder: false }, [], 4);
  assert.ok(params.has("enc.image.0.q.w"));
  assert.ok(params.has("enc.table.0.q.w"));
  assert.ok(!params.has("enc.0.q.w"));
});

Deno.test("modality experts: one half of each block per modality, the other shared", () => {
  const halves = [
    { experts: "mlp", own: "fc2.w", shared: "v.w" },
    { experts: "attention", own: "v.w", shared: "fc2.w" },
  ] as const;
  for (const { experts, own, shared } of halves) {
    const config = { ...tiny, modalityExperts: experts };
    const params = initParams(config, [{ name: "t", features: 5 }], 4);
    assert.ok(params.has(`enc.0.${shared}`) && !params.has(`enc.0.${own}`), experts);
    assert.ok(params.has(`enc.0.image.${own}`) && params.has(`enc.0.table.${own}`), experts);
    const images = tf.randomUniform([2, tiny.imageSize, tiny.imageSize, 3]) as tf.Tensor4D;
    const rows = tf.randomNormal([3, 5]) as tf.Tensor2D;
    const read = () => ({
      image: Array.from(forwardImages(params, config, images, null).cls.dataSync()),
      table: Array.from(forwardTable(params, config, "t", rows, null).clsLogits.dataSync()),
    });
    const before = read();
    // The table's expert moves table outputs only; a shared weight moves both.
    const expert = params.get(`enc.0.table.${own}`)!;
    expert.assign(tf.randomNormal(expert.shape));
    const afterExpert = read();
    assert.deepEqual(afterExpert.image, before.image, experts);
    assert.notDeepEqual(afterExpert.table, before.table, experts);
    const common = params.get(`enc.0.${shared}`)!;
    common.assign(tf.randomNormal(common.shape));
    const afterShared = read();
    assert.notDeepEqual(afterShared.image, afterExpert.image, experts);
    assert.notDeepEqual(afterShared.table, afterExpert.table, experts);
  }
});

Deno.test("mask patterns hide every token exactly once", () => {
  const patterns = maskPatterns(4, 64, 8);
  const sum = new Float32Array(64);
  for (const p of patterns) p.forEach((v, i) => (sum[i] += v));
  assert.ok(sum.every((v) => v === 1));
  assert.ok(patterns.every((p) => p.reduce((a, b) => a + b, 0) === 16));
});

Deno.test("kNN distances match brute force", () => {
  const rng = new Rng(5);
  const dim = 3;
  const bankRows = Float32Array.from({ length: 20 * dim }, () => rng.normal());
  const queries = Float32Array.from({ length: 4 * dim }, () => rng.normal());
  const bank = buildBank(bankRows, dim, 100, rng);
  const got = knnDistances(bank, queries, 2);
  for (let q = 0; q < 4; q++) {
    const d = [];
    for (let r = 0; r < 20; r++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (queries[q * dim + j] - bankRows[r * dim + j]) ** 2;
      d.push(Math.sqrt(s));
    }
    d.sort((a, b) => a - b);
    assert.ok(Math.abs(got[q] - (d[0] + d[1]) / 2) < 1e-4);
  }
});

Deno.test("kNN distances match brute force across bank chunks", () => {
  const rng = new Rng(6);
  const dim = 2;
  const n = 9000; // more rows than one chunk holds
  const bankRows = Float32Array.from({ length: n * dim }, () => rng.normal());
  const queries = Float32Array.from({ length: 3 * dim }, () => 3 * rng.normal());
  const bank = buildBank(bankRows, dim, n, rng);
  for (const k of [1, 3]) {
    const got = knnDistances(bank, queries, k);
    for (let q = 0; q < 3; q++) {
      const d = [];
      for (let r = 0; r < n; r++) {
        d.push(
          Math.hypot(queries[q * 2] - bankRows[r * 2], queries[q * 2 + 1] - bankRows[r * 2 + 1]),
        );
      }
      d.sort((a, b) => a - b);
      const want = d.slice(0, k).reduce((a, b) => a + b, 0) / k;
      assert.ok(Math.abs(got[q] - want) < 1e-3, `k=${k}: ${got[q]} vs ${want}`);
    }
  }
});

Deno.test("principal directions span the top of the spectrum, in order", () => {
  const eig = symmetricEigen(Float64Array.from([4, 1, 0, 1, 3, 0, 0, 0, 1]), 3);
  const sorted = [...eig.values].sort((a, b) => b - a);
  const root = Math.sqrt(5);
  [(7 + root) / 2, (7 - root) / 2, 1].forEach((v, i) => assert.ok(Math.abs(sorted[i] - v) < 1e-9));
  // Rows with variances 100, 25, 4, 1, 0.01 along five fixed orthonormal axes, shifted by 3.
  const rng = new Rng(11);
  const dim = 5;
  const axes = orthonormalAxes(dim, rng);
  const scales = [10, 5, 2, 1, 0.1];
  const n = 4000;
  const features = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = scales.map((s) => s * rng.normal());
    for (let j = 0; j < dim; j++) {
      features[i * dim + j] = 3 + c.reduce((sum, cv, a) => sum + cv * axes[a][j], 0);
    }
  }
  const { mean, basis } = principalDirections(features, dim, 2, null, new Rng(1));
  mean.forEach((m) => assert.ok(Math.abs(m - 3) < 0.5, `mean ${m}`));
  for (let col = 0; col < 2; col++) {
    const v = [...Array(dim).keys()].map((j) => basis[j * 2 + col]);
    const along = v.reduce((sum, x, j) => sum + x * axes[col][j], 0);
    assert.ok(Math.abs(Math.abs(along) - 1) < 1e-2, `direction ${col}: ${along}`);
  }
});

Deno.test("principal directions of features too wide for their covariance (500-feature rows)", () => {
  // 60 rows of 9,000 numbers (the covariance would be 81 million) along two sparse directions.
  const rng = new Rng(13);
  const dim = COVARIANCE_MAX_DIM + 808;
  const n = 60;
  const a = new Float32Array(dim), b = new Float32Array(dim);
  for (let j = 0; j < dim; j += 3) a[j] = 1 / Math.sqrt(dim / 3);
  for (let j = 1; j < dim; j += 3) b[j] = 1 / Math.sqrt(dim / 3);
  const features = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const [ca, cb] = [10 * rng.normal(), 3 * rng.normal()];
    for (let j = 0; j < dim; j++) {
      features[i * dim + j] = ca * a[j] + cb * b[j] + 0.01 * rng.normal();
    }
  }
  const { basis } = principalDirections(features, dim, 2, null, new Rng(1));
  [a, b].forEach((axis, col) => {
    const along = axis.reduce((sum, x, j) => sum + x * basis[j * 2 + col], 0);
    assert.ok(Math.abs(Math.abs(along) - 1) < 1e-2, `direction ${col}: ${along}`);
  });
});

Deno.test("a projected bank gives exact distances in its subspace, close ones outside it", () => {
  const rng = new Rng(12);
  const dim = 16;
  const n = 3000;
  // Features in 4 of 16 dimensions: 4 directions hold everything, so distances are exact.
  const flat = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < 4; j++) flat[i * dim + j] = rng.normal();
  const queries = new Float32Array(50 * dim);
  for (let i = 0; i < 50; i++) for (let j = 0; j < 4; j++) queries[i * dim + j] = 2 * rng.normal();
  const whole = buildBank(flat, dim, 500, new Rng(2));
  const projected = buildBank(flat, dim, 500, new Rng(2), { projection: 4 });
  assert.equal(projected.projection?.width, 4);
  assert.equal(projected.transposed.length, 4 * projected.rows);
  const a = knnDistances(whole, queries, 1);
  const b = knnDistances(projected, queries, 1);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-3, `${v} vs ${b[i]}`));
  // Queries off the subspace: what the directions miss still counts through the norms.
  const off = queries.map((v, i) => (i % dim === 9 ? 5 : v));
  const c = knnDistances(whole, off, 1);
  const d = knnDistances(projected, off, 1);
  c.forEach((v, i) => assert.ok(Math.abs(v - d[i]) < 1e-3, `${v} vs ${d[i]}`));
  // A projection not below half the width is not worth it: the bank stays whole.
  assert.equal(buildBank(flat, dim, 500, new Rng(2), { projection: 9 }).projection, undefined);
  // Given directions (a calibration fold reusing the whole bank's) are used as they are, on
  // part of the rows, and give the same distances where they hold everything.
  const part = flat.subarray(0, 1000 * dim);
  const reused = buildBank(part, dim, 500, new Rng(3), {
    projection: 4,
    directions: projected.projection,
  });
  assert.equal(reused.projection?.basis, projected.projection?.basis);
  assert.equal(reused.projection?.mean, projected.projection?.mean);
  const e = knnDistances(buildBank(part, dim, 500, new Rng(3)), queries, 1);
  knnDistances(reused, queries, 1).forEach((v, i) =>
    assert.ok(Math.abs(v - e[i]) < 1e-3, `${v} vs ${e[i]}`)
  );
  assert.throws(
    () =>
      buildBank(part, dim, 500, new Rng(3), { projection: 5, directions: projected.projection }),
    /directions of 4 x 16 for 5 x 16/,
  );
});

Deno.test("queries projected once search every bank of the same directions as raw rows do", () => {
  const rng = new Rng(13);
  const dim = 16;
  const flat = Float32Array.from({ length: 2000 * dim }, () => rng.normal());
  const queries = Float32Array.from({ length: 700 * dim }, () => 1.5 * rng.normal());
  const coreset = buildBank(flat, dim, 300, new Rng(2), { projection: 6 });
  const sample = buildBank(flat, dim, 400, new Rng(3), {
    coreset: false,
    projection: 6,
    directions: coreset.projection,
  });
  const projected = projectQueries(coreset, queries);
  for (const k of [1, 5]) {
    assert.deepEqual(knnDistances(sample, projected, k), knnDistances(sample, queries, k));
    assert.deepEqual(knnDistances(coreset, projected, k), knnDistances(coreset, queries, k));
  }
  const blocks = (q: Float32Array | ProjectedQueries) => {
    const out: Float32Array[] = [];
    squaredDistanceBlocks(sample, q, (_, __, squared) => out.push(squared.slice()));
    return out;
  };
  assert.deepEqual(blocks(projected), blocks(queries));
  // Other directions, or none, cannot read them.
  const other = buildBank(flat, dim, 300, new Rng(2), { projection: 6 });
  assert.throws(() => knnDistances(other, projected, 1), /projected on other directions/);
  assert.throws(() => projectQueries(buildBank(flat, dim, 300, new Rng(2)), queries), /whole/);
});

function orthonormalAxes(dim: number, rng: Rng): number[][] {
  const axes: number[][] = [];
  while (axes.length < dim) {
    const v = Array.from({ length: dim }, () => rng.normal());
    for (const a of axes) {
      const dot = a.reduce((s, x, j) => s + x * v[j], 0);
      a.forEach((x, j) => (v[j] -= dot * x));
    }
    const norm = Math.hypot(...v);
    axes.push(v.map((x) => x / norm));
  }
  return axes;
}

Deno.test("a coreset bank covers every cluster a random subsample of the same size misses", () => {
  const rng = new Rng(7);
  const dim = 2;
  // 1000 rows around the origin and 5 far-off rows: 10 random rows would likely miss the 5.
  const rows: number[] = [];
  for (let i = 0; i < 1000; i++) rows.push(0.1 * rng.normal(), 0.1 * rng.normal());
  for (let i = 0; i < 5; i++) rows.push(100 + 10 * i, -50);
  const features = Float32Array.from(rows);
  const chosen = greedyCoreset(features, dim, [...Array(1005).keys()], 10, new Rng(1));
  assert.equal(new Set(chosen).size, 10);
  for (let i = 1000; i < 1005; i++) assert.ok(chosen.includes(i), `row ${i} not chosen`);
  // The search looks at every row, so a bank 20x smaller than the data keeps the far rows too.
  const bank = buildBank(features, dim, 50, new Rng(1));
  assert.equal(bank.rows, 50);
  const far = knnDistances(bank, Float32Array.from([100, -50, 140, -50]), 1);
  assert.ok(far[0] < 1e-3 && far[1] < 1e-3);
});

Deno.test("the pruned coreset search picks exactly what plain farthest-first picks", () => {
  const rng = new Rng(11);
  const dim = 6;
  const n = 3000;
  // Clusters of different spread, so pruning skips many rows but not all.
  const features = Float32Array.from({ length: n * dim }, (_, i) => {
    const cluster = Math.floor(i / dim) % 7;
    return cluster * 3 * ((i % dim) % 2 === 0 ? 1 : -1) + (0.2 + cluster * 0.3) * rng.normal();
  });
  const size = 120;
  const got = greedyCoreset(features, dim, [...Array(n).keys()], size, new Rng(5));
  // Reference: the textbook search, every row's distance to every new centre.
  const nearest = new Float64Array(n).fill(Infinity);
  const want: number[] = [];
  let next = new Rng(5).int(n);
  for (let c = 0; c < size; c++) {
    const centre = next;
    want.push(centre);
    let far = -1;
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0; j < dim; j++) d += (features[i * dim + j] - features[centre * dim + j]) ** 2;
      nearest[i] = Math.min(nearest[i], d);
      if (nearest[i] > far) {
        far = nearest[i];
        next = i;
      }
    }
  }
  assert.deepEqual(got, want);
});

Deno.test("density scores match a brute-force kernel density and keep growing far out", () => {
  const rng = new Rng(8);
  const n = 500;
  const dim = 2;
  const rows = Float32Array.from({ length: n * dim }, () => rng.normal());
  const bank = buildBank(rows, dim, n, rng, { coreset: false });
  const queries = Float32Array.from([0, 0, 1.5, -0.5, 40, 0, 80, 0]);
  const got = marginalDensityScores(bank, queries);
  for (let q = 0; q < 2; q++) {
    let want = 0;
    for (let j = 0; j < dim; j++) {
      const values = Array.from({ length: n }, (_, r) => rows[r * dim + j]);
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
      const h = silvermanBandwidth(std, n);
      const p = values.reduce(
        (a, v) => a + Math.exp(-0.5 * ((queries[q * 2 + j] - v) / h) ** 2),
        0,
      );
      want -= Math.log(p / (n * h * Math.sqrt(2 * Math.PI)));
    }
    assert.ok(Math.abs(got[q] - want) < 1e-3, `${got[q]} vs ${want}`);
  }
  assert.ok(got[0] < got[1] && got[1] < got[2] && got[2] < got[3]);
  assert.ok(got.every(Number.isFinite));
});

Deno.test("raw-pixel patch scales: one kNN component each, features of the right width", () => {
  const config = { ...tiny, knnPixelPatches: [4, 8, 16] };
  // The token patch here is 8, which `knnPixels` already compares as `pix`.
  const components = activeComponents(config, "image");
  assert.deepEqual(components.filter((c) => c.startsWith("pix")), ["pix", "pix4", "pix16"]);
  const params = initParams(config, [], 0);
  const image = new Float32Array(32 * 32 * 3).fill(0.5);
  const evidence = imageEvidence(params, config, [image, image], { featuresOnly: true });
  assert.equal(evidence.features.pix4.dim, 48);
  assert.equal(evidence.features.pix4.grid, 8);
  assert.equal(evidence.features.pix16.data.length, 2 * 2 * 2 * 768);
  for (const c of ["pix", "pix4", "pix16"]) {
    assert.equal(knnDim(config, c), evidence.features[c].dim, c);
  }
  assert.throws(
    () => validateConfig(mergeConfig(DEFAULT_CONFIG, { model: { knnPixelPatches: [48] } })),
    /knnPixelPatches: 48 does not divide imageSize 128/,
  );
});

Deno.test("validation weights drop weak components, and dropped ones are not computed", () => {
  const aurocs = { recon: 0.6, knn0: 0.95, pix: 0.9, cls: 0.5 };
  const all = weightsFromAuroc(aurocs);
  const sum = (w: Record<string, number>) => Object.values(w).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum(all) - 1) < 1e-9);
  assert.ok(all.recon > 0 && all.recon < 0.05, `recon ${all.recon}`);
  assert.equal(all.cls, 0, "no better than chance counts nothing");
  const pruned = weightsFromAuroc(aurocs, 0.05);
  assert.equal(pruned.recon, 0);
  assert.ok(Math.abs(sum(pruned) - 1) < 1e-9);
  assert.ok(Math.abs(pruned.knn0 / pruned.pix - all.knn0 / all.pix) < 1e-9, "ratios kept");
  // The strongest component always stays, whatever the floor.
  assert.deepEqual(usedComponents(["recon", "knn0"], { weights: weightsFromAuroc(aurocs, 0.99) }), [
    "knn0",
  ]);
  assert.deepEqual(usedComponents(["recon", "cls"], {}), ["recon", "cls"]);

  // With recon skipped, the four masked encoder passes do not run and no recon evidence appears.
  const params = initParams(tiny, [], 0);
  const image = new Float32Array(32 * 32 * 3).fill(0.25);
  const skipped = imageEvidence(params, tiny, [image], { skip: new Set(["recon"]) });
  assert.equal(skipped.tokens.recon, undefined);
  const full = imageEvidence(params, tiny, [image]);
  assert.ok(full.tokens.recon);
  // With both sigmoid readings skipped, neither appears; the kNN features stay the same.
  const noHead = imageEvidence(params, tiny, [image], { skip: new Set(["patch", "cls"]) });
  assert.equal(noHead.tokens.patch, undefined);
  assert.equal(noHead.sample.cls, undefined);
  assert.deepEqual(noHead.features.knn0.data, full.features.knn0.data);
  assert.ok(full.tokens.patch && full.sample.cls);
  // Without the sigmoid head the plain pass stops where the kNN token features are taken: the
  // same features as the full pass, on any image.
  const rng = new Rng(8);
  const textured = new Float32Array(32 * 32 * 3).map(() => rng.next());
  const withHead = imageEvidence(params, tiny, [textured]);
  const withoutHead = imageEvidence(params, tiny, [textured], { skip: new Set(["patch", "cls"]) });
  assert.deepEqual(withoutHead.features.knn2.data, withHead.features.knn2.data);
});

Deno.test("validation chooses the smoothed map maximum when it separates better, and back", () => {
  const grid = 5;
  // A map with a one-cell spike of height `spike` and a 3x3 block of height `block`.
  const map = (spike: number, block: number) => {
    const m = new Float32Array(grid * grid);
    m[0] = spike;
    for (let y = 2; y < 5; y++) for (let x = 2; x < 5; x++) m[y * grid + x] = block;
    return m;
  };
  const evidence = (maps: Float32Array[]): Evidence => {
    const values = new Float32Array(maps.length * grid * grid);
    maps.forEach((m, i) => values.set(m, i * grid * grid));
    return { n: maps.length, sample: {}, tokens: { knn0: { grid, values } }, features: {} };
  };
  const config = {
    minComponentWeight: 0,
    separatingAuroc: 0.7,
    thresholdQuantile: 0.99,
    smoothMaps: false,
    chooseSmoothing: true,
    imageWeights: "validation" as const,
    tableWeights: "validation" as const,
    tableScale: "moments" as const,
    tableOneSided: false,
    tableAgreementPower: 0,
    tableOneSidedTail: false,
  };
  const noise = (i: number) => 0.01 * i;
  // Normals carry lone spikes, anomalies wide but lower blocks: only smoothing separates them.
  const spiky = evidence([5, 6, 7].map((v, i) => map(v, noise(i))));
  const wide = evidence([3, 3.5, 4].map((v, i) => map(noise(i), v)));
  const wideWins = fitScoring(spiky, wide, ["knn0"], config, "image");
  assert.equal(wideWins.stats.smooth, true);
  assert.equal(wideWins.report.auroc, 1);
  // Both reductions' validation AUROCs are kept with the choice, in the report and the statistics.
  assert.equal(wideWins.report.reductions?.smoothed, 1);
  assert.ok(wideWins.report.reductions!.plain < 1);
  assert.deepEqual(wideWins.stats.reductions, wideWins.report.reductions);
  // The reverse: normals with faint wide blocks, anomalies with a lone spike.
  const faint = evidence([1, 1.1, 1.2].map((v, i) => map(noise(i), v)));
  const spikes = evidence([4, 5, 6].map((v, i) => map(v, noise(i))));
  const spikeWins = fitScoring(faint, spikes, ["knn0"], config, "image");
  assert.equal(spikeWins.stats.smooth, false);
  assert.equal(spikeWins.report.auroc, 1);
  // Turned off, the config's setting stands.
  const fixed = fitScoring(spiky, wide, ["knn0"], { ...config, chooseSmoothing: false }, "image");
  assert.equal(fixed.stats.smooth, false);
  assert.equal(fixed.stats.reductions, undefined);
});

Deno.test("weighByAgreement: a component that orders the normals unlike the rest loses its weight", () => {
  const n = 40;
  const rising = Float32Array.from({ length: n }, (_, i) => i);
  const near = Float32Array.from({ length: n }, (_, i) => i + (i % 3)); // mostly the same order
  const reversed = Float32Array.from({ length: n }, (_, i) => -i);
  const equal = { knn: 0.25, enc: 0.25, enc_kde: 0.25, dens: 0.25, iso: 0 };
  const scores = { knn: rising, enc: near, enc_kde: rising, dens: reversed, iso: rising };
  const w = weighByAgreement(equal, scores, 8);
  assert.equal(w.dens, 0);
  assert.equal(w.iso, 0); // not counted, so not brought back by agreeing
  assert.ok(w.knn > 0.3 && w.enc > 0.3 && w.enc_kde > 0.3, JSON.stringify(w));
  assert.ok(Math.abs(w.knn + w.enc + w.enc_kde - 1) < 1e-12);
  // Fewer than two counted, or no agreement at all: the weights stay as they were.
  assert.deepEqual(weighByAgreement({ knn: 1, dens: 0 }, scores, 8), { knn: 1, dens: 0 });
  const apart = { knn: 0.5, dens: 0.5 };
  assert.deepEqual(weighByAgreement(apart, { knn: rising, dens: reversed }, 8), apart);
});

Deno.test("fitScoring: tableAgreementPower weighs a table's components by their agreement", () => {
  const n = 50;
  const evidence = (shift: number): Evidence => ({
    n,
    sample: {
      knn: Float32Array.from({ length: n }, (_, i) => shift + i),
      enc: Float32Array.from({ length: n }, (_, i) => shift + i + (i % 4)),
      enc_kde: Float32Array.from({ length: n }, (_, i) => shift + i + (i % 3)),
      // Separates the anomalies as well as the others, but orders the normals the other way.
      dens: Float32Array.from({ length: n }, (_, i) => shift + n - i),
    },
    tokens: {},
    features: {},
  });
  const config = {
    ...DEFAULT_CONFIG.model,
    tableScale: "moments" as const,
    tableOneSided: false,
  };
  const components = ["knn", "enc", "enc_kde", "dens"];
  const off = fitScoring(evidence(0), evidence(200), components, {
    ...config,
    tableAgreementPower: 0,
    tableOneSidedTail: false,
  }, "table");
  assert.deepEqual(Object.values(off.stats.weights!), [0.25, 0.25, 0.25, 0.25]);
  const on = fitScoring(evidence(0), evidence(200), components, config, "table");
  assert.equal(on.stats.weights!.dens, 0);
  const { knn, enc, enc_kde } = on.stats.weights!;
  assert.ok(Math.abs(knn + enc + enc_kde - 1) < 1e-9);
  // Images keep their weighting: the setting is the tables'.
  const images = fitScoring(evidence(0), evidence(200), components, config, "image");
  assert.ok(images.stats.weights!.dens > 0);
});

Deno.test("model.tableAgreementPower: a number >= 0, or a one-line error", () => {
  for (const bad of [-1, -0.5]) {
    assert.throws(
      () => mergeConfig(DEFAULT_CONFIG, { model: { tableAgreementPower: bad } }),
      /model\.tableAgreementPower must be a number >= 0/,
    );
  }
  mergeConfig(DEFAULT_CONFIG, { model: { tableAgreementPower: 0 } });
});

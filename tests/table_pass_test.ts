// The table pass the encoder evidence reads: the first block taken from the tokens' lines must
// give the plain pass's values, for every depth and embedding setting; the evidence reads it after
// the blocks asked for, its bank compares rows in principal directions, and scoring in batches
// (which share their feature arrays) gives the scores of one pass.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig, type ModelConfig } from "../lib/model/config.ts";
import { forwardTable, initParams, type Params, tableTokens } from "../lib/model/madformer.ts";
import { tableResidualOnLines } from "../lib/model/table_pass.ts";
import { addKnn, banksFromEvidence, featureRowsOf, tableEvidence } from "../lib/model/detector.ts";
import { buildBank, knnDistances } from "../lib/model/knn.ts";
import { rowsAt } from "../lib/data/split.ts";
import { fitKey, type Samples, scoreKey } from "../lib/model/scorer.ts";
import { FeatureBuffers } from "../lib/model/evidence/buffers.ts";
import { Rng } from "../lib/rng.ts";
import { SMALL_MODEL } from "./fixtures.ts";

await useBackend("wasm");

const small = mergeConfig(DEFAULT_CONFIG, { model: { ...SMALL_MODEL, layers: 3 } }).model;

function rowsOf(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  // Values as normalised features have them, a few far out.
  return Float32Array.from({ length: n * d }, () => rng.normal() * (rng.next() < 0.1 ? 6 : 1));
}

/** The largest difference between two arrays, relative to the largest value of `a`. */
function relativeGap(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let gap = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    gap = Math.max(gap, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return gap / scale;
}

function read(fn: () => tf.Tensor): Float32Array {
  return tf.tidy(() => fn().dataSync() as Float32Array);
}

/** The plain pass's feature tokens after `blocks` blocks: the whole forward pass's residual. */
function tableResidual(
  params: Params,
  config: ModelConfig,
  table: string,
  rows: tf.Tensor2D,
  blocks = config.layers,
): tf.Tensor {
  return forwardTable(params, config, table, rows, null).residual(blocks);
}

function withTable(config: ModelConfig, d: number, seed = 3): Params {
  return initParams(config, [{ name: "t", features: d }], seed);
}

Deno.test("table pass: the first block from the tokens' lines equals the plain pass", () => {
  const d = 5;
  const x = rowsOf(9, d, 1);
  const configs: ModelConfig[] = [
    small,
    { ...small, positionEmbedding: false },
    { ...small, modalityEmbedding: false },
    { ...small, sharedEncoder: false },
    { ...small, modalityExperts: "mlp" as const },
    { ...small, modalityExperts: "attention" as const },
  ];
  for (const config of configs) {
    const params = withTable(config, d);
    for (const blocks of [1, 2, 3]) {
      const plain = read(() => tableResidual(params, config, "t", tf.tensor2d(x, [9, d]), blocks));
      const lines = read(() =>
        tableResidualOnLines(params, config, "t", tf.tensor2d(x, [9, d]), blocks)
      );
      assert.equal(lines.length, 9 * d * config.width);
      assert.ok(relativeGap(plain, lines) < 1e-5, `blocks ${blocks}: ${relativeGap(plain, lines)}`);
    }
    for (const v of params.values()) v.dispose();
  }
});

Deno.test("table pass: a single feature and a single row", () => {
  for (const [n, d] of [[1, 4], [6, 1]]) {
    const params = withTable(small, d);
    const x = rowsOf(n, d, 2);
    const plain = read(() => tableResidual(params, small, "t", tf.tensor2d(x, [n, d])));
    const lines = read(() => tableResidualOnLines(params, small, "t", tf.tensor2d(x, [n, d])));
    assert.ok(relativeGap(plain, lines) < 1e-5, `${n} x ${d}`);
    for (const v of params.values()) v.dispose();
  }
});

Deno.test("table evidence: enc reads the pass after tableEncoderBlocks blocks", () => {
  const d = 4;
  const n = 11;
  const x = rowsOf(n, d, 5);
  const on = { ...small, tableEncoderEvidence: true };
  const params = withTable(on, d);
  const expected = (blocks: number) =>
    read(() => tableResidual(params, on, "t", tf.tensor2d(x, [n, d]), blocks));
  // 0: the last block; more than there are: the last block too.
  for (const [blocks, reads] of [[0, 3], [1, 1], [2, 2], [9, 3]]) {
    const evidence = tableEvidence(params, { ...on, tableEncoderBlocks: blocks }, "t", x, d);
    assert.equal(evidence.features.enc.dim, d * on.width);
    assert.ok(relativeGap(expected(reads), evidence.features.enc.data) < 1e-5, `blocks ${blocks}`);
  }
  // With the sigmoid head counting too, both read one full pass: its class logits and the
  // tokens after the blocks asked for.
  const both = { ...on, tableHeadEvidence: true, tableEncoderBlocks: 2 };
  const evidence = tableEvidence(params, both, "t", x, d);
  assert.ok(relativeGap(expected(2), evidence.features.enc.data) < 1e-5);
  const logits = read(() =>
    forwardTable(params, both, "t", tf.tensor2d(x, [n, d]), null).clsLogits
  );
  assert.ok(relativeGap(logits, evidence.sample.cls) < 1e-5);
  // Nothing is left behind on the backend (the weights' lines are made once and freed).
  const before = tf.memory().numTensors;
  tableEvidence(params, on, "t", x, d);
  assert.equal(tf.memory().numTensors, before);
  // Left out of the score, it costs no pass and yields nothing.
  const skipped = tableEvidence(params, on, "t", x, d, { skip: new Set(["enc"]) });
  assert.equal(skipped.features.enc, undefined);
  assert.ok(skipped.features.knn);
  for (const v of params.values()) v.dispose();
});

Deno.test("table evidence: enc's bank compares rows in principal directions, the same each fit", () => {
  const d = 6;
  const on = { ...small, width: 32, tableEncoderEvidence: true, knnProjection: 16 };
  const params = withTable(on, d);
  const train = tableEvidence(params, on, "t", rowsOf(300, d, 7), d, { featuresOnly: true });
  const fit = () => banksFromEvidence(train, { limit: 120, seed: 0, projection: on.knnProjection });
  const banks = fit();
  // d x width = 192 numbers a row in 16 directions; the tokens before the encoder are compared
  // as their d positions on their lines, whole and exactly.
  assert.equal(banks.enc.dim, d * on.width);
  assert.equal(banks.enc.projection?.width, 16);
  assert.equal(banks.enc.rows, 120);
  assert.equal(banks.knn.projection, undefined);
  // A fixed seed: the same rows and directions every time.
  const again = fit();
  assert.deepEqual(again.enc.sources, banks.enc.sources);
  assert.deepEqual(again.enc.projection!.basis, banks.enc.projection!.basis);
  // Scores within 1% of the whole-width search on the same bank rows: the tokens
  // are a function of 6 values, so 16 directions carry nearly all their spread.
  const test = tableEvidence(params, on, "t", rowsOf(50, d, 8), d);
  addKnn(test, banks, on);
  const whole = banksFromEvidence(train, { limit: 120, seed: 0 }).enc;
  assert.deepEqual(whole.sources, banks.enc.sources);
  const exact = knnDistances(whole, test.features.enc.data, on.tableKnnK);
  assert.ok(relativeGap(exact, test.sample.enc) < 0.01, `${relativeGap(exact, test.sample.enc)}`);
  // The kNN compares d positions a row against every fitted row (not a coreset of `limit`: the
  // normals' density counts), and reads the distances of the whole tokens before the encoder
  // (d x width numbers a row) to all of them.
  assert.equal(banks.knn.dim, d);
  assert.equal(banks.knn.rows, 300);
  assert.deepEqual([...banks.knn.sources!], [...Array(300).keys()]);
  const tokens = (values: Float32Array) =>
    read(() => tableTokens(params, "t", tf.tensor2d(values, [values.length / d, d])));
  const bankTokens = tokens(rowsOf(300, d, 7));
  const rowBank = buildBank(bankTokens, d * on.width, 300, new Rng(0), { coreset: false });
  const byTokens = knnDistances(rowBank, tokens(rowsOf(50, d, 8)), on.tableKnnK);
  const gap = relativeGap(byTokens, test.sample.knn);
  assert.ok(gap < 1e-5, `${gap}`);
  for (const v of params.values()) v.dispose();
});

Deno.test("table scoring with enc: the same scores in scoring batches of any size", () => {
  const d = 4;
  const rowsOfTable = (n: number, seed: number, shift = 0): Samples => ({
    modality: "table",
    table: "t",
    d,
    rows: rowsOf(n, d, seed).map((v, i) => v + (i % d === 0 ? shift : 0)),
  });
  for (const blocks of [0, 1]) {
    const config = {
      ...small,
      width: 32,
      tableEncoderEvidence: true,
      tableEncoderBlocks: blocks,
      knnProjection: 16,
    };
    const params = withTable(config, d);
    const { fitted } = fitKey(
      params,
      config,
      rowsOfTable(400, 1),
      rowsOfTable(80, 2),
      rowsOfTable(80, 3, 4),
      0,
    );
    assert.ok(fitted.banks.enc.projection, "enc's bank in principal directions");
    const test = rowsOfTable(1300, 4);
    const whole = scoreKey(params, config, fitted, test, { batchRows: 1300 });
    // Several batches share one set of feature arrays; BLAS products of other sizes round apart.
    for (const batchRows of [512, 700]) {
      const batched = scoreKey(params, config, fitted, test, { batchRows });
      assert.ok(relativeGap(whole.parts.enc, batched.parts.enc) < 1e-4, `${blocks}, ${batchRows}`);
      assert.ok(relativeGap(whole.scores, batched.scores) < 1e-4);
      assert.deepEqual(batched.parts.knn, whole.parts.knn);
    }
    for (const v of params.values()) v.dispose();
  }
});

Deno.test("feature buffers: the same arrays, in the same order, for every batch", () => {
  const buffers = new FeatureBuffers();
  const [a, b] = [buffers.take(6), buffers.take(4)];
  a.fill(1);
  buffers.reset();
  // The next batch's arrays are the first one's (not cleared), the last batch's shorter views.
  const [a2, b2] = [buffers.take(5), buffers.take(4)];
  assert.equal(a2.buffer, a.buffer);
  assert.equal(b2.buffer, b.buffer);
  assert.deepEqual(Array.from(a2), [1, 1, 1, 1, 1]);
  buffers.reset();
  // Longer than before: a new array.
  assert.notEqual(buffers.take(7).buffer, a.buffer);
});

Deno.test("featureRowsOf: the features of some rows, as if made of those rows alone", () => {
  const d = 6;
  const on = { ...small, width: 32, tableEncoderEvidence: true };
  const params = withTable(on, d);
  const rows = rowsOf(40, d, 3);
  const picked = [5, 0, 17, 39];
  // Features for banks, and features scored against banks.
  for (const featuresOnly of [true, false]) {
    const all = tableEvidence(params, on, "t", rows, d, { featuresOnly }).features;
    const part = Object.fromEntries(
      Object.entries(all).map(([name, f]) => [name, featureRowsOf(f, picked)]),
    );
    const alone = tableEvidence(params, on, "t", rowsAt(rows, d, picked), d, { featuresOnly });
    assert.deepEqual(Object.keys(part), Object.keys(alone.features));
    assert.equal(part.knn.exact, true);
    for (const [name, f] of Object.entries(alone.features)) {
      assert.ok(relativeGap(f.data, part[name].data) < 1e-5, name);
    }
  }
  for (const v of params.values()) v.dispose();
});

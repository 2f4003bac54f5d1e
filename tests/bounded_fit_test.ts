/**
 * Fitting and scoring hold a bounded number of samples' features at once, whatever the data:
 * banks from a sample of the training rows or images, evidence scored a chunk at a time with
 * the values of one pass; the evaluation's report of the trained heads on a sample of a wide
 * table's rows.
 */
import assert from "node:assert/strict";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { initParams } from "../lib/model/madformer.ts";
import {
  bankOwners,
  fitKey,
  fitSubset,
  fullEvidence,
  IMAGE_FIT_IMAGES,
  IMAGE_SCORE_CHUNK,
  type Samples,
  scoredEvidence,
  TABLE_FIT_ROWS,
} from "../lib/model/scorer.ts";
import { tableFitRows } from "../lib/model/table_batch.ts";
import { headReportRows, headReportSample } from "../lib/experiment/evaluate_checkpoint.ts";
import { Rng } from "../lib/rng.ts";
import { SMALL_MODEL } from "./fixtures.ts";

await useBackend("wasm");

const config = mergeConfig(DEFAULT_CONFIG, { model: SMALL_MODEL }).model;
const S = config.imageSize;

function images(n: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from(
    { length: n },
    () => Float32Array.from({ length: S * S * 3 }, () => rng.next()),
  );
}

function tableRows(n: number, d: number): Samples {
  return { modality: "table", table: "t", d, rows: new Float32Array(n * d).map((_, i) => i % 7) };
}

Deno.test("fit subset: wide tables fit on as many rows as the budget holds, images on 400", () => {
  const model = DEFAULT_CONFIG.model;
  // Thyroid-like: every row up to TABLE_FIT_ROWS, as before.
  const narrow = fitSubset(tableRows(1000, 6), model, 0);
  assert.equal(narrow.kept, null);
  assert.equal(fitSubset(tableRows(TABLE_FIT_ROWS + 1, 2), model, 0).kept!.length, TABLE_FIT_ROWS);
  // 500 features: 2,097 rows of token features in the 512 MB budget.
  const wide = fitSubset(tableRows(3000, 500), model, 0);
  const limit = tableFitRows(model, 500);
  assert.equal(wide.kept!.length, limit);
  assert.equal((wide.samples as { rows: Float32Array }).rows.length, limit * 500);
  assert.deepEqual(wide.kept, [...wide.kept!].sort((a, b) => a - b));
  assert.deepEqual(fitSubset(tableRows(3000, 500), model, 0).kept, wide.kept);
  // Images: all up to IMAGE_FIT_IMAGES, else a seeded sample of that many, in order.
  const few = { modality: "image" as const, images: new Array(IMAGE_FIT_IMAGES).fill(null) };
  assert.equal(fitSubset(few, model, 0).kept, null);
  const many = { modality: "image" as const, images: Array.from({ length: 1000 }, (_, i) => i) };
  const cut = fitSubset(many as unknown as Samples, model, 3);
  assert.equal(cut.kept!.length, IMAGE_FIT_IMAGES);
  assert.deepEqual(
    (cut.samples as unknown as { images: number[] }).images,
    cut.kept,
    "the kept images, in order",
  );
});

Deno.test("bank owners: each normal's sample among those the banks were fitted on", () => {
  assert.deepEqual([...bankOwners(3, 2, null)], [0, 1, 2, -1, -1]);
  assert.deepEqual([...bankOwners(5, 1, [1, 4])], [-1, 0, -1, -1, 1, -1]);
});

Deno.test("images scored a chunk at a time: the evidence of one pass", () => {
  const params = initParams(config, [], 0);
  const { fitted } = fitKey(
    params,
    config,
    { modality: "image", images: images(12, 1) },
    { modality: "image", images: images(4, 2) },
    { modality: "image", images: images(4, 3) },
    0,
  );
  const test: Samples = { modality: "image", images: images(2 * IMAGE_SCORE_CHUNK + 7, 4) };
  const whole = fullEvidence(params, config, test, fitted.banks);
  const chunked = scoredEvidence(params, config, test, fitted.banks);
  assert.equal(chunked.n, whole.n);
  assert.deepEqual(chunked.features, {});
  assert.deepEqual(Object.keys(chunked.sample), Object.keys(whole.sample));
  for (const [name, values] of Object.entries(whole.sample)) {
    assert.deepEqual(chunked.sample[name], values, name);
  }
  assert.deepEqual(Object.keys(chunked.tokens).sort(), Object.keys(whole.tokens).sort());
  for (const [name, map] of Object.entries(whole.tokens)) {
    assert.equal(chunked.tokens[name].grid, map.grid);
    assert.deepEqual(chunked.tokens[name].values, map.values, name);
  }
  for (const [, p] of params) p.dispose();
});

Deno.test("eval's head report: every test row of thyroid, a stratified sample of wide or long tables", () => {
  assert.ok(headReportRows(6) > 1933);
  assert.equal(headReportRows(1), 20000); // the rows' cap, below 2 ** 20 tokens of 2
  assert.equal(headReportRows(500), 2092); // 2 ** 20 tokens of 501
  const n = 50_500;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i % 50 === 0 ? 1 : 0));
  assert.equal(headReportSample(labels.subarray(0, 1933), headReportRows(6), 0), null);
  const keep = headReportSample(labels, 2092, 0)!;
  assert.equal(keep.length, 2092);
  assert.deepEqual(keep, [...keep].sort((a, b) => a - b));
  assert.equal(new Set(keep).size, keep.length);
  const anomalies = keep.filter((i) => labels[i] === 1).length;
  assert.equal(anomalies, Math.round((2092 * 1010) / n));
  assert.deepEqual(headReportSample(labels, 2092, 0), keep);
  // A single anomaly among many rows is still in the sample.
  const one = new Uint8Array(10_000);
  one[7777] = 1;
  assert.ok(headReportSample(one, 100, 1)!.includes(7777));
});

import assert from "node:assert/strict";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { initParams } from "../lib/model/madformer.ts";
import {
  atMost,
  calibrateTableKey,
  fitKey,
  MIN_TABLE_CALIBRATION_ROWS,
  type Samples,
  scoreKey,
  scoringBatchRows,
  TABLE_CALIBRATION_FOLDS,
  TABLE_FIT_ROWS,
  tableCalibrationRows,
} from "../lib/model/scorer.ts";
import { tableScaleSummary, writeScaleTable } from "../lib/bench/table_scale.ts";
import { readLabelledCsv } from "../lib/data/table.ts";
import { Rng } from "../lib/rng.ts";
import { TINY } from "./fixtures.ts";

const config = mergeConfig(DEFAULT_CONFIG, TINY).model;
const d = 4;
const params = initParams(config, [{ name: "t", features: d }], 0);

function rows(n: number, seed: number, shift = 0): Samples {
  const rng = new Rng(seed);
  return {
    modality: "table",
    table: "t",
    d,
    rows: Float32Array.from({ length: n * d }, (_, i) => rng.normal() + (i % d === 0 ? shift : 0)),
  };
}

Deno.test("table scoring in batches gives the scores of one pass, batch size any", () => {
  const { fitted } = fitKey(params, config, rows(600, 1), rows(100, 2), rows(100, 3, 4), 0);
  const test = rows(1500, 4);
  const whole = scoreKey(params, config, fitted, test, { batchRows: 1500 });
  assert.equal(whole.scores.length, 1500);
  for (const batchRows of [1, 512, 700]) {
    const batched = scoreKey(params, config, fitted, test, { batchRows });
    assert.deepEqual(batched.scores, whole.scores);
    assert.deepEqual(Object.keys(batched.parts), Object.keys(whole.parts));
    for (const c of Object.keys(whole.parts)) assert.deepEqual(batched.parts[c], whole.parts[c]);
  }
  assert.throws(() => scoreKey(params, config, fitted, test, { batchRows: 0 }), RangeError);
  // With progress, a batch at a time and each reported: the same scores.
  const heard: number[] = [];
  const reported = scoreKey(params, config, fitted, test, {
    batchRows: 700,
    onProgress: (done, total) => heard.push(done, total),
  });
  assert.deepEqual(heard, [0, 1500, 700, 1500, 1400, 1500, 1500, 1500]);
  assert.deepEqual(reported.scores, whole.scores);
  for (const c of Object.keys(whole.parts)) assert.deepEqual(reported.parts[c], whole.parts[c]);
});

Deno.test("a table calibrated on all its normals: every row counts, banks of every row", () => {
  const table = (samples: Samples) => (samples as Extract<Samples, { modality: "table" }>).rows;
  const train = table(rows(120, 7));
  const val = table(rows(15, 8));
  const out = calibrateTableKey(params, config, "t", d, train, val, 0, 11)!;
  assert.equal(out.fitted.stats.calibrated, 135);
  // The kept banks hold every normal (the kNN banks keep up to their limits, far above 135).
  assert.equal(out.fitted.banks.knn.rows, 135);
  // The same seeds, the same calibration; other anomaly seeds deal other folds.
  const again = calibrateTableKey(params, config, "t", d, train, val, 0, 11)!;
  assert.deepEqual(again.fitted.stats, out.fitted.stats);
  const other = calibrateTableKey(params, config, "t", d, train, val, 0, 12)!;
  assert.notDeepEqual(other.fitted.stats, out.fitted.stats);
  // Fitted so, a row pushed out of range scores above the normals.
  const normal = scoreKey(params, config, out.fitted, rows(200, 9)).scores;
  const far = scoreKey(params, config, out.fitted, rows(200, 10, 6)).scores;
  const mean = (v: Float32Array) => v.reduce((a, b) => a + b, 0) / v.length;
  assert.ok(mean(far) > mean(normal) + 1, `${mean(far)} against ${mean(normal)}`);
  // Bounded by tokens, the folds deal a sample of the normals; the kept banks still hold all.
  const bounded = calibrateTableKey(params, config, "t", d, train, val, 0, 11, d)!;
  assert.equal(bounded.fitted.stats.calibrated, MIN_TABLE_CALIBRATION_ROWS);
  assert.equal(bounded.fitted.banks.knn.rows, 135);
  assert.equal(tableCalibrationRows(500), 400);
  assert.equal(tableCalibrationRows(36), 5555);
  assert.equal(tableCalibrationRows(6), 10_000); // TABLE_VALIDATION_ROWS
  assert.equal(tableCalibrationRows(100_000), MIN_TABLE_CALIBRATION_ROWS);
  // Too few rows for the folds: null, and validation's own fit stays.
  const few = table(rows(2 * TABLE_CALIBRATION_FOLDS - 2, 11));
  assert.equal(calibrateTableKey(params, config, "t", d, few, table(rows(1, 12)), 0, 11), null);
});

Deno.test("table batches are bounded by bytes of token features, at least 512 rows", () => {
  const model = DEFAULT_CONFIG.model;
  assert.equal(scoringBatchRows(model, 6), 10922);
  assert.equal(scoringBatchRows(model, 100), 655);
  assert.equal(scoringBatchRows(model, 5000), 512);
  assert.equal(scoringBatchRows(model, 6, 1000), 1000);
});

Deno.test("table fitting reads at most TABLE_FIT_ROWS training rows, the same ones every time", () => {
  const big = rows(TABLE_FIT_ROWS + 5, 5);
  const cut = atMost(big, TABLE_FIT_ROWS, 3) as Extract<Samples, { modality: "table" }>;
  assert.equal(cut.rows.length, TABLE_FIT_ROWS * d);
  assert.deepEqual(cut.rows, (atMost(big, TABLE_FIT_ROWS, 3) as typeof cut).rows);
  const small = rows(10, 6);
  assert.equal(atMost(small, 10, 3), small);
});

Deno.test("scale tables: the requested shape, a label column, about 1% anomalies", async () => {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    const anomalies = await writeScaleTable(path, { rows: 20000, features: 3, seed: 1 });
    const table = readLabelledCsv(path);
    assert.equal(table.n, 20000);
    assert.equal(table.d, 3);
    assert.equal(table.labels!.reduce((s, l) => s + l, 0), anomalies);
    assert.ok(anomalies > 120 && anomalies < 280, `${anomalies} anomalies`);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("table-scale summary: one line per table, ratios, and why scikit-learn is missing", () => {
  const text = tableScaleSummary([
    {
      rows: 100000,
      features: 6,
      file: "t.csv",
      train: { seconds: 100, peakRssBytes: 2 ** 30 },
      score: { seconds: 6, peakRssBytes: 2 ** 29 },
      scoreAuroc: 0.95,
      sklearn: {
        python: "python3",
        process: { seconds: 7, peakRssBytes: 2 ** 28 },
        readSeconds: 0.5,
        isolationForest: { seconds: 2, trees: 100, auroc: 0.9 },
        knn: { seconds: 3, k: 5, auroc: 0.96 },
      },
      scoreOverKnn: 2,
      scoreOverIsolationForest: 3,
    },
    {
      rows: 1000,
      features: 50,
      file: "u.csv",
      train: { seconds: null, peakRssBytes: null, note: "failed: boom" },
      score: { seconds: null, peakRssBytes: null, note: "no checkpoint" },
      scoreAuroc: null,
      sklearn: null,
      sklearnNote: "no Python with scikit-learn found",
      scoreOverKnn: null,
      scoreOverIsolationForest: null,
    },
  ]);
  const lines = text.split("\n");
  assert.match(lines[2], /100,000\s+6\s+100\.0\s+1\.00\s+6\.0\s+0\.50\s+0\.950\s+2\.00\s+3\.00/);
  assert.match(lines[2], /2\.00\s+3\.00$/);
  assert.match(lines[3], /1,000\s+50\s+—/);
  assert.ok(text.includes("1000x50 train: failed: boom"));
  assert.ok(text.includes("1000x50 scikit-learn: no Python with scikit-learn found"));
});

/**
 * kNN evidence of table rows (`knn`): a row's feature tokens before the encoder (a learned
 * per-feature embedding of its values) against the normal rows it was fitted on.
 *
 * A feature's token is value x slope + offset (`tableTokens`), so two rows' tokens of feature j
 * lie |v_j - w_j| x |slope_j| apart, and the distance between their whole token rows is the
 * Euclidean distance between their feature positions v_j x |slope_j|. The component compares
 * those d numbers a row: the same distances as the d x width tokens, from a width-th of the
 * memory (a bank of 2,000 rows of 1,555 features was 1.6 GB of tokens, and the training rows'
 * tokens as much again before the coreset kept some).
 *
 * @module
 */
import { param } from "../madformer.ts";
import { knnScore, projectedSampleBank, SAMPLED_ROWS } from "./common.ts";
import { KNN_SWITCH } from "./switches.ts";
import type { EvidenceComponent } from "./types.ts";

/** `knn`: the table row's feature tokens, compared as their positions along each feature's line. */
export const tableKnn: EvidenceComponent = {
  family: "table kNN",
  modalities: ["table"],
  switch: KNN_SWITCH,
  trained: false,
  names: () => ["knn"],
  owns: (name) => name === "knn",
  meaning: () => "distance of the row to its nearest normal rows",
  fit: "sample",
  dataOnly: false,
  // Every fitted row (at most 20,000), not a coreset: a row's mean distance to its 5 nearest
  // normals reads their density, which a k-center coreset of 2,000 (`knnBankSize`) evens out,
  // keeping the normals' extent. On a table of 99,600 training rows the kNN alone read 0.943 on a
  // coreset and reads 0.965 on 20,000 rows (docs/results.md, "v35"); up to 2,000 fitted rows the
  // two banks are the same.
  fitBank: (features, settings) =>
    projectedSampleBank(features, { ...settings, limit: SAMPLED_ROWS }, 0),
  score: (bank, features, config, leaveOut) => knnScore(bank, features, config, leaveOut),
  stored: "bank",
  bankDim: (_config, _name, features) => features,
  // Checkpoints before `v34` stored whole tokens, [d x width, rows] (at width 1 the two forms
  // share a shape, and the bank is read as it is).
  readOldBank: ({ shape, data }, params, config, { name, features }) =>
    config.width > 1 && shape.length === 2 && shape[0] === features * config.width && shape[1] >= 1
      ? positionsOfTokenBank(
        data,
        shape[1],
        param(params, `table.${name}.value`).dataSync() as Float32Array,
        param(params, `table.${name}.bias`).dataSync() as Float32Array,
        features,
      )
      : null,
  tables: ({ params, n, table: rows, floats }) => {
    const { d, name } = rows!;
    const scale = slopeLengths(param(params, `table.${name}.value`).dataSync() as Float32Array, d);
    return {
      finish: (evidence) => {
        const data = floats(n * d);
        for (let i = 0; i < n * d; i++) data[i] = rows!.rows[i] * scale[i % d];
        evidence.features.knn = { dim: d, grid: 1, data, exact: true };
      },
    };
  },
};

/** |slope_j| of each of d features' value embeddings (row-major [d, width]). */
function slopeLengths(slope: Float32Array, d: number): Float64Array {
  const width = slope.length / d;
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let sq = 0;
    for (let c = j * width; c < (j + 1) * width; c++) sq += slope[c] * slope[c];
    out[j] = Math.sqrt(sq);
  }
  return out;
}

/**
 * A bank stored as whole tokens (checkpoints before `v34`: transposed [d x width, rows]) as the
 * feature positions this component compares (transposed [d, rows]): token row b of feature j lies
 * at (b - offset_j) . slope_j / |slope_j| along its line, the same distances up to rounding.
 */
export function positionsOfTokenBank(
  transposed: Float32Array,
  rows: number,
  slope: Float32Array,
  offset: Float32Array,
  d: number,
): Float32Array {
  const width = slope.length / d;
  const scale = slopeLengths(slope, d);
  const out = new Float32Array(d * rows);
  for (let j = 0; j < d; j++) {
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let c = j * width; c < (j + 1) * width; c++) {
        dot += (transposed[c * rows + r] - offset[c]) * slope[c];
      }
      out[j * rows + r] = scale[j] > 0 ? dot / scale[j] : 0;
    }
  }
  return out;
}

/**
 * kNN evidence of table rows (`knn`): a row's feature tokens before the encoder (a learned
 * per-feature embedding of its values) against a coreset of normal rows' tokens.
 *
 * @module
 */
import { param, tableTokens } from "../madformer.ts";
import { readInto } from "../../backend/wasm_memory.ts";
import { coresetBank, knnScore } from "./common.ts";
import { KNN_SWITCH } from "./switches.ts";
import type { EvidenceComponent } from "./types.ts";

/** `knn`: the table row's feature tokens. */
export const tableKnn: EvidenceComponent = {
  family: "table kNN",
  modalities: ["table"],
  switch: KNN_SWITCH,
  trained: false,
  names: () => ["knn"],
  owns: (name) => name === "knn",
  fit: "coreset",
  dataOnly: false,
  fitBank: (features, settings) => coresetBank(features, settings),
  score: (bank, features, config, leaveOut) => knnScore(bank, features, config, leaveOut),
  stored: "bank",
  bankDim: (config, _name, features) => features * config.width,
  tables: ({ params, config, n, table: rows, floats, options }) => {
    const featureDim = rows!.d * config.width;
    if (!options.featuresOnly) {
      // Scored against a bank: each token is value x slope + offset, so the values and the two
      // [d, width] embeddings say all the search needs (a width-th of the tokens, which cost as
      // much to make and read as the search itself at 100,000 rows).
      const slope = param(params, `table.${rows!.name}.value`).dataSync() as Float32Array;
      const offset = param(params, `table.${rows!.name}.bias`).dataSync() as Float32Array;
      return {
        finish: (evidence) => {
          evidence.features.knn = {
            dim: featureDim,
            grid: 1,
            data: new Float32Array(0),
            lines: { blocks: rows!.d, values: rows!.rows, slope, offset },
          };
        },
      };
    }
    const features = floats(n * featureDim);
    return {
      // The feature tokens before the encoder: a learned per-feature embedding of the values, so
      // distances weigh each feature by what training made of it, magnitudes intact.
      batch: ({ table, x, start }) => {
        readInto(tableTokens(params, table, x), features, start * featureDim);
      },
      finish: (evidence) => {
        evidence.features.knn = { dim: featureDim, grid: 1, data: features };
      },
    };
  },
};

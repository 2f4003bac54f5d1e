/**
 * kNN evidence of the model's image features (`knn<L>`): stem stage L's feature map, or for the
 * last level the stem tokens and the tokens after `knnTokenLayer` encoder layers, each
 * L2-normalised, against a coreset of normals' features (PatchCore-like).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../config.ts";
import { geometry } from "../madformer.ts";
import { coresetBank, featureSlot, knnScore } from "./common.ts";
import { KNN_SWITCH } from "./switches.ts";
import type { EvidenceComponent } from "./types.ts";

/** kNN feature levels an image config uses, each a valid stem stage or the token level. */
export function knnLevels(config: ModelConfig): number[] {
  const last = config.stem.length - 1;
  return [...new Set(config.knnLevels.filter((l) => l >= 0 && l <= last))].sort();
}

function l2(x: tf.Tensor): tf.Tensor {
  return x.div(x.norm("euclidean", -1, true).add(1e-6));
}

/** `knn<L>`: the learned image features of level L. */
export const stemKnn: EvidenceComponent = {
  family: "stem kNN",
  modalities: ["image"],
  switch: KNN_SWITCH,
  trained: false,
  names: (config) => knnLevels(config).map((l) => `knn${l}`),
  owns: (name) => /^knn\d+$/.test(name),
  meaning: (name) =>
    `distance of the conv stem's stage-${name.slice(3)} features to the nearest normal ones`,
  fit: "coreset",
  dataOnly: false,
  fitBank: (features, settings) => coresetBank(features, settings),
  score: (bank, features, config, leaveOut) => knnScore(bank, features, config, leaveOut),
  stored: "bank",
  bankDim: (config, name) => {
    const level = Number(name.slice(3));
    return level < config.stem.length - 1 ? config.stemChannels[level] : 2 * config.width;
  },
  images: ({ config, n }) => {
    const levels = knnLevels(config);
    const last = config.stem.length - 1;
    const g = geometry(config);
    return {
      encoder: levels.includes(last) ? "tap" : undefined,
      stemStages: Math.max(-1, ...levels) + 1,
      batch: ({ B, start, plain, stages }, evidence) => {
        for (const level of levels) {
          const grid = level < last ? stages[level].shape[1] : g.grid;
          const tokens = () => tf.concat([l2(plain!.stemTokens), l2(plain!.knnTokens)], 2);
          const map = level < last ? stages[level] : tokens().reshape([B, grid, grid, -1]);
          const k = config.knnNeighbourhood;
          const feats = k > 1 ? tf.avgPool(map as tf.Tensor4D, k, 1, "same") : map;
          const dim = feats.shape[feats.shape.length - 1]!;
          featureSlot(evidence.features, `knn${level}`, n, dim, grid).data
            .set(feats.dataSync(), start * grid * grid * dim);
        }
      },
    };
  },
};

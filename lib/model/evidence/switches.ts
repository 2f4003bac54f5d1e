/**
 * The config switches shared by several evidence components, with the ablation variants they
 * name. A component with a switch of its own declares it in its own file.
 *
 * @module
 */
import type { EvidenceSwitch } from "./types.ts";

/** `reconstructionHead`: the masked-reconstruction head. */
export const RECONSTRUCTION_SWITCH: EvidenceSwitch = {
  key: "reconstructionHead",
  only: { name: "reconstruction_only", description: "masked-reconstruction head alone" },
  without: {
    name: "no_reconstruction_head",
    description: "anomaly + kNN heads, no masked-reconstruction head (nor its training loss)",
  },
};

/** `knnHead`: every nearest-neighbour view (image features and pixels, table tokens). */
export const KNN_SWITCH: EvidenceSwitch = {
  key: "knnHead",
  only: {
    name: "knn_only",
    description: "nearest-neighbour head alone (no trained head: the encoder stays as initialised)",
  },
  without: { name: "no_knn_head", description: "reconstruction + anomaly heads, no kNN head" },
};

/** `anomalyHead`: the sigmoid head trained against synthetic anomalies. */
export const ANOMALY_HEAD_SWITCH: EvidenceSwitch = {
  key: "anomalyHead",
  only: { name: "anomaly_head_only", description: "sigmoid anomaly head alone" },
  without: {
    name: "no_anomaly_head",
    description: "reconstruction + kNN heads, no sigmoid anomaly head",
  },
};

/**
 * Encoder evidence (`enc`): what the Transformer itself makes of a sample. Each image cell's and
 * each table row's tokens after the last encoder block (the residual stream before the final layer
 * norm, so a token keeps its magnitude) are compared with a coreset of the training normals'
 * tokens: the distance to the nearest normal ones is the evidence. Everything that shapes those
 * tokens (the modality-type and position embeddings, the shared or separate encoder, the training
 * losses) shapes this score, which is what the ablations measure.
 *
 * @module
 */
import type { ModelConfig } from "../config.ts";
import { forwardTable, geometry } from "../madformer.ts";
import { coresetBank, featureSlot, knnScore } from "./common.ts";
import type { EvidenceComponent, EvidenceSwitch } from "./types.ts";

/** `encoderEvidence`: the encoder-output nearest-neighbour evidence. */
export const ENCODER_SWITCH: EvidenceSwitch = {
  key: "encoderEvidence",
  only: {
    name: "encoder_only",
    description: "the Transformer's own evidence alone (encoder output against normals)",
    // The heads' losses are what trains the encoder; with `enc` on, their evidence does not count.
    keep: ["reconstructionHead", "anomalyHead", "tableEncoderEvidence"],
  },
  without: { name: "no_encoder_evidence", description: "without the encoder-output evidence" },
  legacy: false,
};

/** Width of a sample's encoder features: one token per image cell, every feature token per row. */
function encoderDim(config: ModelConfig, features: number): number {
  return features > 0 ? features * config.width : config.width;
}

/** `enc`: image cells' and table rows' tokens after the encoder. */
export const encoderEvidence: EvidenceComponent = {
  family: "encoder",
  modalities: ["image", "table"],
  switch: ENCODER_SWITCH,
  trained: false,
  // Tables only when asked: an encoder pass per row costs ten times a kNN on the rows at 100,000
  // rows (docs/transformer-evidence.md) and gained nothing on thyroid.
  names: (config, modality) => modality === "table" && !config.tableEncoderEvidence ? [] : ["enc"],
  owns: (name) => name === "enc",
  fit: "coreset",
  dataOnly: false,
  fitBank: (features, settings) => coresetBank(features, settings),
  score: (bank, features, config, leaveOut) => knnScore(bank, features, config, leaveOut),
  stored: "bank",
  bankDim: (config, _name, features) => encoderDim(config, features),
  images: ({ config, n }) => {
    const g = geometry(config);
    return {
      encoder: "full",
      batch: ({ start, plain }, evidence) => {
        featureSlot(evidence.features, "enc", n, config.width, g.grid).data
          .set(plain!.residual().dataSync(), start * g.tokens * config.width);
      },
    };
  },
  tables: ({ params, config, n, table: rows }) => {
    if (!config.tableEncoderEvidence) return null;
    const dim = encoderDim(config, rows!.d);
    const features = new Float32Array(n * dim);
    return {
      passes: 1,
      batch: ({ table, x, start }) => {
        features.set(
          forwardTable(params, config, table, x, null).residual().dataSync(),
          start * dim,
        );
      },
      finish: (evidence) => {
        evidence.features.enc = { dim, grid: 1, data: features };
      },
    };
  },
};

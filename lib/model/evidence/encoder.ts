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
import { imageEncoderDepth, type ModelConfig } from "../config.ts";
import { geometry, tableGroups } from "../madformer.ts";
import { readInto } from "../../backend/wasm_memory.ts";
import { coresetBank, featureSlot, knnScore } from "./common.ts";
import type {
  EvidenceComponent,
  EvidenceRequest,
  EvidenceSwitch,
  EvidenceWriter,
  TableBatch,
} from "./types.ts";

/** The encoder evidence's component name, as scores, reports and the ablation tables show it. */
export const ENCODER_EVIDENCE = "enc";

/**
 * `encoderEvidence`: the Transformer's own evidence, `enc` and, for tables, `enc_kde`
 * (encoder_density.ts).
 */
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

/**
 * Most rows of a table's `enc` bank: a coreset of 500 normal rows ranks the dev tables' anomalies
 * as well as 2,000 (`knnBankSize`) do, and validation prefers it on thyroid, whose test reads 0.003
 * better with every row (docs/transformer-evidence.md, tenth pass).
 */
export const TABLE_ENCODER_BANK_ROWS = 500;

/** Width of a sample's encoder features: one token per image cell, every token of a table row. */
export function encoderDim(config: ModelConfig, features: number): number {
  return features > 0 ? tableGroups(config, features).tokens * config.width : config.width;
}

/** `enc`: image cells' and table rows' tokens after the encoder. */
export const encoderEvidence: EvidenceComponent = {
  family: "encoder",
  modalities: ["image", "table"],
  switch: ENCODER_SWITCH,
  trained: false,
  // Tables with `tableEncoderEvidence` (the default): through its first block, computed from the
  // tokens' structure, a row's pass costs about as much as its other evidence together
  // (docs/transformer-evidence.md, Tables).
  names: (config, modality) =>
    modality === "table" && !config.tableEncoderEvidence ? [] : [ENCODER_EVIDENCE],
  owns: (name) => name === ENCODER_EVIDENCE,
  meaning: () => "the Transformer's tokens, distance to the nearest normal tokens",
  fit: "coreset",
  dataOnly: false,
  // Table rows too are compared in principal directions (d x width numbers a row, yet a
  // function of d values: a few directions carry nearly all their spread), against a smaller
  // coreset; together a tenth of the search (docs/transformer-evidence.md, Tables).
  fitBank: (features, settings) =>
    coresetBank(
      features,
      features.grid === 1
        ? { ...settings, limit: Math.min(settings.limit, TABLE_ENCODER_BANK_ROWS) }
        : settings,
      settings.projection,
    ),
  score: (bank, features, config, leaveOut) => knnScore(bank, features, config, leaveOut),
  stored: "bank",
  bankDim: (config, _name, features) => encoderDim(config, features),
  images: ({ config, n }) => {
    const g = geometry(config);
    const depth = imageEncoderDepth(config);
    return {
      encoder: "tap",
      encoderBlocks: depth,
      batch: ({ start, plain }, evidence) => {
        featureSlot(evidence.features, "enc", n, config.width, g.grid).data
          .set(plain!.residual(depth).dataSync(), start * g.tokens * config.width);
      },
    };
  },
  tables: (request) => tableTokens(request, "enc"),
};

/**
 * A table request's writer of the feature tokens `enc` reads, as the features of component
 * `name` (`enc`, `enc_kde`): one array for both readings, filled once per batch by the first
 * that asks; null when `name` is left out of the score (its validation weight), so it costs no
 * encoder pass.
 */
export function tableTokens(
  request: EvidenceRequest,
  name: string,
): EvidenceWriter<TableBatch> | null {
  const { config, n, table: rows, options } = request;
  if (!config.tableEncoderEvidence || options.skip?.has(name) === true) return null;
  const dim = encoderDim(config, rows!.d);
  const tokens = request.shared("table encoder tokens", () => ({
    writer: name,
    data: request.floats(n * dim),
  }));
  return {
    // The plain pass's feature tokens, shared with any other component reading that pass.
    encoder: "tap",
    batch: ({ start, plain }) => {
      if (tokens.writer === name) readInto(plain!.residual(), tokens.data, start * dim);
    },
    finish: (evidence) => {
      evidence.features[name] = { dim, grid: 1, data: tokens.data };
    },
  };
}

/**
 * Encoder density evidence of table rows (`enc_kde`): the same feature tokens `enc` reads, read
 * as a Gaussian kernel density of a random sample of the normals' tokens at several widths
 * (`tableKernelWidths`, lib/model/knn/kernel.ts). `enc` asks how far a row lies from its
 * nearest normal rows; this asks how far it lies from where normal rows crowd, and with its
 * broadest kernel it reads rows beyond the normals' range by how far beyond they are, which the
 * nearest rows barely tell apart (docs/transformer-evidence.md, "Twentieth pass" and
 * "Twenty-first pass"). Both are the Transformer's own evidence: the same switch turns them on
 * and off, and they read the rows projected on their shared directions once (`tableRowsFor`).
 *
 * @module
 */
import { kernelDensityScores, useKernelWidthsOf } from "../knn/kernel.ts";
import { projectedSampleBank, tableRowsFor } from "./common.ts";
import { ENCODER_SWITCH, encoderDim, tableTokens } from "./encoder.ts";
import type { EvidenceComponent } from "./types.ts";

/** `enc_kde`: the kernel density of table rows' encoder tokens. */
export const encoderDensityEvidence: EvidenceComponent = {
  family: "encoder density",
  modalities: ["table"],
  switch: ENCODER_SWITCH,
  trained: false,
  names: (config) => config.tableEncoderEvidence && config.tableEncoderDensity ? ["enc_kde"] : [],
  owns: (name) => name === "enc_kde",
  meaning: () => "the Transformer's tokens, kernel density among normal tokens",
  fit: "sample",
  dataOnly: false,
  // A density needs the normals as they are spread: a random sample of at most `knnBankSize`
  // rows (a coreset keeps their extent, not their density), in `enc`'s principal directions.
  fitBank: (features, settings) => projectedSampleBank(features, settings, settings.projection),
  // A calibration fold reads its held-out normals with the kept bank's kernels.
  foldBank: useKernelWidthsOf,
  score: (bank, features, config, leaveOut) => {
    if (leaveOut) throw new Error("enc_kde: a kernel density has no leave-one-out scoring");
    return kernelDensityScores(
      bank,
      tableRowsFor(bank, features.data),
      config.tableKernelWidths,
    );
  },
  stored: "bank",
  bankDim: (config, _name, features) => encoderDim(config, features),
  tables: (request) => tableTokens(request, "enc_kde"),
};

/**
 * Evidence components: one interface ({@linkcode EvidenceComponent}), one file per family and
 * the registry (`registry.ts`) that config validation, evidence, bank fitting, scoring,
 * calibration, checkpoints, `eval`'s evidence report and the ablation grid read.
 *
 * Adding a component is one file and one registry line. A table component that scores a row by
 * the mean absolute value of its normalised features, switched on with the kNN views:
 *
 * ```ts
 * // lib/model/evidence/magnitude.ts
 * import { KNN_SWITCH } from "./switches.ts";
 * import type { EvidenceComponent } from "./types.ts";
 *
 * export const magnitude: EvidenceComponent = {
 *   family: "magnitude",
 *   modalities: ["table"],
 *   switch: KNN_SWITCH, // or its own: { key: "magnitudeHead", only: {…}, without: {…} }
 *   trained: false,
 *   names: () => ["mag"],
 *   owns: (name) => name === "mag",
 *   meaning: () => "mean absolute normalised feature value", // for `eval`'s report
 *   fit: "none", // nothing fitted on normals, nothing stored in checkpoints
 *   dataOnly: false,
 *   stored: "nothing",
 *   tables: ({ n, table }) => ({
 *     finish: (evidence) => {
 *       const { rows, d } = table!;
 *       evidence.sample.mag = Float32Array.from({ length: n }, (_, i) => {
 *         let sum = 0;
 *         for (let j = 0; j < d; j++) sum += Math.abs(rows[i * d + j]);
 *         return sum / d;
 *       });
 *     },
 *   }),
 * };
 * ```
 *
 * and in `registry.ts`, `magnitude,` in EVIDENCE_COMPONENTS where its name should come in scores
 * and reports. A component with its own switch needs that boolean in ModelConfig (and its
 * default); its `legacy` value keeps older checkpoints scoring as they did, and the ablation grid
 * gains its `*_only` and `no_*` variants by itself. A component with a memory bank sets
 * `fit: "coreset"` or `"sample"`, `fitBank`, `score`, `stored: "bank"` and `bankDim`, and writes
 * its rows to `evidence.features[name]` (see `table_knn.ts`); when it changes what its bank holds,
 * `readOldBank` reads the banks older checkpoints stored.
 *
 * @module
 */
export * from "./types.ts";
export { FeatureBuffers } from "./buffers.ts";
export * from "./registry.ts";
export { knnLevels } from "./stem_knn.ts";
export { ENCODER_EVIDENCE } from "./encoder.ts";
export {
  CONTRAST_FLOOR,
  contrastNormalise,
  contrastPatches,
  pixelPatches,
  standardiseImages,
  standardPatches,
} from "./pixel_views.ts";

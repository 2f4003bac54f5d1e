/**
 * Evidence components: one interface ({@linkcode EvidenceComponent}), one file per family and
 * the registry every part of scoring reads.
 *
 * @module
 */
export * from "./types.ts";
export * from "./registry.ts";
export { knnLevels } from "./stem_knn.ts";
export {
  CONTRAST_FLOOR,
  contrastNormalise,
  contrastPatches,
  pixelPatches,
  standardiseImages,
  standardPatches,
} from "./pixel_views.ts";

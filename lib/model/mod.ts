/**
 * The model: its configuration (plain data, grouped into architecture, training, evidence and
 * scoring keys), the Transformer in one file (`madformer.ts`), the evidence components and their
 * registry (`evidence/`), memory banks and nearest-neighbour search (`knn/`), and the detector and
 * scorer that turn forward passes into scores and maps. Imports data and the utilities only.
 *
 * @module
 */
export * from "./config.ts";
export * from "./madformer.ts";
export * from "./evidence/mod.ts";
export * from "./knn.ts";
export * from "./detector.ts";
export * from "./scorer.ts";
export * from "./maps.ts";
export * from "./table_batch.ts";
export * from "./tail_scale.ts";
export * from "./backend_failure.ts";

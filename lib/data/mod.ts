/**
 * Data: tables (labelled CSV, ODDS `.mat`, ADBench `.npz`, UCI ann-thyroid, split folders) and
 * image folders (MVTec AD and course layouts, a decode cache, pose alignment), splits,
 * normalisation, synthetic data and anomalies, and the downloads behind `deno task data`. The
 * lowest layer above the utilities: it imports nothing of the model, training or reports.
 *
 * @module
 */
export * from "./types.ts";
export * from "./table.ts";
export * from "./table_name.ts";
export * from "./mat.ts";
export * from "./npz.ts";
export * from "./uci.ts";
export * from "./split.ts";
export * from "./normalise.ts";
export * from "./images.ts";
export * from "./image_cache.ts";
export * from "./pose.ts";
export * from "./anomalies.ts";
export * from "./synthetic.ts";
export * from "./sources.ts";
export * from "./source_digest.ts";
export * from "./download.ts";
export * from "./inspect.ts";

/**
 * The benchmark suite behind `deno task benchmark`: dataset discovery (`discover.ts`), the
 * in-project baselines (`baselines.ts`, the one-class SVM in `one_class_svm.ts`), the resumable runner (`runner.ts`), scikit-learn's
 * peers on the same splits (`peers.ts`), the summary
 * (`summary.ts`) and its tables and HTML report (`report.ts`).
 *
 * @module
 */
export * from "./discover.ts";
export * from "./baselines.ts";
export * from "./one_class_svm.ts";
export * from "./runner.ts";
export * from "./peers.ts";
export * from "./summary.ts";
export * from "./report.ts";

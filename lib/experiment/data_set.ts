/**
 * A short name for a set of image folders and tables, so that runs on a user's own data get a
 * folder of their own (`results/ablation-<id>`, the notebooks' `full-<id>`) and never read back,
 * or overwrite, the runs of another data set. Free of the training code, so the notebooks'
 * export can use it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { ExperimentData } from "./setup.ts";

/** Eight hex digits from the data's absolute paths, in order: the same paths, the same id. */
export function dataSetId(data: ExperimentData): string {
  const paths = [data.imageDirs.map((p) => resolve(p)), data.tablePaths.map((p) => resolve(p))];
  return createHash("sha1").update(JSON.stringify(paths)).digest("hex").slice(0, 8);
}

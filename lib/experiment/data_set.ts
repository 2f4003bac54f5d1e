/**
 * A set of image folders and tables as one thing with a name: whether anything is named at all,
 * its paths made absolute (so a notebook run from `notebooks/` and a command run from the project
 * root name the same data alike), and a short id from those paths, so that runs on a user's own
 * data get a folder of their own (`results/ablation-<id>`, the notebooks' `tiny-<id>` or
 * `full-<id>`) and never read back, or overwrite, the runs of another data set. Free of the
 * training code, so the notebooks' export can use it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";

/** Where an experiment's data lives. */
export interface ExperimentData {
  imageDirs: string[];
  tablePaths: string[];
}

/** Whether `data` names any image folder or table (an empty set means "the default data"). */
export function namesData(data: ExperimentData | undefined): data is ExperimentData {
  return data !== undefined && data.imageDirs.length + data.tablePaths.length > 0;
}

/** The same data set with every path absolute, in order. */
export function absoluteData(data: ExperimentData): ExperimentData {
  return {
    imageDirs: data.imageDirs.map((p) => resolve(p)),
    tablePaths: data.tablePaths.map((p) => resolve(p)),
  };
}

/** Eight hex digits from the data's absolute paths, in order: the same paths, the same id. */
export function dataSetId(data: ExperimentData): string {
  const { imageDirs, tablePaths } = absoluteData(data);
  const hash = createHash("sha1").update(JSON.stringify([imageDirs, tablePaths]));
  return hash.digest("hex").slice(0, 8);
}

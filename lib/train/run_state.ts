/**
 * Whether a run folder holds a finished run: every configured epoch done and, when the config
 * calibrates on all normals, its best checkpoint calibrated. A run stopped part way (a kernel
 * interrupted, a process killed) leaves a best checkpoint that is neither.
 *
 * @module
 */
import { join } from "node:path";
import { disposeCheckpoint, loadCheckpoint } from "./checkpoint.ts";
import { RUN_FILES } from "./run_files.ts";
import { isFile } from "../util/files.ts";

/**
 * Whether the checkpoint at `path` exists and has been through calibration on all normals for
 * every dataset (a table with too few normals for the folds counts, marked `calibrated: 0`).
 */
export async function isCalibrated(path: string): Promise<boolean> {
  if (!isFile(path)) return false;
  const ckpt = await loadCheckpoint(path, { optimizer: false });
  try {
    const stats = Object.values(ckpt.stats);
    return stats.length > 0 && stats.every((s) => s.calibrated !== undefined);
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/**
 * Why the run in `out` has not finished (`stopped after epoch 2 of 3`, `stopped while
 * calibrating its best checkpoint`), or null when it has. Read from its last checkpoint (the
 * epochs done and configured) and its best one (calibrated or not).
 */
export async function unfinishedRun(out: string): Promise<string | null> {
  const last = join(out, RUN_FILES.last);
  if (!isFile(last)) return "it has no finished epoch";
  const ckpt = await loadCheckpoint(last, { optimizer: false });
  let done: number, epochs: number, calibrates: boolean;
  try {
    done = ckpt.progress.epoch;
    epochs = ckpt.config.train.epochs;
    calibrates = ckpt.config.model.calibrateOnAllNormals;
  } finally {
    disposeCheckpoint(ckpt);
  }
  if (done < epochs) return `it stopped after epoch ${done} of ${epochs}`;
  if (calibrates && !(await isCalibrated(join(out, RUN_FILES.best)))) {
    return `it stopped while calibrating its best checkpoint after epoch ${done} of ${epochs}`;
  }
  return null;
}

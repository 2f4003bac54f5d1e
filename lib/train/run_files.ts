/**
 * The files a training run keeps in its output folder, named once: for the loop and log that
 * write them, `train`'s check of an earlier run's folder (which moves them aside), and the
 * tools that read a run back.
 *
 * @module
 */

/** The files of a training run's folder, by what they hold. */
export const RUN_FILES = {
  /** The checkpoint of the best validation epoch (calibrated at the end of the run). */
  best: "best_model_checkpoint.safetensors",
  /** The checkpoint of the last finished epoch, which `--resume` continues from. */
  last: "last_checkpoint.safetensors",
  /** The checkpoint a stop signal left within an epoch. */
  interrupted: "interrupted_checkpoint.safetensors",
  /** The human log. */
  log: "train.log",
  /** One JSON object per epoch. */
  metrics: "metrics.jsonl",
} as const;

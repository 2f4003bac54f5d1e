/**
 * One measured run, as the ablation and the benchmark make them: train into a fresh folder, load
 * the best checkpoint, read it, free it, and (unless kept) delete the checkpoints, which a grid
 * of runs would otherwise pile up by the gigabyte.
 *
 * @module
 */
import { train, type TrainOptions, type TrainResult } from "../train/loop.ts";
import { type Checkpoint, disposeCheckpoint, loadCheckpoint } from "../train/checkpoint.ts";

/** What {@linkcode trainThenRead} returns: the training result, its wall time and the reading. */
export interface TrainedAndRead<T> {
  trained: TrainResult;
  trainSeconds: number;
  read: T;
}

/**
 * Trains with `options` into `options.out` (removed first: what a killed run left behind, its
 * checkpoints or a stale lock, is not resumed), then gives the best checkpoint to `read` and frees
 * it, also when `read` throws. The checkpoints are deleted afterwards unless `keepCheckpoints`.
 */
export async function trainThenRead<T>(
  options: TrainOptions & { out: string },
  read: (checkpoint: Checkpoint) => Promise<T>,
  keepCheckpoints = false,
): Promise<TrainedAndRead<T>> {
  await Deno.remove(options.out, { recursive: true }).catch(() => {});
  const started = performance.now();
  const trained = await train(options);
  const trainSeconds = (performance.now() - started) / 1000;
  const checkpoint = await loadCheckpoint(trained.best);
  let result: T;
  try {
    result = await read(checkpoint);
  } finally {
    disposeCheckpoint(checkpoint);
  }
  if (!keepCheckpoints) {
    for (const path of [trained.best, trained.last]) await Deno.remove(path).catch(() => {});
  }
  return { trained, trainSeconds, read: result };
}

/**
 * Training: the loop (`loop.ts`) that prepares each dataset as training splits it
 * (`datasets.ts`, `training_data.ts`), plans each epoch's batches (`batches.ts`), takes
 * masked-reconstruction and anomaly-head steps (`step.ts`, on several cores with `parallel.ts`)
 * under AdamW (`optimizer.ts`), fits each dataset's scoring, logs every epoch (`log.ts`) and
 * keeps checkpoints (`checkpoint.ts` over `safetensors.ts`; `fitted.ts` reads a dataset's banks
 * and statistics back; `run_files.ts` names the files of a run folder; `resume.ts` says what a
 * resumed run may change, `calibrate.ts` refits the best checkpoint on all normals;
 * `util/run_lock.ts` keeps one run per folder). It builds on `data/` and `model/`; evaluation,
 * scoring and experiments above it are in `experiment/`. This entry point carries what other
 * packages use: the steps, optimiser, gradient workers and run log stay behind it (the bench
 * measures the steps by file).
 *
 * @module
 */

export {
  CHECKPOINT_FLAG,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  decodeCheckpoint,
  disposeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
export type { Checkpoint, TrainingProgress } from "./checkpoint.ts";
export {
  assertDistinctTableNames,
  datasetKey,
  decodeAll,
  prepareImages,
  prepareTable,
  readTableSource,
} from "./datasets.ts";
export type { DatasetRecord, PreparedImages, PreparedTable } from "./datasets.ts";
export { banksOf, fittedFor } from "./fitted.ts";
export type { EpochRow } from "./log.ts";
export { weightsKept } from "./log.ts";
export { train } from "./loop.ts";
export { RUN_FILES } from "./run_files.ts";
export { checkTrainingSources } from "./training_data.ts";
export type { TrainOptions, TrainResult } from "./loop.ts";

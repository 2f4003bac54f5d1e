/**
 * Experiments with a trained model: evaluating a checkpoint on the held-out test parts
 * (`evaluate_checkpoint.ts`), scoring image and table files it has never seen
 * (`score_files.ts`, with `score_worker.ts` for parallel scoring), the evaluation JSON
 * (`results.ts`), the TINY, FULL and demo setups the notebooks and scripts share (`setup.ts`) and
 * the ablation study (`ablation.ts`), and one measured run of a grid (`train_evaluate.ts`, for the
 * ablation and the benchmark). It builds on `train/`; `report/` presents what it returns.
 *
 * @module
 */

export {
  ABLATION_VARIANTS,
  COMBINED,
  compareToReference,
  ENCODER_STUDY,
  evidenceVariants,
  exceedsSpread,
  IMAGES_MEAN,
  meanStd,
  readAblationRun,
  runAblation,
  runFileName,
  runnableVariants,
  selectVariants,
  summarizeAblation,
  variantConfig,
  variantData,
} from "./ablation.ts";
export type {
  AblationOptions,
  AblationRun,
  AblationSummary,
  AblationVariant,
  DataSelection,
  MeanStd,
  ScoreDifference,
  VariantSummary,
} from "./ablation.ts";
export {
  componentResults,
  evaluateCheckpoint,
  imageScorer,
  pixelMetrics,
  tableRecordFor,
} from "./evaluate_checkpoint.ts";
export type {
  ComponentResult,
  DatasetEvaluation,
  EvaluateOptions,
  PixelMetrics,
} from "./evaluate_checkpoint.ts";
export {
  componentLines,
  defectLines,
  evaluationJson,
  featureLines,
  sourceLines,
  topFeatures,
} from "./results.ts";
export { alteredRows, explainTable } from "./explain_table.ts";
export type { TableExplanation } from "./explain_table.ts";
export type { EvaluationEntry } from "./results.ts";
export {
  categoryOf,
  imageCategories,
  mapFileName,
  scoreCategory,
  scoreImagePaths,
  scoreTableFile,
  scoreTableFileYielding,
  ScoringPool,
  verdictOf,
  writtenSample,
} from "./score_files.ts";
export type {
  CategoryScores,
  ScoredImage,
  ScoredSample,
  ScoreImageOptions,
  VerdictOptions,
} from "./score_files.ts";
export {
  assertFinishedRun,
  checkpointOrTrain,
  clearRunFolder,
  DEMO_OVERRIDES,
  demoConfig,
  experiment,
  fullData,
  TINY_OVERRIDES,
  tinyConfig,
  writeTinyData,
} from "./setup.ts";
export type { Experiment, ExperimentData } from "./setup.ts";
export { trainThenRead } from "./train_evaluate.ts";
export type { TrainedAndRead } from "./train_evaluate.ts";

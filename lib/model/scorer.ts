/**
 * Fitting and applying the scoring of one dataset (a table or an image category): the memory
 * bank from training normals, standardisation and threshold from validation normals plus
 * deterministic synthetic anomalies, and the combined score and map for new samples. Used the
 * same way by validation, `eval` and `score`.
 *
 * @module
 */
import type { ModelConfig } from "./config.ts";
import type { Params } from "./madformer.ts";
import {
  activeComponents,
  addKnn,
  banksFromEvidence,
  combineMaps,
  combineScores,
  type Evidence,
  type EvidenceOptions,
  fitStats,
  imageEvidence,
  type KeyStats,
  sampleScores,
  smoothsMaps,
  tableEvidence,
  usedComponents,
  weightsFromAuroc,
} from "./detector.ts";
import type { MemoryBank } from "./knn.ts";
import { auroc } from "../metrics/ranking.ts";
import { thresholdFromNormals } from "../metrics/threshold.ts";

/** Samples of one dataset: images (RGB float arrays) or normalised table rows. */
export type Samples =
  | { modality: "image"; images: Float32Array[] }
  | { modality: "table"; table: string; rows: Float32Array; d: number };

function evidenceOf(
  params: Params,
  config: ModelConfig,
  samples: Samples,
  options: EvidenceOptions = {},
): Evidence {
  return samples.modality === "image"
    ? imageEvidence(params, config, samples.images, options)
    : tableEvidence(params, config, samples.table, samples.rows, samples.d, options);
}

/** A fitted dataset scorer: what checkpoints keep per dataset. */
export interface FittedKey {
  /** Memory banks by kNN component. */
  banks: Record<string, MemoryBank>;
  stats: KeyStats;
}

/** Validation figures from fitting. */
export interface FitReport {
  /** AUROC of the combined score on validation normals vs synthetic anomalies. */
  auroc: number;
  /** The same per component, for insight into which heads carry the signal. */
  components: Record<string, number>;
  /** Whether image scores take the maximum of the 3x3-smoothed map (chosen on validation). */
  smooth: boolean;
}

/** Evidence with the bank-based components filled in; `skip` leaves components out. */
export function fullEvidence(
  params: Params,
  config: ModelConfig,
  samples: Samples,
  banks: Record<string, MemoryBank>,
  skip?: Set<string>,
): Evidence {
  const evidence = evidenceOf(params, config, samples, { skip });
  addKnn(evidence, banks, config.knnK, config.tableKnnK, skip);
  return evidence;
}

/**
 * Fits a dataset's scorer: banks from `train`, standardisation and threshold from
 * `valNormals`, component weights from validation AUROC against `valAnomalies` (synthetic), and
 * for images (with `chooseSmoothing`) whichever map reduction, plain or smoothed maximum, gives
 * the higher validation AUROC.
 */
export function fitKey(
  params: Params,
  config: ModelConfig,
  train: Samples,
  valNormals: Samples,
  valAnomalies: Samples,
  seed: number,
): { fitted: FittedKey; report: FitReport } {
  const banks = config.knnHead || config.densityHead
    ? banksFromEvidence(
      evidenceOf(params, config, train, { featuresOnly: true }),
      config.knnBankSize,
      seed,
      config.knnProjection,
    )
    : {};
  const components = activeComponents(config, valNormals.modality);
  const normals = fullEvidence(params, config, valNormals, banks);
  const anomalies = fullEvidence(params, config, valAnomalies, banks);
  const best = fitScoring(normals, anomalies, components, config, valNormals.modality);
  return { fitted: { banks, stats: best.stats }, report: best.report };
}

/**
 * The combination fitted on validation evidence; for images with `chooseSmoothing`, the better
 * (by validation AUROC) of the plain and the smoothed map maximum, the plain one on ties.
 */
export function fitScoring(
  normals: Evidence,
  anomalies: Evidence,
  components: string[],
  config: Pick<
    ModelConfig,
    "minComponentWeight" | "thresholdQuantile" | "smoothMaps" | "chooseSmoothing"
  >,
  modality: "image" | "table",
): { stats: KeyStats; report: FitReport } {
  const choices = modality === "image" && config.chooseSmoothing ? [false, true] : [
    config.smoothMaps,
  ];
  return choices
    .map((smooth) => fitCombination(normals, anomalies, components, config, smooth))
    .reduce((a, b) => (b.report.auroc > a.report.auroc ? b : a));
}

/**
 * Standardisation, component weights and threshold for one way of reducing image maps to a
 * score (`smooth`), from validation normals and synthetic anomalies with their kNN evidence.
 */
export function fitCombination(
  normals: Evidence,
  anomalies: Evidence,
  components: string[],
  config: Pick<ModelConfig, "minComponentWeight" | "thresholdQuantile">,
  smooth: boolean,
): { stats: KeyStats; report: FitReport } {
  const nN = normals.n;
  const nA = anomalies.n;
  const base = fitStats(normals, components, smooth);
  const labels = new Uint8Array(nN + nA).fill(1, nN);
  const rawN = sampleScores(normals, components, smooth);
  const rawA = sampleScores(anomalies, components, smooth);
  const componentAuroc: Record<string, number> = {};
  for (const c of components.filter((c) => rawN[c] && rawA[c])) {
    componentAuroc[c] = auroc(Float32Array.from([...rawN[c], ...rawA[c]]), labels);
  }
  const stats = {
    ...base,
    weights: weightsFromAuroc(componentAuroc, config.minComponentWeight),
    smooth,
  };
  const sN = combineScores(normals, components, stats, smooth);
  const sA = combineScores(anomalies, components, stats, smooth);
  const all = Float32Array.from([...sN.scores, ...sA.scores]);
  const report: FitReport = { auroc: auroc(all, labels), components: componentAuroc, smooth };
  // Validation holds as many synthetic anomalies as normals, far more than real data has, so a
  // best-F1 threshold there flags too much; a quantile of the normals' scores does not depend
  // on that share.
  const threshold = thresholdFromNormals(sN.scores, config.thresholdQuantile);
  return { stats: { ...stats, threshold }, report };
}

/** Scores new samples with a fitted scorer: combined scores, and maps for images. */
export function scoreKey(
  params: Params,
  config: ModelConfig,
  fitted: FittedKey,
  samples: Samples,
): {
  scores: Float32Array;
  /** Per-image anomaly maps (grid x grid each) for images, else null. */
  maps: Float32Array[] | null;
  grid: number;
  parts: Record<string, Float32Array>;
} {
  const components = activeComponents(config, samples.modality);
  const used = new Set(usedComponents(components, fitted.stats));
  const skip = new Set(components.filter((c) => !used.has(c)));
  const evidence = fullEvidence(params, config, samples, fitted.banks, skip);
  const { scores, parts } = combineScores(
    evidence,
    components,
    fitted.stats,
    smoothsMaps(fitted.stats, config),
  );
  const combined = samples.modality === "image"
    ? combineMaps(evidence, components, fitted.stats)
    : null;
  return { scores, maps: combined?.maps ?? null, grid: combined?.grid ?? 0, parts };
}

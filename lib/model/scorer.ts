/**
 * Fitting and applying the scoring of one dataset (a table or an image category): the memory
 * bank from training normals, standardisation and threshold from validation normals plus
 * deterministic synthetic anomalies, and the combined score and map for new samples. Used the
 * same way by validation, `eval` and `score`.
 *
 * @module
 */
import type { ComponentWeighting, ModelConfig } from "./config.ts";
import type { Params } from "./madformer.ts";
import {
  activeComponents,
  addKnn,
  banksFromEvidence,
  combineMaps,
  combineScores,
  concatArrays,
  type Evidence,
  type EvidenceOptions,
  featureRowsOf,
  fitStats,
  imageEvidence,
  type KeyStats,
  type MapReductionAuroc,
  sampleScores,
  smoothsMaps,
  standardisedParts,
  tableEvidence,
  usedComponents,
  weightsFromAuroc,
} from "./detector.ts";
import type { MemoryBank } from "./knn.ts";
import {
  componentOf,
  EVIDENCE_COMPONENTS,
  requireComponent,
  switchedOn,
} from "./evidence/registry.ts";
import type { BankSettings, Component, FeatureSet } from "./evidence/types.ts";
import { FeatureBuffers } from "./evidence/buffers.ts";
import { auroc } from "../metrics/ranking.ts";
import { pearson, ranks } from "../metrics/correlation.ts";
import {
  eachValidationImageAnomaly,
  tableAnomalies,
  VALIDATION_ANOMALIES_PER_NORMAL,
  validationImageAnomalies,
} from "../data/anomalies.ts";
import { rowsAt } from "../data/split.ts";
import { jitterAligned, type PoseJitter } from "../data/pose.ts";
import { tableFitRows } from "./table_batch.ts";
import { thresholdFromNormals } from "../metrics/threshold.ts";
import { span } from "../util/profile.ts";
import { fitTailScale, type TailScale } from "./tail_scale.ts";
import { Rng } from "../rng.ts";

/**
 * Samples of one dataset: images (RGB float arrays) or normalised table rows. `aligned` images
 * were turned to their category's pose (lib/data/pose.ts), so that a cell's place is the same
 * part of the object in every image: their banks compare cells where they lie
 * (`cellPositionWeight`).
 */
export type Samples =
  | { modality: "image"; images: Float32Array[]; aligned?: boolean }
  | { modality: "table"; table: string; rows: Float32Array; d: number };

function evidenceOf(
  params: Params,
  config: ModelConfig,
  samples: Samples,
  options: EvidenceOptions = {},
): Evidence {
  return samples.modality === "image"
    ? imageEvidence(params, config, samples.images, options)
    : span(
      "table: token forward",
      () => tableEvidence(params, config, samples.table, samples.rows, samples.d, options),
    );
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
  /** Images with `chooseSmoothing`: the validation AUROC of each map reduction it chose between. */
  reductions?: MapReductionAuroc;
}

/**
 * Evidence with the bank-based components filled in; `skip` leaves components out, `buffers`
 * holds table features (see `FeatureBuffers`).
 */
export function fullEvidence(
  params: Params,
  config: ModelConfig,
  samples: Samples,
  banks: Record<string, MemoryBank>,
  skip?: Set<string>,
  buffers?: FeatureBuffers,
): Evidence {
  const evidence = evidenceOf(params, config, samples, { skip, buffers });
  addKnn(evidence, banks, config, skip);
  return evidence;
}

/**
 * Fits a dataset's scorer: banks from `train`, standardisation and threshold from
 * `valNormals`, component weights from validation AUROC against `valAnomalies` (synthetic), and
 * for images (with `chooseSmoothing`) whichever map reduction, plain or smoothed maximum, gives
 * the higher validation AUROC. Banks come from at most the samples {@linkcode fitSubset} keeps
 * and a table's validation from at most {@linkcode TABLE_VALIDATION_ROWS} of each kind, scored
 * a chunk at a time ({@linkcode scoredEvidence}), so fitting costs no more memory for a million
 * rows or thousands of images than for 20,000 rows or 400 images.
 */
export function fitKey(
  params: Params,
  config: ModelConfig,
  train: Samples,
  valNormals: Samples,
  valAnomalies: Samples,
  seed: number,
  built: Record<string, MemoryBank> = {},
): { fitted: FittedKey; report: FitReport } {
  const banks = span(
    "fit: banks",
    () => fitBanks(params, config, fitSubset(train, config, seed).samples, seed, built),
  );
  const components = activeComponents(config, valNormals.modality);
  const normals = span(
    "fit: val normals",
    () => scoredEvidence(params, config, atMost(valNormals, TABLE_VALIDATION_ROWS, seed), banks),
  );
  const anomalies = span(
    "fit: val anomalies",
    () => scoredEvidence(params, config, atMost(valAnomalies, TABLE_VALIDATION_ROWS, seed), banks),
  );
  const best = span(
    "fit: combination",
    () => fitScoring(normals, anomalies, components, config, valNormals.modality),
  );
  return { fitted: { banks, stats: best.stats }, report: best.report };
}

/**
 * Most training rows of a table its banks are built from (a seeded random sample beyond): the
 * `enc` coreset's cost and the kNN's bank (every fitted row since `v35`) grow with them, the
 * density and isolation banks keep 20,000 anyway, and 20,000 normal rows of a table describe its
 * normals as well as more would. Every table up to 20,000 training rows (thyroid's 1,700) is
 * fitted on all of them.
 */
export const TABLE_FIT_ROWS = 20_000;

/**
 * Most validation normals, and synthetic anomalies, of a table its standardisation, weights and
 * threshold are fitted on (a seeded random sample beyond).
 */
export const TABLE_VALIDATION_ROWS = 10_000;

/** Indices of a seeded random `limit` of `n` samples, ascending; null when all n fit. */
export function sampleIndices(n: number, limit: number, seed: number): number[] | null {
  if (n <= limit) return null;
  return new Rng(seed ^ 0x5eed).shuffle([...Array(n).keys()]).slice(0, limit)
    .sort((a, b) => a - b);
}

/** Table samples cut to a seeded random `limit` rows (in their order); images as they are. */
export function atMost(samples: Samples, limit: number, seed: number): Samples {
  if (samples.modality !== "table") return samples;
  const { rows, d } = samples;
  const keep = sampleIndices(rows.length / d, limit, seed);
  if (!keep) return samples;
  return { ...samples, rows: rowsAt(rows, d, keep) };
}

/**
 * Most training images of a category its banks are fitted on (a seeded random sample beyond).
 * Every view's features of every fitted image are held at once, about 1.3 MB an image with the
 * default views (520 MB for 400), and beyond 390 images of 32 x 32 cells the coreset already
 * draws its pool of 400,000 cells at random: more images would change which cells it may draw,
 * not how many. Every category up to 400 training images (the course data's 180) is fitted on
 * all of them.
 */
export const IMAGE_FIT_IMAGES = 400;

/**
 * The training samples a dataset's banks are fitted on: a table's rows up to
 * {@linkcode TABLE_FIT_ROWS} and, for wide tables, as many as the table memory budget holds the
 * features of (`tableFitRows`: 2,097 rows of 500 features in 512 MB); up to
 * {@linkcode IMAGE_FIT_IMAGES} images. `kept` lists the samples kept (null: all).
 */
export function fitSubset(
  samples: Samples,
  config: ModelConfig,
  seed: number,
): { samples: Samples; kept: number[] | null } {
  if (samples.modality === "table") {
    const { rows, d } = samples;
    const limit = Math.min(TABLE_FIT_ROWS, tableFitRows(config, d));
    const kept = sampleIndices(rows.length / d, limit, seed);
    return { samples: atMost(samples, limit, seed), kept };
  }
  const kept = sampleIndices(samples.images.length, IMAGE_FIT_IMAGES, seed);
  return {
    samples: kept ? { ...samples, images: kept.map((i) => samples.images[i]) } : samples,
    kept,
  };
}

/**
 * Images whose evidence is computed and scored together in {@linkcode scoredEvidence}: a
 * multiple of the evidence batch (`evidenceBatch`, 16 at most) and of the kNN search's query
 * block (512 cells) on every grid, so batches and blocks fall as in one pass and the scores are
 * the same.
 */
export const IMAGE_SCORE_CHUNK = 32;

/**
 * {@linkcode fullEvidence} of any number of samples a chunk at a time, kept without their
 * features: the scores and maps are what fitting and scoring read, and the features (1.3 MB an
 * image, `d` x width floats a table row) are what would grow with the data. Tables go in chunks
 * of {@linkcode scoringBatchRows} (`batchRows`), images of {@linkcode IMAGE_SCORE_CHUNK}; the
 * values are those of one pass. Aligned images are scored at their pose and at each change of it
 * in `poseJitter`, their maps and scores averaged ({@linkcode poseAveraged}).
 */
export function scoredEvidence(
  params: Params,
  config: ModelConfig,
  samples: Samples,
  banks: Record<string, MemoryBank>,
  skip?: Set<string>,
  batchRows?: number,
): Evidence {
  const parts: Evidence[] = [];
  if (samples.modality === "table") {
    const { rows, d } = samples;
    const n = rows.length / d;
    const chunk = scoringBatchRows(config, d, batchRows);
    // One set of feature arrays for every chunk: each chunk's features are read and dropped.
    const buffers = new FeatureBuffers();
    for (let start = 0; start < n || start === 0; start += chunk) {
      const part = rows.subarray(start * d, Math.min(n, start + chunk) * d);
      const evidence = fullEvidence(
        params,
        config,
        { ...samples, rows: part },
        banks,
        skip,
        buffers,
      );
      parts.push({ ...evidence, features: {} });
      buffers.reset();
    }
  } else {
    const { images } = samples;
    const jitters = poseJitters(config, samples.aligned);
    for (let start = 0; start < images.length || start === 0; start += IMAGE_SCORE_CHUNK) {
      const part = images.slice(start, start + IMAGE_SCORE_CHUNK);
      parts.push(poseAveraged(
        part,
        jitters,
        config.imageSize,
        (images) => fullEvidence(params, config, { ...samples, images }, banks, skip),
      ));
    }
  }
  return parts.length === 1 ? parts[0] : concatEvidence(parts);
}

/**
 * The changes of pose `poseJitter` lists, for aligned images (shifts scaled from a 128 px image
 * to `imageSize`); none for others.
 */
export function poseJitters(
  config: Pick<ModelConfig, "poseJitter" | "imageSize">,
  aligned = false,
): PoseJitter[] {
  if (!aligned) return [];
  const out: PoseJitter[] = [];
  const p = config.poseJitter;
  const scale = config.imageSize / 128;
  for (let i = 0; i + 2 < p.length; i += 3) {
    out.push({ along: p[i] * scale, across: p[i + 1] * scale, degrees: p[i + 2] });
  }
  return out;
}

/**
 * The evidence of `images` (scores and maps, no features) at their pose and at each of
 * `jitters`, averaged: every map cell and every score is its mean over the poses. Without
 * jitters, `evidence(images)` as it is.
 */
export function poseAveraged(
  images: Float32Array[],
  jitters: readonly PoseJitter[],
  size: number,
  evidence: (images: Float32Array[]) => Evidence,
): Evidence {
  const sum = { ...evidence(images), features: {} };
  if (jitters.length === 0) return sum;
  for (const jitter of jitters) {
    const moved = evidence(images.map((image) => jitterAligned(image, size, 3, jitter)));
    for (const [name, values] of Object.entries(sum.sample)) addInto(values, moved.sample[name]);
    for (const [name, map] of Object.entries(sum.tokens)) {
      addInto(map.values, moved.tokens[name].values);
    }
  }
  const share = 1 / (jitters.length + 1);
  for (const values of Object.values(sum.sample)) scaleInPlace(values, share);
  for (const map of Object.values(sum.tokens)) scaleInPlace(map.values, share);
  return sum;
}

function addInto(target: Float32Array, values: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] += values[i];
}

function scaleInPlace(values: Float32Array, factor: number): void {
  for (let i = 0; i < values.length; i++) values[i] *= factor;
}

/** A dataset's memory banks from its training samples; banks in `built` are taken as they are. */
function fitBanks(
  params: Params,
  config: ModelConfig,
  train: Samples,
  seed: number,
  built: Record<string, MemoryBank>,
): Record<string, MemoryBank> {
  return banksOf(bankFeatures(params, config, train), bankSettings(config, train, seed), built);
}

/** The features a dataset's banks are fitted on: none when no switched-on component keeps one. */
function bankFeatures(
  params: Params,
  config: ModelConfig,
  train: Samples,
): Record<string, FeatureSet> {
  if (!EVIDENCE_COMPONENTS.some((c) => c.fit !== "none" && switchedOn(c, config))) return {};
  return evidenceOf(params, config, train, { featuresOnly: true }).features;
}

/** {@linkcode banksFromEvidence} of features alone. */
function banksOf(
  features: Record<string, FeatureSet>,
  settings: BankSettings,
  built: Record<string, MemoryBank> = {},
): Record<string, MemoryBank> {
  return banksFromEvidence({ n: 0, sample: {}, tokens: {}, features }, settings, built);
}

/** How a dataset's banks are fitted from its samples' features. */
function bankSettings(config: ModelConfig, train: Samples, seed: number): BankSettings {
  return {
    limit: config.knnBankSize,
    seed,
    projection: config.knnProjection,
    pixelProjectionShare: config.pixelProjectionShare,
    cellPositions: train.modality === "image" && train.aligned ? config.cellPositionWeight : 0,
  };
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
    | "minComponentWeight"
    | "separatingAuroc"
    | "thresholdQuantile"
    | "smoothMaps"
    | "chooseSmoothing"
    | "imageWeights"
    | "tableWeights"
    | "tableAgreementPower"
    | "tableScale"
    | "tableOneSided"
    | "tableOneSidedTail"
  >,
  modality: "image" | "table",
): { stats: KeyStats; report: FitReport } {
  const choices = modality === "image" && config.chooseSmoothing ? [false, true] : [
    config.smoothMaps,
  ];
  const table = modality === "table";
  const oneSided = components.filter((c) => componentOf(c)?.oneSided === true);
  // `tail` reads every component on its tail scale, each first on its quartiles.
  const everyTail = table && config.tableScale === "tail";
  const combination: Combination = {
    weighting: table ? config.tableWeights : config.imageWeights,
    agreementPower: table ? config.tableAgreementPower : 0,
    quartiles: table && config.tableScale !== "moments",
    oneSided: table && config.tableOneSided ? oneSided : [],
    tailed: everyTail ? components : table && config.tableOneSidedTail ? oneSided : [],
  };
  const fits = choices.map((smooth) =>
    fitCombination(normals, anomalies, components, config, smooth, combination)
  );
  const chosen = fits.reduce((a, b) => (b.report.auroc > a.report.auroc ? b : a));
  if (fits.length === 1) return chosen;
  // Both figures are kept, so a user can see when the choice was a near tie: on zipper it is,
  // while the test tells the two far apart (docs/transformer-evidence.md, "Fifteenth pass").
  const [plain, smoothed] = fits; // in the order of `choices`
  const reductions = { plain: plain.report.auroc, smoothed: smoothed.report.auroc };
  return {
    stats: { ...chosen.stats, reductions },
    report: { ...chosen.report, reductions },
  };
}

/** How a dataset's components are put together (see `fitCombination`). */
export interface Combination {
  /** How the components are weighted, from their validation AUROCs. */
  weighting: ComponentWeighting;
  /** The power of each component's agreement with the others that its weight is multiplied by. */
  agreementPower: number;
  /** Standardised by their normals' median and interquartile range, not mean and deviation. */
  quartiles: boolean;
  /** Components counted only above their normals' centre (`KeyStats.oneSided`). */
  oneSided: Component[];
  /** Components put on their tail scale (`KeyStats.tails`), those counted of them. */
  tailed: Component[];
}

/**
 * Standardisation, component weights and threshold for one way of reducing image maps to a
 * score (`smooth`), from validation normals and synthetic anomalies with their kNN evidence.
 */
export function fitCombination(
  normals: Evidence,
  anomalies: Evidence,
  components: string[],
  config: Pick<ModelConfig, "minComponentWeight" | "separatingAuroc" | "thresholdQuantile">,
  smooth: boolean,
  { weighting, agreementPower, quartiles, oneSided, tailed }: Combination = {
    weighting: "validation",
    agreementPower: 0,
    quartiles: false,
    oneSided: [],
    tailed: [],
  },
): { stats: KeyStats; report: FitReport } {
  const nN = normals.n;
  const nA = anomalies.n;
  const base = fitStats(normals, components, smooth, quartiles);
  const labels = new Uint8Array(nN + nA).fill(1, nN);
  const rawN = sampleScores(normals, components, smooth);
  const rawA = sampleScores(anomalies, components, smooth);
  const componentAuroc: Record<string, number> = {};
  for (const c of components.filter((c) => rawN[c] && rawA[c])) {
    componentAuroc[c] = auroc(Float32Array.from([...rawN[c], ...rawA[c]]), labels);
  }
  const chosen = weightsFor(componentAuroc, weighting, config);
  const weights = agreementPower > 0 ? weighByAgreement(chosen, rawN, agreementPower) : chosen;
  // The floor keeps typical values from offsetting what the two-sided components see; with
  // none of those counted, it would only tie the rows below the median.
  const counted = components.filter((c) => (weights[c] ?? 0) > 0);
  const floored = counted.some((c) => !oneSided.includes(c))
    ? oneSided.filter((c) => counted.includes(c))
    : [];
  const tails: Record<Component, TailScale> = {};
  for (const c of tailed.filter((c) => counted.includes(c) && rawN[c] && base.sample[c])) {
    // Standardised as `combineScores` standardises what it reads on this scale.
    const { mean, std } = base.sample[c];
    tails[c] = fitTailScale(rawN[c].map((v) => (v - mean) / std));
  }
  const stats = {
    ...base,
    weights,
    smooth,
    ...(floored.length > 0 ? { oneSided: floored } : {}),
    ...(Object.keys(tails).length > 0 ? { tails } : {}),
  };
  const sN = combineScores(normals, components, stats, smooth);
  const sA = combineScores(anomalies, components, stats, smooth);
  const all = Float32Array.from([...sN.scores, ...sA.scores]);
  const report: FitReport = { auroc: auroc(all, labels), components: componentAuroc, smooth };
  // Validation holds as many synthetic anomalies as normals, far more than real data has, so a
  // best-F1 threshold there flags too much; a quantile of the normals' scores does not depend
  // on that share.
  const threshold = thresholdFromNormals(sN.scores, config.thresholdQuantile);
  return { stats: { ...stats, threshold, normalScores: fitTailScale(sN.scores) }, report };
}

/**
 * Component weights (summing to 1) from validation AUROCs: equal, by AUROC
 * ({@linkcode weightsFromAuroc}), the best component alone (the first on ties), or equal over
 * those reaching `separatingAuroc` (the best alone when none does).
 */
export function weightsFor(
  aurocs: Record<string, number>,
  weighting: ComponentWeighting,
  settings: Pick<ModelConfig, "minComponentWeight" | "separatingAuroc">,
): Record<string, number> {
  const names = Object.keys(aurocs);
  const equalOver = (kept: string[]) =>
    Object.fromEntries(names.map((c) => [c, kept.includes(c) ? 1 / kept.length : 0]));
  const best = () => names.reduce((a, b) => (aurocs[b] > aurocs[a] ? b : a), names[0]);
  if (weighting === "equal") return equalOver(names);
  if (weighting === "best") return equalOver([best()]);
  if (weighting === "separating") {
    const kept = names.filter((c) => aurocs[c] >= settings.separatingAuroc);
    return equalOver(kept.length > 0 ? kept : [best()]);
  }
  return weightsFromAuroc(aurocs, settings.minComponentWeight);
}

/**
 * `weights` with each counted component's weight multiplied by the `power` of its agreement with
 * the others: its rank correlation (Spearman, clipped at 0) with the mean rank the other counted
 * components give the same normals (`scores`, by component). Summing to 1 again; as they were
 * when fewer than two components count, one has no scores or none agrees (see
 * `ModelConfig.tableAgreementPower`).
 */
export function weighByAgreement(
  weights: Record<string, number>,
  scores: Record<string, ArrayLike<number>>,
  power: number,
): Record<string, number> {
  const counted = Object.keys(weights).filter((c) => weights[c] > 0);
  if (counted.length < 2 || counted.some((c) => !scores[c])) return weights;
  const ranked = counted.map((c) => ranks(scores[c]));
  const n = ranked[0].length;
  const total = new Float64Array(n);
  for (const r of ranked) for (let i = 0; i < n; i++) total[i] += r[i];
  const agreed = { ...weights };
  counted.forEach((c, k) => {
    // Spearman's coefficient with the others' rank sum: Pearson's of this component's ranks
    // and the ranks of that sum.
    const others = ranks(total.map((t, i) => t - ranked[k][i]));
    agreed[c] = weights[c] * Math.max(0, pearson(ranked[k], others)) ** power;
  });
  const sum = counted.reduce((s, c) => s + agreed[c], 0);
  if (!(sum > 0)) return weights;
  for (const c of Object.keys(agreed)) agreed[c] /= sum;
  return agreed;
}

/**
 * Fits an image category from its training and validation normals: with
 * `calibrateOnAllNormals`, banks from `train` and {@linkcode calibrateImageKey} on them;
 * otherwise {@linkcode fitKey} against the validation anomalies made with `anomalySeed`.
 * `built` as for fitKey; `aligned` when the images were turned to the category's pose (see
 * {@linkcode Samples}).
 */
export function fitImageKey(
  params: Params,
  config: ModelConfig,
  train: Float32Array[],
  val: Float32Array[],
  seed: number,
  anomalySeed: number,
  options: { built?: Record<string, MemoryBank>; aligned?: boolean } = {},
): { fitted: FittedKey; report: FitReport } {
  const { built = {}, aligned = false } = options;
  const images = (images: Float32Array[]): Samples => ({ modality: "image", images, aligned });
  if (config.calibrateOnAllNormals) {
    // Calibration fits the statistics anew, so validation's own fit would be thrown away.
    const subset = fitSubset(images(train), config, seed);
    const banks = fitBanks(params, config, subset.samples, seed, built);
    const { stats, report } = calibrateImageKey(
      params,
      config,
      banks,
      train,
      val,
      anomalySeed,
      subset.kept,
      aligned,
    );
    return { fitted: { banks, stats }, report };
  }
  const valAnomalies = validationImageAnomalies(anomalySeed, val, train, config.imageSize);
  return fitKey(params, config, images(train), images(val), images(valAnomalies), seed, built);
}

/** Images scored per chunk in calibration, so that features of hundreds of images never coexist. */
const CALIBRATION_CHUNK = 32;

/**
 * Calibrates an image category on all its normals: every training normal is scored against
 * `banks` (built from `train`, fresh from {@linkcode fitKey}, or from its images `fitted` when
 * {@linkcode fitSubset} kept only those) without its own rows, each validation normal against
 * the whole banks, and synthetic anomalies made from all of them (kinds held out from training,
 * blended in faintly) likewise; standardisation, threshold and map reduction are then fitted on
 * that evidence as {@linkcode fitScoring} does on validation. The anomalies are made a chunk at a
 * time: two per normal would be gigabytes at once for thousands of images.
 */
export function calibrateImageKey(
  params: Params,
  config: ModelConfig,
  banks: Record<string, MemoryBank>,
  train: Float32Array[],
  val: Float32Array[],
  anomalySeed: number,
  fitted: number[] | null = null,
  aligned = false,
): { stats: KeyStats; report: FitReport } {
  const normals = [...train, ...val];
  const jitters = poseJitters(config, aligned);
  const owners = bankOwners(train.length, val.length, fitted);
  const anomalyOwners = Int32Array.from(
    { length: normals.length * VALIDATION_ANOMALIES_PER_NORMAL },
    (_, k) => owners[k % normals.length],
  );
  const scored = (images: Iterable<Float32Array>, ids: Int32Array) => {
    const parts: Evidence[] = [];
    const iterator = images[Symbol.iterator]();
    for (let start = 0; start < ids.length; start += CALIBRATION_CHUNK) {
      const chunk: Float32Array[] = [];
      while (chunk.length < CALIBRATION_CHUNK && start + chunk.length < ids.length) {
        chunk.push(iterator.next().value as Float32Array);
      }
      const chunkOwners = ids.subarray(start, start + chunk.length);
      parts.push(poseAveraged(chunk, jitters, config.imageSize, (images) => {
        const evidence = imageEvidence(params, config, images);
        addKnn(evidence, banks, config, undefined, chunkOwners);
        return evidence;
      }));
    }
    return concatEvidence(parts);
  };
  const anomalies = eachValidationImageAnomaly(anomalySeed, normals, train, config.imageSize);
  const fit = fitScoring(
    scored(normals, owners),
    scored(anomalies, anomalyOwners),
    activeComponents(config, "image"),
    config,
    "image",
  );
  return { ...fit, stats: { ...fit.stats, calibrated: normals.length } };
}

/**
 * Folds a table's normals are dealt into for its calibration on all of them
 * ({@linkcode calibrateTableKey}): each fold is scored against banks fitted on the other four.
 */
export const TABLE_CALIBRATION_FOLDS = 5;

/**
 * Most feature tokens (rows x features) of normals a table's calibration in folds scores
 * ({@linkcode calibrateTableKey}): each scored normal and the synthetic anomaly made from it take
 * a whole evidence pass, and unbounded they made a table of 500 features calibrate for longer than
 * it trained an epoch (docs/performance.md, "v26"). 200,000 tokens is 400 rows of 500 features;
 * the largest dev table (`30_satellite`, 2,199 training normals of 36 features, 79,000 tokens)
 * and ODDS thyroid are calibrated on all their normals.
 */
export const TABLE_CALIBRATION_TOKENS = 200_000;

/**
 * Rows of `d` features a table's calibration deals into folds: at most
 * {@linkcode TABLE_VALIDATION_ROWS} (the rows its fit reads) and `tokens` feature tokens, at least
 * {@linkcode MIN_TABLE_CALIBRATION_ROWS}, so that every fold has normals to stand for.
 */
export function tableCalibrationRows(d: number, tokens = TABLE_CALIBRATION_TOKENS): number {
  const rows = Math.min(TABLE_VALIDATION_ROWS, Math.floor(tokens / d));
  return Math.max(MIN_TABLE_CALIBRATION_ROWS, rows);
}

/** Fewest rows a table's calibration deals into folds, however wide the table. */
export const MIN_TABLE_CALIBRATION_ROWS = 100;

/**
 * Calibrates a table on all its normals (`train` then `val`, normalised rows of `d` features):
 * the rows are dealt at random into {@linkcode TABLE_CALIBRATION_FOLDS} folds, and each fold's
 * rows, with one synthetic anomaly made from each (donors from the other folds), are scored
 * against banks fitted on the other folds, so that every normal is scored by evidence fitted
 * without it; a component whose fold bank cannot stand for all normals is adjusted to the whole
 * bank (`foldBank`: the densities keep the whole bank's bandwidths). Standardisation, component
 * weights and threshold are then fitted on that evidence as {@linkcode fitScoring} does on
 * validation, and the banks kept are those fitted on every normal.
 * A table's validation holds a tenth of its training normals, 3 to 10 rows on a small table,
 * too few to tell which components separate; here every normal counts, up to
 * {@linkcode TABLE_VALIDATION_ROWS} rows and `tokens` feature tokens
 * ({@linkcode tableCalibrationRows}): beyond them the folds are dealt from a seeded random sample
 * of the normals, so a long or wide table's calibration costs a bounded number of encoder passes.
 * Null when there are fewer than two rows a fold.
 */
export function calibrateTableKey(
  params: Params,
  config: ModelConfig,
  table: string,
  d: number,
  train: Float32Array,
  val: Float32Array,
  seed: number,
  anomalySeed: number,
  tokens = TABLE_CALIBRATION_TOKENS,
): { fitted: FittedKey; report: FitReport } | null {
  const all = concatArrays([train, val]);
  const n = all.length / d;
  const folds = TABLE_CALIBRATION_FOLDS;
  if (n < 2 * folds) return null;
  const samples = (rows: Float32Array): Samples => ({ modality: "table", table, rows, d });
  const rng = new Rng(anomalySeed);
  // The shuffle is drawn whole, so a table under the bound is dealt as it always was.
  const order = rng.shuffle([...Array(n).keys()]).slice(0, tableCalibrationRows(d, tokens));
  // One encoder pass over the rows the banks are fitted on: the kept banks are fitted on all
  // these features, and each fold's on the same features less the fold's rows, so the folds add
  // no pass of their own (five more when each fold's banks were fitted anew). A fold's bank
  // compares in the kept bank's principal directions: on a wide table, fitting them five times
  // more cost most of the calibration outside the encoder (docs/performance.md).
  const subset = fitSubset(samples(all), config, seed);
  const features = bankFeatures(params, config, subset.samples);
  const settings = bankSettings(config, subset.samples, seed);
  const whole = banksOf(features, settings);
  const owners = subset.kept ?? [...Array(n).keys()]; // the normal each features row belongs to
  const normals: Evidence[] = [];
  const anomalies: Evidence[] = [];
  for (let f = 0; f < folds; f++) {
    const held = order.filter((_, i) => i % folds === f);
    const out = new Set(held);
    const others = [...owners.keys()].filter((p) => !out.has(owners[p]));
    const banks: Record<string, MemoryBank> = {};
    // One array of features at a time, so that a wide table's features are copied one at a
    // time; the components that read the same array (the densities and the forest, `enc` and
    // `enc_kde`) share its copy and are fitted together, as the kept banks were.
    for (const names of namesByFeatures(features)) {
      const part = featureRowsOf(features[names[0]], others);
      const directions = whole[names[0]]?.projection;
      const fitted = banksOf(
        Object.fromEntries(names.map((name) => [name, part])),
        directions ? { ...settings, directions } : settings,
      );
      for (const name of names) {
        banks[name] = fitted[name];
        requireComponent(name).foldBank?.(banks[name], whole[name]);
      }
    }
    const rows = rowsAt(all, d, held);
    normals.push(scoredEvidence(params, config, samples(rows), banks));
    // Anomalies borrow from the other folds' rows, never from the row they are made of.
    const donors = rowsAt(all, d, order.filter((_, i) => i % folds !== f));
    anomalies.push(
      scoredEvidence(params, config, samples(tableAnomalies(rows, donors, d, rng)), banks),
    );
  }
  const fit = fitScoring(
    concatEvidence(normals),
    concatEvidence(anomalies),
    activeComponents(config, "table"),
    config,
    "table",
  );
  const calibrated = normals.reduce((s, e) => s + e.n, 0);
  return { fitted: { banks: whole, stats: { ...fit.stats, calibrated } }, report: fit.report };
}

/** Component names grouped by the features array they read, in their order. */
function namesByFeatures(features: Record<string, FeatureSet>): string[][] {
  const groups = new Map<Float32Array, string[]>();
  for (const [name, f] of Object.entries(features)) {
    const group = groups.get(f.data);
    if (group) group.push(name);
    else groups.set(f.data, [name]);
  }
  return [...groups.values()];
}

/**
 * For each of `train` then `val` normals, the sample its bank rows came from among those the
 * banks were fitted on (`fitted`: indices into train; null: all of train), or -1 when it has
 * none in the banks.
 */
export function bankOwners(train: number, val: number, fitted: number[] | null): Int32Array {
  const owners = new Int32Array(train + val).fill(-1);
  if (fitted) fitted.forEach((i, k) => (owners[i] = k));
  else for (let i = 0; i < train; i++) owners[i] = i;
  return owners;
}

/** Evidence of several sample sets, one after the other (scores and maps; no features). */
export function concatEvidence(parts: Evidence[]): Evidence {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const out: Evidence = { n, sample: {}, tokens: {}, features: {} };
  for (const name of Object.keys(parts[0]?.sample ?? {})) {
    out.sample[name] = concatArrays(parts.map((p) => p.sample[name]));
  }
  for (const [name, map] of Object.entries(parts[0]?.tokens ?? {})) {
    out.tokens[name] = {
      grid: map.grid,
      values: concatArrays(parts.map((p) => p.tokens[name].values)),
    };
  }
  return out;
}

/** What {@linkcode scoreKey} returns. */
export interface KeyScores {
  scores: Float32Array;
  /** Per-image anomaly maps (grid x grid each) for images, else null. */
  maps: Float32Array[] | null;
  grid: number;
  parts: Record<string, Float32Array>;
}

/** Options of {@linkcode scoreKey}. */
export interface ScoreKeyOptions {
  /** Table rows scored at a time (bounds memory; the same scores). */
  batchRows?: number;
  /** Called after each chunk of samples with those scored so far and their number. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Also compute the components the fitted weights leave out (weight 0 from validation), for a
   * report of each component alone (`eval`, the ablation): their standardised values come in
   * `parts` beside the counted ones', while the scores and maps combine the counted components
   * alone, the same as without this. Scoring for use (`deno task score`) leaves them out, since
   * they would cost time and change nothing.
   */
  everyComponent?: boolean;
}

/** Images scored between two progress reports of {@linkcode scoreKey} (tables: a batch). */
const IMAGES_PER_PROGRESS = 16;

/** The scores of consecutive chunks of samples as one. */
function concatKeyScores(chunks: KeyScores[]): KeyScores {
  if (chunks.length === 1) return chunks[0];
  const parts: Record<string, Float32Array> = {};
  for (const key of Object.keys(chunks[0]?.parts ?? {})) {
    parts[key] = concatArrays(chunks.map((c) => c.parts[key]));
  }
  return {
    scores: concatArrays(chunks.map((c) => c.scores)),
    maps: chunks[0]?.maps ? chunks.flatMap((c) => c.maps!) : null,
    grid: chunks[0]?.grid ?? 0,
    parts,
  };
}

/**
 * Bytes of token features (`d` x width floats a row, as `enc` reads them) a batch of table rows
 * may hold while it is scored (32 MB: 10,922 rows of 6 features of width 128); the evidence of a
 * batch, a few times that at most, is what scoring a table holds besides its rows and scores,
 * however many rows there are. Its arrays serve every batch (`FeatureBuffers`), so smaller
 * batches also fault fewer fresh pages in.
 */
export const TABLE_SCORE_BYTES = 32 * 2 ** 20;

/** Table rows scored together: `batchRows`, else as many as {@linkcode TABLE_SCORE_BYTES} allows. */
export function scoringBatchRows(config: ModelConfig, d: number, batchRows?: number): number {
  if (batchRows !== undefined) {
    if (!(Number.isSafeInteger(batchRows) && batchRows >= 1)) {
      throw new RangeError(`batch rows must be a positive integer, got ${batchRows}`);
    }
    return batchRows;
  }
  return Math.max(512, Math.floor(TABLE_SCORE_BYTES / (4 * d * config.width)));
}

/**
 * {@linkcode scoreKey} a chunk at a time, with `options.onProgress` told between chunks: pauses
 * (yields) after each chunk but the last and returns the scores of all of them together (run it
 * through with {@linkcode finish}, or {@linkcode finishYielding} to let the event loop run at
 * each pause). Every sample is scored on its own, so a chunk at a time gives the same scores and
 * maps (images: to float32 rounding, as products over other batch sizes round differently), with
 * progress between chunks: an aligned category's 100 test images, each at fifteen poses, take
 * minutes, and so do a few hundred thousand table rows. A table's chunk is the batch its evidence is scored in anyway.
 */
export function* scoreKeyChunks(
  params: Params,
  config: ModelConfig,
  fitted: FittedKey,
  samples: Samples,
  options: ScoreKeyOptions = {},
): Generator<void, KeyScores> {
  const total = samples.modality === "image"
    ? samples.images.length
    : samples.rows.length / samples.d;
  const step = samples.modality === "image"
    ? IMAGES_PER_PROGRESS
    : scoringBatchRows(config, samples.d, options.batchRows);
  const chunks: KeyScores[] = [];
  options.onProgress?.(0, total);
  for (let start = 0; start < total; start += step) {
    const end = Math.min(total, start + step);
    const chunk: Samples = samples.modality === "image"
      ? { ...samples, images: samples.images.slice(start, end) }
      : { ...samples, rows: samples.rows.subarray(start * samples.d, end * samples.d) };
    chunks.push(scoreKey(params, config, fitted, chunk, { ...options, onProgress: undefined }));
    options.onProgress?.(end, total);
    if (end < total) yield;
  }
  return concatKeyScores(chunks);
}

/** Runs work that pauses now and then ({@linkcode scoreKeyChunks}) straight through. */
export function finish<T>(work: Generator<void, T>): T {
  for (let next = work.next();; next = work.next()) if (next.done) return next.value;
}

/**
 * Runs work that pauses now and then ({@linkcode scoreKeyChunks}), letting the event loop run at
 * each pause: a stop signal (Ctrl-C) is then heard within a batch of table rows, not after the
 * last one.
 */
export async function finishYielding<T>(work: Generator<void, T>): Promise<T> {
  for (let next = work.next();; next = work.next()) {
    if (next.done) return next.value;
    await yieldToEventLoop();
  }
}

/** Lets timers, signals and other pending events run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Scores new samples with a fitted scorer: combined scores, and maps for images. Table rows
 * are scored in batches of {@linkcode scoringBatchRows} (`options.batchRows`) and images in
 * chunks of {@linkcode IMAGE_SCORE_CHUNK}, so memory stays bounded whatever their number; the
 * scores are those of one pass.
 */
export function scoreKey(
  params: Params,
  config: ModelConfig,
  fitted: FittedKey,
  samples: Samples,
  options: ScoreKeyOptions = {},
): KeyScores {
  if (options.onProgress) return finish(scoreKeyChunks(params, config, fitted, samples, options));
  const components = activeComponents(config, samples.modality);
  const counted = usedComponents(components, fitted.stats);
  const skip = options.everyComponent
    ? new Set<string>()
    : new Set(components.filter((c) => !counted.includes(c)));
  const evidence = scoredEvidence(
    params,
    config,
    samples,
    fitted.banks,
    skip,
    options.batchRows,
  );
  const smooth = smoothsMaps(fitted.stats, config);
  // The counted components alone make the score and the maps, whatever else was computed.
  const { scores, parts } = combineScores(evidence, counted, fitted.stats, smooth);
  if (options.everyComponent) {
    const uncounted = components.filter((c) => !counted.includes(c));
    Object.assign(parts, standardisedParts(evidence, uncounted, fitted.stats, smooth));
  }
  const combined = samples.modality === "image"
    ? combineMaps(evidence, counted, fitted.stats)
    : null;
  return { scores, maps: combined?.maps ?? null, grid: combined?.grid ?? 0, parts };
}

/**
 * Evaluating a checkpoint: rebuild each dataset's held-out test part exactly as it was split
 * for training (protocol, seed and validation share come from the checkpoint), score it, and
 * compute the metrics at the threshold chosen on validation. Image categories the checkpoint has
 * never seen get their memory bank and statistics fitted from their own `train/good` first.
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import type { Checkpoint } from "../train/checkpoint.ts";
import { fittedFor } from "../train/fitted.ts";
import {
  alignCategory,
  alignImages,
  checkTableScores,
  datasetKey,
  type DatasetRecord,
  decodeAll,
  type PreparedImages,
  type PreparedTable,
  prepareImages,
  prepareTable,
} from "../train/datasets.ts";
import {
  finishYielding,
  fitImageKey,
  type FittedKey,
  type KeyScores,
  sampleIndices,
  type Samples,
  scoreKey,
  scoreKeyChunks,
  scoringBatchRows,
} from "../model/scorer.ts";
import {
  activeComponents,
  concatArrays,
  imageEvidence,
  type MapReductionAuroc,
  sampleScores,
  smoothsMaps,
  tableEvidence,
  usedComponents,
  weightOf,
} from "../model/detector.ts";
import {
  EVIDENCE_COMPONENTS,
  headsCount,
  isTransformerEvidence,
  switchedOn,
} from "../model/evidence/registry.ts";
import type { ImageSample } from "../data/types.ts";
import type { PoseAlignment } from "../data/pose.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { decodeMask } from "../data/images.ts";
import { rowsAt } from "../data/split.ts";
import { shiftedFeatures, shiftWarning } from "../data/normalise.ts";
import { sourceDigest } from "../data/source_digest.ts";
import { type DatasetMetrics, evaluateScores } from "../metrics/evaluate.ts";
import { auroc } from "../metrics/ranking.ts";
import { maskClassReason, pixelAuroc, pro } from "../metrics/pixel.ts";
import { oneClassReason } from "../metrics/validate.ts";
import { defectAurocs, type DefectResult } from "../metrics/defects.ts";
import { pixelMap } from "../model/maps.ts";
import { MadError } from "../errors.ts";
import { ANOMALY_SEED_OFFSET } from "../rng.ts";
import { backendFailure } from "../model/backend_failure.ts";
import { asciiTableName, LEGACY_FOLDER_TABLE_NAME, tableNameOf } from "../data/table_name.ts";
import { explainTable, type TableExplanation } from "./explain_table.ts";
import { isDirectory } from "../util/files.ts";

/** One evidence component of a dataset's score: its weight and its own test AUROC. */
export interface ComponentResult {
  name: string;
  /** Share of the combined score (weights sum to 1 over the components used). */
  weight: number;
  /** AUROC of this component alone on the test part; null when that has a single class. */
  auroc: number | null;
  /**
   * Rows that AUROC was measured on when a sample of the test part (the heads' report on a large
   * wide table, see {@linkcode HEAD_REPORT_TOKENS}); absent: every test sample.
   */
  sampleRows?: number;
  /**
   * The fitted weights leave it out of the score (weight 0 from validation): computed for this
   * report alone, so its AUROC shows what it would have read; `weight` is 0.
   */
  droppedByValidation?: boolean;
  /** It counts in the score only above its normals' median (`tableOneSided`). */
  oneSided?: boolean;
  /** It counts on its tail scale (`tableOneSidedTail`; every component: `tableScale: "tail"`). */
  tailScale?: boolean;
}

/** The Transformer's readings together, when a score has more than one (see `transformerResult`). */
export interface TransformerResult {
  components: string[];
  /** AUROC of their weighted sum alone on the test part; null when that has a single class. */
  auroc: number | null;
}

/** Pixel AUROC and PRO of an image category, and the defect images left out for want of a mask. */
export interface PixelMetrics {
  auroc: number;
  pro: number;
  /** Defect images without a ground-truth mask, left out (when any were). */
  unmasked?: number;
}

/** Metrics of one dataset plus what plots need. */
export interface DatasetEvaluation {
  /** The dataset's name in the checkpoint (a given table is scored as the trained one it matches). */
  name: string;
  modality: "image" | "table";
  /**
   * What was scored: the table file or folder, or the folder given for an image category (as
   * `--images` or the checkpoint recorded it). Absent in evaluations made before it was kept.
   */
  source?: string;
  /**
   * Metrics at the checkpoint's threshold; those the test part cannot measure (AUROC and the
   * like when it has a single class) are null, and `unmeasured` says why.
   */
  metrics: DatasetMetrics;
  /** Why some metrics are null, e.g. `the test part has only normal samples`. */
  unmeasured?: string;
  /** The evidence the score combines, with each component's weight and test AUROC. */
  components: ComponentResult[];
  /** Tables scored with both readings of the encoder's tokens: the two together. */
  transformer?: TransformerResult;
  /**
   * Pixel-level metrics when ground-truth masks exist; `unmasked` counts the defect images left
   * out of them for want of a mask (when any were).
   */
  pixel?: PixelMetrics;
  /** Images: whether the score is the maximum of the map or of the 3x3-smoothed map. */
  imageScore?: "max" | "smoothed_max";
  /** Images: the validation AUROC of each map maximum, when validation chose between them. */
  reductions?: MapReductionAuroc;
  scores: Float32Array;
  labels: Uint8Array;
  /** Image test samples, in score order. */
  samples?: ImageSample[];
  /** Per-image anomaly maps on the token grid (grid x grid each). */
  maps?: Float32Array[];
  grid?: number;
  /** Images: the category's pose alignment (when aligned, maps lie over the aligned images). */
  pose?: PoseAlignment;
  /** Images: whether the memory banks compare each cell with normal cells at its place. */
  cellsInPlace?: boolean;
  /** Images in the MVTec layout with two or more defect types: the AUROC of each type alone. */
  defects?: DefectResult[];
  /** Tables, with `explain`: the features behind the highest-scored test rows. */
  features?: TableExplanation;
}

/** What to evaluate: datasets recorded in the checkpoint unless folders or files are given. */
export interface EvaluateOptions {
  imageDirs?: string[];
  tablePaths?: string[];
  cache: ImageCache;
  /** Called with a line of progress per dataset. */
  onProgress?: (line: string) => void;
  /**
   * Images: a progress bar for scoring a category's test images, made with its label (e.g.
   * `progressReporter`); called with the images scored so far and their number.
   */
  progressBar?: (label: string) => (done: number, total: number) => void;
  /** Tables: explain the highest-scored test rows by their features (see `explain_table.ts`). */
  explain?: boolean;
  /** The trained table to evaluate the one given table as (see {@linkcode tableRecordFor}). */
  tableName?: string;
}

/**
 * Values of prepared table rows (float32) that eval keeps from its up-front check of every table
 * to their scoring: 16 M values, 64 MB. Beyond it a table is read once more in its turn.
 */
const KEPT_TABLE_VALUES = 16_000_000;

/** Evaluates a checkpoint on the test parts of its datasets (or of the given ones). */
export async function evaluateCheckpoint(
  ckpt: Checkpoint,
  options: EvaluateOptions,
): Promise<DatasetEvaluation[]> {
  const given = (options.imageDirs?.length ?? 0) + (options.tablePaths?.length ?? 0) > 0;
  const imageRecords = ckpt.datasets.filter((d) => d.modality === "image");
  const tableRecords = ckpt.datasets.filter((d) => d.modality === "table");
  const imageDirs = given
    ? options.imageDirs ?? []
    : [...new Set(imageRecords.map((r) => r.source))];
  const out: DatasetEvaluation[] = [];
  const split = imageRecords[0]?.split ??
    {
      protocol: "given" as const,
      seed: ckpt.config.train.seed,
      valShare: ckpt.config.train.valShare,
    };
  const preparedImages = await prepareImages(imageDirs, split);
  // Every table is read and checked before the first dataset is scored: a missing or unreadable
  // one is refused at once, not after minutes of scoring the others.
  const tables: DatasetRecord[] = given
    ? (options.tablePaths ?? []).map((path) => tableRecordFor(ckpt, path, options.tableName))
    : tableRecords;
  const prepare = (record: DatasetRecord, warn: (line: string) => void) =>
    prepareTable(
      record.source,
      record.split,
      record.normalisation,
      record.name,
      {},
      record.columns,
      warn,
      record.columnsFromHeader,
    );
  // Warnings go where this run's other lines about its data go.
  const warn = (line: string) => (options.onProgress ?? console.warn)(line);
  // The prepared rows are kept for scoring up to a bound, so that memory stays that of one
  // table at a time, as before the check: larger tables are read again when their turn comes.
  let keptValues = 0;
  const preparedTables: (PreparedTable | null)[] = tables.map((record) => {
    const prepared = prepare(record, warn);
    const values = prepared.train.length + prepared.val.length + prepared.test.length;
    if (tables.length > 1 && keptValues + values > KEPT_TABLE_VALUES) return null;
    keptValues += values;
    return prepared;
  });
  for (const prepared of preparedImages) {
    const trained = ckpt.datasets.find((d) =>
      d.modality === "image" && d.name === prepared.record.name
    );
    const changed = changedDataWarning(trained, prepared.record.source);
    if (changed) options.onProgress?.(changed);
    if (!trained) options.onProgress?.(untrainedCategoryNote(ckpt, prepared));
    options.onProgress?.(`scoring ${prepared.record.name} (${prepared.test.length} test images)`);
    try {
      const evaluation = await evaluateImages(ckpt, prepared, options);
      warnUnmeasured(evaluation, prepared.record.source, options.onProgress);
      out.push(evaluation);
    } catch (e) {
      throw backendFailure(
        e,
        `${prepared.record.source}: evaluating image category ${prepared.record.name} ` +
          `(${prepared.train.length} training, ${prepared.test.length} test images)`,
        "images",
      );
    }
  }
  for (const [t, record] of tables.entries()) {
    // Read again, its warnings said already.
    const prepared = preparedTables[t] ?? prepare(record, () => {});
    preparedTables[t] = null; // its rows are held no longer than needed
    const fitted = fittedFor(ckpt, datasetKey(record));
    const changed = changedDataWarning(record, record.source);
    if (changed) options.onProgress?.(changed);
    const shifted = shiftedFeatures({
      n: prepared.testLabels.length,
      d: prepared.d,
      columns: record.columns ?? [],
      values: prepared.test,
    });
    if (shifted.length > 0) {
      options.onProgress?.(shiftWarning(record.source, shifted, prepared.d));
    }
    options.onProgress?.(`scoring ${record.name} (${prepared.testLabels.length} test rows)`);
    const samples: Samples = {
      modality: "table",
      table: record.name,
      rows: prepared.test,
      d: prepared.d,
    };
    // A backend crash (wasm out of memory) becomes a one-line error naming the table.
    const what = `${record.source}: scoring table ${record.name} (${prepared.testLabels.length} ` +
      `rows x ${prepared.d} features)`;
    const guarded = <T>(run: () => T): T => {
      try {
        return run();
      } catch (e) {
        throw backendFailure(e, what);
      }
    };
    // With progress, as images: 100,000 rows took 20 s with nothing said. A batch at a time,
    // letting a stop signal in between batches.
    let scored: KeyScores;
    try {
      scored = await finishYielding(
        scoreKeyChunks(ckpt.params, ckpt.config.model, fitted, samples, {
          onProgress: options.progressBar?.(`scoring ${record.name}`),
          everyComponent: true,
        }),
      );
    } catch (e) {
      throw backendFailure(e, what);
    }
    const { scores, parts } = scored;
    checkTableScores(scores, record.source, (i) => prepared.testRows?.[i] ?? i);
    const metrics = evaluateScores(
      scores,
      prepared.testLabels,
      fitted.stats.threshold,
      `${record.name} (${record.source})`,
    );
    const components = componentResults(parts, fitted, prepared.testLabels);
    const transformer = transformerResult(parts, fitted, prepared.testLabels);
    const heads = guarded(() =>
      headResults(ckpt, samples, prepared.testLabels, false, {
        name: record.name,
        onProgress: options.onProgress,
      })
    );
    if (options.explain) options.onProgress?.(`explaining ${record.name} by its features`);
    const features = options.explain
      ? guarded(() => explainTable(ckpt, fitted, prepared, scores))
      : undefined;
    const evaluation: DatasetEvaluation = {
      name: record.name,
      modality: "table",
      source: record.source,
      metrics,
      ...unmeasuredOf(prepared.testLabels),
      components: [...components, ...heads],
      ...(transformer ? { transformer } : {}),
      scores,
      labels: prepared.testLabels,
      ...(features ? { features } : {}),
    };
    warnUnmeasured(evaluation, record.source, options.onProgress);
    out.push(evaluation);
  }
  return out;
}

/** `{ unmeasured }` saying why the test part has no AUROC (a single class), or nothing. */
function unmeasuredOf(labels: Uint8Array): { unmeasured?: string } {
  const why = oneClassReason(labels);
  return why ? { unmeasured: `the test part ${why}` } : {};
}

/**
 * One `warning:` line when a dataset's test part has a single class: it is still reported, with
 * AUROC, AUPR, precision, F1 (and recall or the false-alarm rate, whichever has no samples) as
 * n/a, so one such dataset no longer stops the evaluation of the others.
 */
function warnUnmeasured(
  e: DatasetEvaluation,
  source: string,
  onProgress?: (line: string) => void,
): void {
  if (!e.unmeasured) return;
  const what = e.metrics.n === 0
    ? "every metric is n/a"
    : "so AUROC, AUPR, precision and F1 are n/a; " + (e.metrics.anomalies === 0
      ? "its false-alarm rate is reported"
      : "its recall (the share of anomalies flagged) is reported");
  onProgress?.(
    `warning: ${e.modality === "image" ? "image category" : "table"} ${e.name} (${source}): ` +
      `${e.unmeasured}${e.metrics.n === 0 ? ": " : ", "}${what}`,
  );
}

/**
 * The checkpoint's record for a table file or folder, with the given path as its source: the
 * table named `chosen` when given; else the table of the same name ({@linkcode tableNameOf}, or
 * the ASCII-only or unsanitised names older versions used, or `thyroid-course` for a folder),
 * else the one with this source, else the only one.
 *
 * @throws {MadError} naming the file and the tables the checkpoint knows when none matches.
 */
export function tableRecordFor(ckpt: Checkpoint, path: string, chosen?: string): DatasetRecord {
  const known = ckpt.datasets.filter((d) => d.modality === "table");
  const knownNames = known.map((d) => d.name).join(", ") || "none";
  if (chosen !== undefined) {
    const record = known.find((d) => d.name === chosen);
    if (!record) {
      throw new MadError(
        `${path}: the checkpoint has no table '${chosen}' (it knows: ${knownNames})`,
      );
    }
    return { ...record, source: path };
  }
  const folder = isDirectory(path); // false when missing: prepareTable reports it
  const stem = tableNameOf(path, folder);
  const names = [
    stem,
    tableNameOf(path, folder, asciiTableName),
    basename(path, extname(path)).replace(/^ann-(train|test)$/, "thyroid"),
    ...(folder ? [LEGACY_FOLDER_TABLE_NAME] : []),
  ];
  const record = names.map((n) => known.find((d) => d.name === n)).find((d) => d) ??
    known.find((d) => d.source === path) ??
    (known.length === 1 ? known[0] : undefined);
  if (!record && known.length === 0) {
    throw new MadError(
      `${path}: the checkpoint was trained on no table; score image folders with --images, or ` +
        "train a model with --table",
    );
  }
  if (!record) {
    throw new MadError(
      `${path}: the checkpoint has no table named '${stem}' (it knows: ${knownNames}); name ` +
        "the file after one of them, or give --category NAME",
    );
  }
  return { ...record, source: path };
}

/**
 * A warning line when `source` no longer holds what the run trained `trained` on (its digest
 * differs): a whole table is split again at evaluation, and from changed data its test part may
 * hold training normals. Null when unchanged, or for checkpoints that kept no digest.
 */
export function changedDataWarning(
  trained: DatasetRecord | undefined,
  source: string,
): string | null {
  if (!trained?.digest) return null;
  const now = sourceDigest(source);
  if (now === null || now === trained.digest) return null;
  const what = trained.modality === "image" ? "category" : "table";
  // Only a whole table is split at evaluation; image folders and split folders keep their test.
  const resplit = trained.split.protocol === "half-normals" && trained.modality === "table";
  return `warning: ${source}: not what ${what} ${trained.name} was trained on (its contents differ)` +
    (resplit
      ? "; the split drawn again from it may put training normals in the test part, so the " +
        "metrics may not be of held-out rows"
      : "");
}

/**
 * A line for an image category the checkpoint was not trained on (a new or renamed folder): it is
 * scored all the same, its memory banks fitted now on its training images, but the encoder never
 * saw it, and a checkpoint trained on tables alone has image layers as they were initialised.
 */
export function untrainedCategoryNote(ckpt: Checkpoint, prepared: PreparedImages): string {
  const known = ckpt.datasets.filter((d) => d.modality === "image").map((d) => d.name);
  const trainedOn = known.length > 0
    ? known.join(", ")
    : "it trained on no images, so its image layers are untrained";
  const images = prepared.train.length + prepared.val.length;
  const { name, source } = prepared.record;
  return `${source}: image category ${name} is not one the checkpoint was trained on ` +
    `(${trainedOn}); its memory banks are fitted now on its ${images} training images`;
}

/** The pose alignment a checkpoint recorded for an image category (none for old checkpoints). */
export function recordedPose(ckpt: Checkpoint, category: string): PoseAlignment | undefined {
  return ckpt.datasets.find((d) => d.modality === "image" && d.name === category)?.pose;
}

/**
 * An image category's fitted scoring and pose alignment: both as the checkpoint recorded them, or,
 * for a category it has not seen, the pose decided on the category's training normals and the
 * scoring fitted on them, turned to that pose.
 */
export async function imageScorer(
  ckpt: Checkpoint,
  prepared: PreparedImages,
  cache: ImageCache,
): Promise<{ fitted: FittedKey; pose?: PoseAlignment }> {
  const key = datasetKey(prepared.record);
  const recorded = recordedPose(ckpt, prepared.record.name);
  if (ckpt.stats[key]) return { fitted: fittedFor(ckpt, key), pose: recorded };
  const size = ckpt.config.model.imageSize;
  const decoded = await decodeAll(cache, prepared.train, size);
  // A category it was trained on but never fitted keeps the pose it was trained with.
  const { pose, train } = recorded
    ? { pose: recorded, train: alignImages(decoded, size, recorded) }
    : alignCategory(decoded, size, ckpt.config.model.alignObjects);
  const val = await decodeAll(cache, prepared.val, size, pose);
  const { fitted } = fitImageKey(
    ckpt.params,
    ckpt.config.model,
    train,
    val,
    ckpt.config.train.seed,
    ckpt.config.train.seed + ANOMALY_SEED_OFFSET,
    { aligned: pose.aligned },
  );
  return { fitted, pose };
}

async function evaluateImages(
  ckpt: Checkpoint,
  prepared: PreparedImages,
  options: EvaluateOptions,
): Promise<DatasetEvaluation> {
  const { cache, onProgress } = options;
  const config = ckpt.config.model;
  const { fitted, pose } = await imageScorer(ckpt, prepared, cache);
  const images = await decodeAll(cache, prepared.test, config.imageSize, pose);
  const { scores, maps, grid, parts } = scoreKey(
    ckpt.params,
    config,
    fitted,
    { modality: "image", images, aligned: pose?.aligned },
    { onProgress: options.progressBar?.(`scoring ${prepared.record.name}`), everyComponent: true },
  );
  const labels = Uint8Array.from(prepared.test.map((s) => s.label ?? 0));
  const perImage = maps ?? undefined;
  const evaluation: DatasetEvaluation = {
    name: prepared.record.name,
    modality: "image",
    source: prepared.record.source,
    metrics: evaluateScores(
      scores,
      labels,
      fitted.stats.threshold,
      `${prepared.record.name} (${prepared.record.source})`,
    ),
    ...unmeasuredOf(labels),
    components: [
      ...componentResults(parts, fitted, labels),
      ...headResults(
        ckpt,
        { modality: "image", images },
        labels,
        smoothsMaps(fitted.stats, config),
        { name: prepared.record.name, onProgress },
      ),
    ],
    imageScore: smoothsMaps(fitted.stats, ckpt.config.model) ? "smoothed_max" : "max",
    ...(fitted.stats.reductions ? { reductions: fitted.stats.reductions } : {}),
    scores,
    labels,
    samples: prepared.test,
    maps: perImage,
    grid,
    pose,
    cellsInPlace: Object.values(fitted.banks).some((bank) => bank.cellStep !== undefined),
  };
  const defects = defectAurocs(scores, prepared.test.map((s) => s.defect));
  if (defects) evaluation.defects = defects;
  if (perImage && prepared.test.some((s) => s.maskPath)) {
    const pixel = await pixelMetrics(prepared.test, perImage, grid, config.imageSize);
    if ("skipped" in pixel) {
      // The image-level metrics stand: only the localisation has nothing to be measured against.
      onProgress?.(
        `warning: image category ${prepared.record.name} (${prepared.record.source}): its ` +
          `ground-truth ${pixel.skipped}, so no pixel AUROC or PRO`,
      );
    } else evaluation.pixel = pixel;
    const unmasked = pixel.unmasked ?? 0;
    if (unmasked > 0) {
      onProgress?.(
        `${prepared.record.name}: ${unmasked} defect image${unmasked === 1 ? " has" : "s have"} ` +
          `no ground-truth mask (e.g. ${unmaskedExample(prepared.test)}); left out of the ` +
          `pixel AUROC and PRO`,
      );
    }
  } else {
    const unmatched = unmatchedMasks(prepared.test);
    if (unmatched) onProgress?.(`${prepared.record.name}: ${unmatched}`);
  }
  return evaluation;
}

/**
 * Why an MVTec category whose `ground_truth/` holds files gets no pixel metrics: no file there
 * is named as a test image's mask (`ground_truth/<defect>/<image>_mask.png`). Null when the
 * category has no such folder, or no defect images.
 */
export function unmatchedMasks(test: ImageSample[]): string | null {
  const defect = test.find((s) => s.label === 1 && s.defect);
  if (!defect) return null;
  // test/<defect>/<image> lies three levels below the category.
  const truth = join(dirname(dirname(dirname(defect.path))), "ground_truth");
  let example: string | null = null;
  try {
    for (const sub of Deno.readDirSync(truth)) {
      if (!sub.isDirectory) continue;
      const file = [...Deno.readDirSync(join(truth, sub.name))].find((f) => f.isFile);
      if (file) {
        example = `${sub.name}/${file.name}`;
        break;
      }
    }
  } catch {
    return null;
  }
  if (!example) return null;
  const stem = basename(defect.path, extname(defect.path));
  return `ground_truth/ holds masks (e.g. ${example}) but none is named as a test image's ` +
    `(ground_truth/${defect.defect}/${stem}_mask.png for test/${defect.defect}/` +
    `${basename(defect.path)}): no pixel AUROC or PRO`;
}

/** The AUROC of `scores`, or null when `labels` hold a single class (nothing to rank). */
function aurocOrNull(scores: ArrayLike<number>, labels: Uint8Array): number | null {
  return oneClassReason(labels) === null ? auroc(scores, labels) : null;
}

/**
 * Each component's share of the combined score and its test AUROC alone: which evidence carries
 * the separation on real anomalies (validation only saw synthetic ones). A component the fitted
 * weights leave out (`parts` from `scoreKey` with `everyComponent`) gets weight 0 and
 * `droppedByValidation`; the others share the score as the combined score shares it.
 */
export function componentResults(
  parts: Record<string, Float32Array>,
  fitted: FittedKey,
  labels: Uint8Array,
): ComponentResult[] {
  const names = Object.keys(parts);
  // All weights 0 (never fitted so) count alike, as `weightOf` reads them.
  const used = usedComponents(names, fitted.stats);
  const counted = used.length > 0 ? used : names;
  return names.map((name) => {
    const dropped = !counted.includes(name);
    return {
      name,
      weight: dropped ? 0 : weightOf(fitted.stats, name, counted),
      auroc: aurocOrNull(parts[name], labels),
      ...(dropped ? { droppedByValidation: true } : {}),
      ...(fitted.stats.oneSided?.includes(name) ? { oneSided: true } : {}),
      ...(fitted.stats.tails?.[name] ? { tailScale: true } : {}),
    };
  });
}

/**
 * The Transformer's own evidence alone when the score counts two or more of its readings (a
 * table's `enc` and `enc_kde`): their standardised parts summed with their weights among
 * themselves, as the combined score sums them, and that sum's test AUROC. Undefined with one
 * reading or none, whose own line says as much.
 */
export function transformerResult(
  parts: Record<string, Float32Array>,
  fitted: FittedKey,
  labels: Uint8Array,
): TransformerResult | undefined {
  // The readings that count: one the fitted weights leave out has its own line.
  const names = usedComponents(Object.keys(parts).filter(isTransformerEvidence), fitted.stats);
  if (names.length < 2) return undefined;
  const sum = new Float32Array(labels.length);
  for (const name of names) {
    const w = weightOf(fitted.stats, name, names);
    parts[name].forEach((v, i) => (sum[i] += w * v));
  }
  return { components: names, auroc: aurocOrNull(sum, labels) };
}

/**
 * The trained heads' evidence (reconstruction, sigmoid) when it does not count in the score
 * (`imageHeadEvidence` / `tableHeadEvidence` off): each component's test AUROC alone, with a
 * share of 0, so the report still shows what they would have added.
 */
function headResults(
  ckpt: Checkpoint,
  samples: Samples,
  testLabels: Uint8Array,
  smooth: boolean,
  progress: { name: string; onProgress?: (line: string) => void },
): ComponentResult[] {
  let labels = testLabels;
  let sampleRows: number | undefined;
  const config = ckpt.config.model;
  const serves = EVIDENCE_COMPONENTS.filter((c) => c.modalities.includes(samples.modality));
  const trained = serves.filter((c) => c.trained && switchedOn(c, config));
  // Nothing to read them on when the test part is empty (a category without test/).
  if (headsCount(config, samples.modality) || trained.length === 0 || labels.length === 0) {
    return [];
  }
  // The heads alone: every untrained component switched off.
  const withHeads = {
    ...config,
    imageHeadEvidence: true,
    tableHeadEvidence: true,
    ...Object.fromEntries(serves.filter((c) => !c.trained).map((c) => [c.switch.key, false])),
  };
  const heads = activeComponents(withHeads, samples.modality);
  // Their passes can take longer than the score itself (a large table: three masked passes and
  // one more through every block for each row), so the wait is named.
  const report = (what: string) =>
    progress.onProgress?.(`${progress.name}: the trained heads alone, for the report (${what})`);
  let scores: Record<string, Float32Array>;
  if (samples.modality === "image") {
    report(`${labels.length} test images`);
    scores = sampleScores(imageEvidence(ckpt.params, withHeads, samples.images), heads, smooth);
  } else {
    // A report only: on a long or wide table, a sample of rows (see headReportRows).
    const { d, table } = samples;
    const keep = headReportSample(labels, headReportRows(d), ckpt.config.train.seed);
    report(
      keep
        ? `a sample of ${keep.length} of ${labels.length} test rows`
        : `${labels.length} test rows`,
    );
    let values = samples.rows;
    if (keep) {
      sampleRows = keep.length;
      const all = labels;
      labels = Uint8Array.from(keep, (i) => all[i]);
      values = rowsAt(samples.rows, d, keep);
    }
    // In batches, as scoring does: a large table's token features never exist all at once.
    const batch = scoringBatchRows(config, d) * d;
    const parts: Record<string, Float32Array>[] = [];
    for (let start = 0; start < values.length || start === 0; start += batch) {
      const evidence = tableEvidence(
        ckpt.params,
        withHeads,
        table,
        values.subarray(start, start + batch),
        d,
      );
      parts.push(sampleScores(evidence, heads, smooth));
    }
    scores = Object.fromEntries(
      Object.keys(parts[0]).map((c) => [c, concatArrays(parts.map((p) => p[c]))]),
    );
  }
  return heads.filter((c) => scores[c]).map((name) => ({
    name,
    weight: 0,
    auroc: aurocOrNull(scores[name], labels),
    ...(sampleRows === undefined ? {} : { sampleRows }),
  }));
}

/**
 * Tokens (rows x (features + 1)) of the test part the trained heads' table report is computed
 * on, a seeded sample of rows beyond: every row is four encoder passes (three masked, one for
 * the sigmoid head), whose cost grows with the square of the tokens a row has. Thyroid's 1,933
 * test rows of 7 tokens are all reported; a table of 500 features gets 2,092 rows (50,500 would
 * take hours on two cores for figures that do not count in the score).
 */
export const HEAD_REPORT_TOKENS = 2 ** 20;

/**
 * A seeded sample of at most `limit` test rows, each class in its share and at least one of
 * each (an AUROC needs both), in ascending order; null when every row fits.
 */
export function headReportSample(labels: Uint8Array, limit: number, seed: number): number[] | null {
  const n = labels.length;
  if (n <= limit) return null;
  const anomalies = [...labels.keys()].filter((i) => labels[i] === 1);
  const normals = [...labels.keys()].filter((i) => labels[i] !== 1);
  const a = Math.min(anomalies.length, Math.max(1, Math.round((limit * anomalies.length) / n)));
  const pick = (from: number[], k: number) =>
    (sampleIndices(from.length, k, seed) ?? [...from.keys()]).map((i) => from[i]);
  return [...pick(anomalies, a), ...pick(normals, limit - a)].sort((x, y) => x - y);
}

/**
 * Most test rows the heads' report reads however narrow the table: at 100,000 rows of 6 features
 * the report of all 50,502 test rows was 46 of `eval`'s 55 s, and a sample of 20,000 halves
 * `eval`'s time and reads the heads' AUROC within 0.005 of every row's (docs/performance.md).
 */
export const HEAD_REPORT_ROWS = 20_000;

/**
 * Most test rows of `d` features the heads' report reads ({@linkcode HEAD_REPORT_TOKENS},
 * {@linkcode HEAD_REPORT_ROWS}).
 */
export function headReportRows(d: number): number {
  return Math.max(1, Math.min(HEAD_REPORT_ROWS, Math.floor(HEAD_REPORT_TOKENS / (d + 1))));
}

/** Whether a test image is a defect without a ground-truth mask (its pixels are unknown). */
function lacksMask(s: ImageSample): boolean {
  return s.label === 1 && !s.maskPath;
}

/** The first defect image without a mask, as `defect/file`. */
function unmaskedExample(samples: ImageSample[]): string {
  const s = samples.find(lacksMask)!;
  return s.defect ? `${s.defect}/${basename(s.path)}` : basename(s.path);
}

/**
 * Pixel AUROC and PRO of token-grid maps as pixel maps ({@linkcode pixelMap}) of the image size.
 * Normal images count as all-normal pixels; defect images without a mask are left out (their
 * pixels are unknown) and counted in `unmasked`. A mask of another aspect ratio than its image
 * is refused. When the masks mark no pixel anomalous (all empty), or every one, there is nothing
 * to rank: `skipped` says which ({@linkcode maskClassReason}), and the caller reports the
 * category without pixel metrics rather than failing.
 */
export async function pixelMetrics(
  samples: ImageSample[],
  maps: Float32Array[],
  grid: number,
  size: number,
): Promise<PixelMetrics | { skipped: string; unmasked?: number }> {
  const up: Float32Array[] = [];
  const masks: Float32Array[] = [];
  let unmasked = 0;
  for (const [i, s] of samples.entries()) {
    if (lacksMask(s)) {
      unmasked++;
      continue;
    }
    masks.push(
      s.maskPath
        ? await decodeMask(s.maskPath, size, { imagePath: s.path })
        : new Float32Array(size * size),
    );
    up.push(pixelMap(maps[i], { width: grid, height: grid }, { width: size, height: size }));
  }
  const left = unmasked > 0 ? { unmasked } : {};
  const oneClass = maskClassReason(masks);
  if (oneClass) {
    const files = samples.filter((s) => s.maskPath).length;
    const what = oneClass === "masks have no anomalous pixels"
      ? "are all empty (no anomalous pixel)"
      : "mark every pixel anomalous (no normal one)";
    const where = files === 1 ? "its one mask file" : `all ${files} mask files`;
    return { skipped: `masks ${what} in ${where}`, ...left };
  }
  return {
    auroc: pixelAuroc(up, masks),
    pro: pro(up, masks, size, size, { steps: 500 }),
    ...left,
  };
}

/**
 * The in-project baselines the benchmark puts next to MADformer, on exactly the splits the model
 * trains and is tested on (same split code, same seed):
 *
 * - tables: an Isolation Forest of 100 trees grown on 256 rows each (Liu, Ting and Zhou 2008),
 *   kNN (mean Euclidean distance to the k = 5 nearest training normals) and a one-class SVM
 *   (Gaussian kernel, ν = 0.05, γ "scale": scikit-learn's OCSVM peer, `one_class_svm.ts`), all on
 *   the raw features z-scored with the training normals' mean and standard deviation;
 * - images: raw-patch kNN, each test image cut into 8x8-pixel RGB patches at the model's image
 *   size, each patch's distance to the nearest patch of the training normals, the image score
 *   the largest patch distance (and the patch distances its anomaly map).
 *
 * Each baseline's threshold is the 0.99 quantile of its scores on the validation normals, as
 * for the model; AUROC, AUPR and F1 at the true count do not depend on it.
 *
 * @module
 */
import type { SplitSpec } from "../data/types.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { decodeAll, prepareImages, prepareTable, readTableSource } from "../train/datasets.ts";
import { pixelMetrics } from "../experiment/evaluate_checkpoint.ts";
import { buildBank, knnDistances } from "../model/knn.ts";
import { growForest, isolationScores } from "../model/isolation.ts";
import { fitOneClassSvm, OCSVM_NU, svmScores } from "./one_class_svm.ts";
import { evaluateScores } from "../metrics/evaluate.ts";
import { thresholdFromNormals } from "../metrics/threshold.ts";
import { Rng } from "../rng.ts";
import { MadError } from "../errors.ts";
import type { EvaluationEntry } from "../experiment/results.ts";

/** The name reports show for the Isolation Forest table baseline ({@linkcode LIU_FOREST}). */
export const ISOLATION_FOREST = "Isolation Forest";
/** The name reports show for the table kNN (mean distance to {@linkcode KNN_K} normal rows). */
export const KNN = "kNN (k=5)";
/** The name reports show for the one-class SVM table baseline, with its nu. */
export const ONE_CLASS_SVM = `OCSVM (nu=${OCSVM_NU})`;
/** The table baselines, in the order they run (part of a baseline run file's key). */
export const TABLE_BASELINES = [ISOLATION_FOREST, KNN, ONE_CLASS_SVM] as const;
/** The name reports show for the image baseline: kNN over raw pixel patches. */
export const RAW_PATCH_KNN = "raw-patch kNN";

/** The Isolation Forest of Liu et al.: 100 trees, each grown on 256 rows. */
export const LIU_FOREST = { trees: 100, sample: 256 } as const;
/** Neighbours the table kNN averages over. */
export const KNN_K = 5;
/** Most training rows the table kNN compares with (a random sample beyond). */
export const KNN_BANK_LIMIT = 50_000;
/** Side of the raw patches, in pixels. */
export const RAW_PATCH = 8;
/** Most training patches the raw-patch kNN compares with (a random sample beyond). */
export const RAW_PATCH_BANK_LIMIT = 100_000;
/** Quantile of validation-normal scores used as a baseline's threshold. */
export const BASELINE_QUANTILE = 0.99;

/** One baseline on one dataset: its metrics (as the evaluation JSON) and its times. */
export interface BaselineResult {
  method: string;
  /** Seconds to fit (forest, bank) and to score validation and test samples. */
  fitSeconds: number;
  scoreSeconds: number;
  entry: EvaluationEntry;
}

/** Per-feature mean and population standard deviation of row-major rows [n, d] (std floored). */
export function fitZScore(
  rows: Float32Array,
  d: number,
): { mean: Float64Array; std: Float64Array } {
  const n = rows.length / d;
  if (n < 1) throw new MadError("z-score: no training rows");
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += rows[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) std[j] += (rows[i * d + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < d; j++) std[j] = Math.max(Math.sqrt(std[j] / n), 1e-6);
  return { mean, std };
}

/** Rows [n, d] z-scored with `stats`. */
export function applyZScore(
  rows: Float32Array,
  d: number,
  stats: { mean: Float64Array; std: Float64Array },
): Float32Array {
  const out = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const j = i % d;
    out[i] = (rows[i] - stats.mean[j]) / stats.std[j];
  }
  return out;
}

/** A scorer fitted on training rows: scores any rows [q, d]. */
export type RowScorer = (rows: Float32Array) => Float32Array;

/** Isolation Forest of {@linkcode LIU_FOREST} shape on (z-scored) training rows [n, d]. */
export function fitIsolationForest(train: Float32Array, d: number, seed: number): RowScorer {
  const bank = buildBank(train, d, train.length / d, new Rng(seed));
  const forest = growForest(bank, LIU_FOREST, seed);
  return (rows) => isolationScores(forest, rows);
}

/** kNN: mean distance to the `k` nearest training rows (a random sample of at most `limit`). */
export function fitKnn(
  train: Float32Array,
  d: number,
  seed: number,
  k = KNN_K,
  limit = KNN_BANK_LIMIT,
): RowScorer {
  const bank = buildBank(train, d, limit, new Rng(seed), { coreset: false });
  const kk = Math.min(k, bank.rows);
  return (rows) => knnDistances(bank, rows, kk);
}

/** One-class SVM (ν = 0.05, γ "scale") on (z-scored) training rows [n, d]; see one_class_svm.ts. */
export function fitSvm(train: Float32Array, d: number, seed: number): RowScorer {
  const model = fitOneClassSvm(train, d, { seed });
  return (rows) => svmScores(model, rows);
}

/** The split of a table source for a seed, as training draws it (`given` for split folders). */
export function tableSplit(path: string, seed: number, valShare: number): SplitSpec {
  const protocol = Deno.statSync(path).isDirectory ? "given" : "half-normals";
  return { protocol, seed, valShare };
}

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, (performance.now() - start) / 1000];
}

/**
 * The table baselines on one table and split: the raw rows of its train / validation / test
 * parts (the split training uses), z-scored on the training normals, then each baseline fitted
 * on the training part and evaluated on the test part.
 */
export function tableBaselines(
  path: string,
  name: string,
  split: SplitSpec,
): BaselineResult[] {
  const source = readTableSource(path);
  const d = (source.trainOnly ?? source.table).d;
  // The identity normalisation: the very rows training sees, before its own normalisation.
  const identity = { kind: "standard" as const, mean: Array(d).fill(0), std: Array(d).fill(1) };
  const prepared = prepareTable(path, split, identity, name);
  const stats = fitZScore(prepared.train, d);
  const train = applyZScore(prepared.train, d, stats);
  const val = applyZScore(prepared.val, d, stats);
  const test = applyZScore(prepared.test, d, stats);
  const fits: Record<typeof TABLE_BASELINES[number], () => RowScorer> = {
    [ISOLATION_FOREST]: () => fitIsolationForest(train, d, split.seed),
    [KNN]: () => fitKnn(train, d, split.seed),
    [ONE_CLASS_SVM]: () => fitSvm(train, d, split.seed),
  };
  const methods = TABLE_BASELINES.map((m) => [m, fits[m]] as const);
  return methods.map(([method, fit]) => {
    const [scorer, fitSeconds] = timed(fit);
    const [[valScores, testScores], scoreSeconds] = timed(() => [scorer(val), scorer(test)]);
    const threshold = val.length > 0 ? thresholdFromNormals(valScores, BASELINE_QUANTILE) : NaN;
    return {
      method,
      fitSeconds,
      scoreSeconds,
      entry: {
        name,
        modality: "table",
        ...evaluateScores(testScores, prepared.testLabels, threshold, `${name} (${path})`),
        components: {},
      },
    };
  });
}

/** Non-overlapping `patch`x`patch` patches of an HWC image [size, size, 3], row-major [g*g, p*p*3]. */
export function rawPatches(image: Float32Array, size: number, patch = RAW_PATCH): Float32Array {
  const g = Math.floor(size / patch);
  const dim = patch * patch * 3;
  const out = new Float32Array(g * g * dim);
  for (let py = 0; py < g; py++) {
    for (let px = 0; px < g; px++) {
      let o = (py * g + px) * dim;
      for (let y = 0; y < patch; y++) {
        const row = ((py * patch + y) * size + px * patch) * 3;
        for (let x = 0; x < patch * 3; x++) out[o++] = image[row + x];
      }
    }
  }
  return out;
}

/**
 * Raw-patch kNN on one image category (`dir`, a category folder) with the split training uses:
 * bank of the training normals' 8x8 patches, image score the largest nearest-patch distance,
 * pixel AUROC and PRO from the patch maps where masks exist.
 */
export async function imageBaseline(
  dir: string,
  name: string,
  split: SplitSpec,
  size: number,
  cache: ImageCache,
): Promise<BaselineResult> {
  if (size % RAW_PATCH !== 0) {
    throw new MadError(`raw-patch kNN: image size ${size} is not a multiple of ${RAW_PATCH}`);
  }
  const prepared = (await prepareImages([dir], split)).find((p) => p.record.name === name);
  if (!prepared) throw new MadError(`${dir}: image category '${name}' not found`);
  const g = size / RAW_PATCH;
  const dim = RAW_PATCH * RAW_PATCH * 3;
  const fitStart = performance.now();
  const trainImages = await decodeAll(cache, prepared.train, size);
  const features = new Float32Array(trainImages.length * g * g * dim);
  trainImages.forEach((img, i) => features.set(rawPatches(img, size), i * g * g * dim));
  const bank = buildBank(features, dim, RAW_PATCH_BANK_LIMIT, new Rng(split.seed), {
    coreset: false,
  });
  const fitSeconds = (performance.now() - fitStart) / 1000;
  const scoreStart = performance.now();
  const mapsOf = async (samples: typeof prepared.test) => {
    const maps: Float32Array[] = [];
    for (const img of await decodeAll(cache, samples, size)) {
      maps.push(knnDistances(bank, rawPatches(img, size), 1));
    }
    return maps;
  };
  const maxOf = (m: Float32Array) => m.reduce((a, b) => (b > a ? b : a), -Infinity);
  const valScores = (await mapsOf(prepared.val)).map(maxOf);
  const testMaps = await mapsOf(prepared.test);
  const scores = Float32Array.from(testMaps.map(maxOf));
  const labels = Uint8Array.from(prepared.test.map((s) => (s.label === 1 ? 1 : 0)));
  const threshold = valScores.length > 0 ? thresholdFromNormals(valScores, BASELINE_QUANTILE) : NaN;
  const metrics = evaluateScores(scores, labels, threshold, `${name} (${dir})`);
  const masked = prepared.test.some((s) => s.maskPath)
    ? await pixelMetrics(prepared.test, testMaps, g, size)
    : undefined;
  // Masks with nothing to rank (all empty) leave the baseline without pixel metrics, as the model.
  const pixel = masked && "auroc" in masked ? masked : undefined;
  return {
    method: RAW_PATCH_KNN,
    fitSeconds,
    scoreSeconds: (performance.now() - scoreStart) / 1000,
    entry: {
      name,
      modality: "image",
      ...metrics,
      ...(pixel ? { pixel_auroc: pixel.auroc, pro: pixel.pro } : {}),
      components: {},
    },
  };
}

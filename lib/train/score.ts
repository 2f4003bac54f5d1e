/**
 * Scoring data the model has never seen: image files or folders, or a CSV (label column
 * optional). Each image is scored against the memory bank and statistics of its category,
 * found from the path (a folder named like a known category) or given explicitly.
 *
 * @module
 */
import { join, relative, resolve, sep } from "node:path";
import type { Checkpoint } from "./checkpoint.ts";
import { datasetKey } from "./datasets.ts";
import { fittedFor, tableRecordFor } from "./evaluate.ts";
import { scoreKey } from "../model/scorer.ts";
import { listImagesToScore } from "../data/images.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { readLabelledCsv } from "../data/table.ts";
import { applyNormalisation } from "../data/normalise.ts";
import { MadError } from "../errors.ts";

/** One scored sample. */
export interface ScoredSample {
  /** The image path as given (or below the folder given), or the CSV row index from 0. */
  id: string | number;
  score: number;
  anomaly: boolean;
}

/** A scored image with what a heatmap needs. */
export interface ScoredImage extends ScoredSample {
  path: string;
  category: string;
  /** grid x grid anomaly map (standardised units). */
  map: Float32Array | null;
}

/** Known image categories of a checkpoint. */
export function imageCategories(ckpt: Checkpoint): string[] {
  return ckpt.datasets.filter((d) => d.modality === "image").map((d) => d.name);
}

/** The category an image belongs to: `forced`, else the last path folder naming one. */
export function categoryOf(path: string, known: string[], forced?: string): string {
  if (forced) {
    if (!known.includes(forced)) {
      throw new MadError(
        `--category ${forced}: the checkpoint knows image categories ${known.join(", ") || "none"}`,
      );
    }
    return forced;
  }
  const parts = resolve(path).split(sep).reverse();
  const hit = parts.find((p) => known.includes(p));
  if (hit) return hit;
  if (known.length === 1) return known[0];
  throw new MadError(
    `${path}: cannot tell the image category from the path; give --category (one of ${
      known.join(", ") || "none: the checkpoint has no image data"
    })`,
  );
}

/** How to score images. */
export interface ScoreImageOptions {
  /** The category of every image, instead of telling it from the path. */
  category?: string;
  /**
   * Parallel scorers (this thread plus workers that load the checkpoint themselves from
   * `checkpointPath`); 1 scores in this thread only.
   */
  workers?: number;
  /** Path of the checkpoint, for workers. */
  checkpointPath?: string;
  /** Decoded-image cache folder workers share (memory only when absent). */
  cacheDir?: string;
  /** Backend workers use (default wasm). */
  backend?: string;
}

/** Fewest images per scorer worth a worker's start-up (loading tfjs and the checkpoint). */
const IMAGES_PER_WORKER = 24;

/** Scores images below each path (files or folders). */
export async function scoreImagePaths(
  ckpt: Checkpoint,
  paths: string[],
  cache: ImageCache,
  options: ScoreImageOptions = {},
): Promise<ScoredImage[]> {
  const known = imageCategories(ckpt);
  const byCategory = new Map<string, Array<{ id: string; path: string }>>();
  for (const given of paths) {
    for (const sample of await listImagesToScore(given)) {
      const id = relative(resolve(given), sample.path) === ""
        ? given
        : join(given, relative(resolve(given), sample.path));
      const category = categoryOf(sample.path, known, options.category);
      if (!byCategory.has(category)) byCategory.set(category, []);
      byCategory.get(category)!.push({ id, path: sample.path });
    }
  }
  const out: ScoredImage[] = [];
  for (const [category, items] of byCategory) {
    const fitted = fittedFor(ckpt, datasetKey({ modality: "image", name: category }));
    const scorers = options.checkpointPath
      ? Math.max(1, Math.min(options.workers ?? 1, Math.floor(items.length / IMAGES_PER_WORKER)))
      : 1;
    const share = Math.ceil(items.length / scorers);
    const shares = Array.from(
      { length: scorers },
      (_, i) => items.slice(i * share, (i + 1) * share),
    );
    // Workers start first; this thread's own share then runs while they work.
    const remote = shares.slice(1).map((part) =>
      scoreInWorker({
        checkpoint: options.checkpointPath!,
        backend: options.backend ?? "wasm",
        cacheDir: options.cacheDir ?? null,
        category,
        paths: part.map((item) => item.path),
      })
    );
    const local = await scoreCategory(ckpt, category, shares[0].map((i) => i.path), cache);
    const results = [local, ...(await Promise.all(remote))];
    let index = 0;
    for (const result of results) {
      for (let i = 0; i < result.scores.length; i++, index++) {
        const item = items[index];
        out.push({
          id: item.id,
          path: item.path,
          category,
          score: result.scores[i],
          anomaly: result.scores[i] >= fitted.stats.threshold,
          map: result.maps ? result.maps[i] : null,
        });
      }
    }
  }
  return out;
}

/** Scores and maps of images of one category. */
export interface CategoryScores {
  scores: Float32Array;
  /** Maps on the finest kNN grid (the overlay code reads the grid from a map's length). */
  maps: Float32Array[] | null;
}

/** Scores images of a known category in this thread. */
export async function scoreCategory(
  ckpt: Checkpoint,
  category: string,
  paths: string[],
  cache: ImageCache,
): Promise<CategoryScores> {
  const config = ckpt.config.model;
  const fitted = fittedFor(ckpt, datasetKey({ modality: "image", name: category }));
  const images = [];
  for (const path of paths) {
    images.push((await cache.get(path, { size: config.imageSize, channels: 3 })).data);
  }
  const { scores, maps } = scoreKey(ckpt.params, config, fitted, { modality: "image", images });
  return { scores, maps };
}

/** A share of images for a scoring worker. */
export interface WorkerRequest {
  checkpoint: string;
  backend: string;
  cacheDir: string | null;
  category: string;
  paths: string[];
}

/** What a scoring worker answers. */
export type WorkerReply = { ok: true; result: CategoryScores } | { ok: false; error: string };

function scoreInWorker(request: WorkerRequest): Promise<CategoryScores> {
  const worker = new Worker(new URL("./score_worker.ts", import.meta.url), { type: "module" });
  return new Promise<CategoryScores>((done, fail) => {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      worker.terminate();
      if (event.data.ok) done(event.data.result);
      else fail(new MadError(event.data.error));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      fail(new MadError(`scoring worker failed: ${event.message}`));
    };
    worker.postMessage(request);
  });
}

/** Scores every row of a CSV (a label column, if any, is ignored). */
export function scoreTableFile(ckpt: Checkpoint, path: string): ScoredSample[] {
  const record = tableRecordFor(ckpt, path);
  const table = readLabelledCsv(path, { requireLabel: false });
  if (record.columns && table.d !== record.columns.length) {
    throw new MadError(
      `${path}: has ${table.d} feature columns, the model was trained on ${record.columns.length} (${
        record.columns.join(", ")
      })`,
    );
  }
  const normalised = applyNormalisation(table, record.normalisation!);
  const fitted = fittedFor(ckpt, datasetKey(record));
  const rows = Float32Array.from(normalised.values);
  const { scores } = scoreKey(ckpt.params, ckpt.config.model, fitted, {
    modality: "table",
    table: record.name,
    rows,
    d: table.d,
  });
  return [...scores].map((score, id) => ({
    id,
    score,
    anomaly: score >= fitted.stats.threshold,
  }));
}

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

/** Scores images below each path (files or folders). */
export async function scoreImagePaths(
  ckpt: Checkpoint,
  paths: string[],
  cache: ImageCache,
  options: { category?: string } = {},
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
  const config = ckpt.config.model;
  const out: ScoredImage[] = [];
  for (const [category, items] of byCategory) {
    const fitted = fittedFor(ckpt, datasetKey({ modality: "image", name: category }));
    const images = [];
    for (const item of items) {
      images.push((await cache.get(item.path, { size: config.imageSize, channels: 3 })).data);
    }
    const { scores, maps } = scoreKey(ckpt.params, config, fitted, { modality: "image", images });
    // Maps are on the finest kNN grid, which the overlay code reads from the map's length.
    items.forEach((item, i) =>
      out.push({
        id: item.id,
        path: item.path,
        category,
        score: scores[i],
        anomaly: scores[i] >= fitted.stats.threshold,
        map: maps ? maps[i] : null,
      })
    );
  }
  return out;
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

/**
 * Scoring throughput of a checkpoint: images per second from 256 px files on disk (decode,
 * resize to the model's size, score with every head, as `deno task score` does), once the
 * worker threads have started (their start-up is timed apart), and table rows per second from
 * a CSV. Without a checkpoint, a small one is trained first on synthetic
 * data with the default model.
 *
 * @module
 */
import { join } from "node:path";
import { type Config, DEFAULT_CONFIG, mergeConfig } from "../model/config.ts";
import { writeSyntheticImages, writeSyntheticTableCsv } from "../data/synthetic.ts";
import { ImageCache } from "../data/image_cache.ts";
import { type Checkpoint, disposeCheckpoint, loadCheckpoint } from "../train/checkpoint.ts";
import { scoreImagePaths, scoreTableFile, ScoringPool } from "../experiment/score_files.ts";
import { train } from "../train/loop.ts";
import { MadError } from "../errors.ts";

/** Image scoring speed for one category (its fitted components set the cost). */
export interface CategorySpeed {
  name: string;
  images: number;
  imagesPerSecond: number;
  imagesPerSecondOneThread: number;
}

/** Scoring speed figures. */
export interface ScoringResult {
  checkpoint: string;
  /** Images scored over all categories (the same files scored as each category in turn). */
  images: number;
  imageSeconds: number;
  /**
   * With one scorer per CPU core (`workers`: this thread and `workers - 1` worker threads),
   * once the workers have started.
   */
  imagesPerSecond: number;
  workers: number;
  /** Seconds the worker threads took to start (load tfjs and the checkpoint), paid once. */
  startupSeconds: number;
  /** In one thread. */
  imagesPerSecondOneThread: number;
  /**
   * Per image category: validation may keep different evidence for each, so their costs differ.
   * The totals above are over all of them.
   */
  categories: CategorySpeed[];
  /** Side of the image files scored (they are resized to the model's size). */
  imagePixels: number;
  rows: number;
  rowSeconds: number;
  rowsPerSecond: number;
}

/** The quick checkpoint's config: the default model, one short epoch. */
export function quickConfig(): Config {
  return mergeConfig(DEFAULT_CONFIG, { train: { epochs: 1 } }, "bench config");
}

/** Trains the quick checkpoint on synthetic data under `dir`; returns its path. */
export async function quickCheckpoint(dir: string, config = quickConfig()): Promise<string> {
  const images = join(dir, "train-images");
  const table = join(dir, "bench.csv");
  await writeSyntheticImages(images, {
    seed: 3,
    size: config.model.imageSize,
    categories: ["weave"],
    nTrain: 32,
    nTestGood: 2,
    nTestBad: 2,
  });
  await writeSyntheticTableCsv(table, { seed: 3, n: 600, d: 6 });
  const result = await train({
    config,
    imageDirs: [join(images, "weave")],
    tablePaths: [table],
    out: join(dir, "run"),
    quiet: true,
  });
  return result.best;
}

/** Writes `n` images of `size` px and a CSV of `rows` rows the checkpoint can score. */
export async function scoringData(
  ckpt: Checkpoint,
  dir: string,
  n: number,
  size: number,
  rows: number,
): Promise<{ imageDir: string | null; categories: string[]; csv: string | null }> {
  const categories = ckpt.datasets.filter((d) => d.modality === "image").map((d) => d.name);
  let imageDir: string | null = null;
  if (categories.length > 0) {
    const root = join(dir, "score-images");
    await writeSyntheticImages(root, { seed: 5, size, categories: ["weave"], nTrain: n });
    imageDir = join(root, "weave", "train", "good");
  }
  const table = ckpt.datasets.find((d) => d.modality === "table");
  let csv: string | null = null;
  if (table) {
    const d = table.columns?.length ?? ckpt.tables.find((t) => t.name === table.name)?.features;
    if (!d) throw new MadError(`checkpoint: table ${table.name} has no feature count`);
    csv = join(dir, `${table.name}.csv`);
    await writeSyntheticTableCsv(csv, { seed: 5, n: rows, d });
  }
  return { imageDir, categories, csv };
}

/** Measures scoring throughput of the checkpoint at `path` on freshly written data. */
export async function scoringThroughput(
  path: string,
  dir: string,
  options: { images?: number; imagePixels?: number; rows?: number; workers?: number } = {},
): Promise<ScoringResult> {
  const n = options.images ?? 192;
  const workers = options.workers ?? navigator.hardwareConcurrency;
  const px = options.imagePixels ?? 256;
  const ckpt = await loadCheckpoint(path, { optimizer: false });
  const pool = new ScoringPool(workers - 1);
  try {
    const data = await scoringData(ckpt, dir, n, px, options.rows ?? 4000);
    const started = performance.now();
    await pool.warm(path);
    const startupSeconds = (performance.now() - started) / 1000;
    const categories: CategorySpeed[] = [];
    let imageSeconds = 0;
    let oneThreadSeconds = 0;
    for (const category of data.categories) {
      let scoredCount = 0;
      const timed = async (scorers: number) => {
        const t0 = performance.now();
        const scored = await scoreImagePaths(ckpt, [data.imageDir!], new ImageCache(), {
          category,
          workers: scorers,
          checkpointPath: path,
          ...(scorers > 1 ? { pool } : {}),
        });
        scoredCount = scored.length;
        return (performance.now() - t0) / 1000;
      };
      const one = await timed(1);
      const many = workers > 1 ? await timed(workers) : one;
      oneThreadSeconds += one;
      imageSeconds += many;
      categories.push({
        name: category,
        images: scoredCount,
        imagesPerSecond: scoredCount / many,
        imagesPerSecondOneThread: scoredCount / one,
      });
    }
    const images = categories.reduce((sum, c) => sum + c.images, 0);
    let rowSeconds = NaN;
    let rows = 0;
    if (data.csv) {
      const t0 = performance.now();
      rows = scoreTableFile(ckpt, data.csv).length;
      rowSeconds = (performance.now() - t0) / 1000;
    }
    return {
      checkpoint: path,
      images,
      imageSeconds,
      imagesPerSecond: images / imageSeconds,
      workers,
      startupSeconds,
      imagesPerSecondOneThread: images / oneThreadSeconds,
      categories,
      imagePixels: px,
      rows,
      rowSeconds,
      rowsPerSecond: rows / rowSeconds,
    };
  } finally {
    pool.close();
    disposeCheckpoint(ckpt);
  }
}

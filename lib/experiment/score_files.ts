/**
 * Scoring data the model has never seen: image files or folders, or a table file (CSV, `.mat`, `.npz`; labels
 * optional). Each image is scored against the memory bank and statistics of its category,
 * found from the path (a folder named like a known category) or given explicitly.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join, relative, resolve, sep } from "node:path";
import type { Checkpoint } from "../train/checkpoint.ts";
import {
  alignImages,
  checkTableScores,
  datasetKey,
  matchTrainedColumns,
  readTableSource,
} from "../train/datasets.ts";
import type { PoseAlignment } from "../data/pose.ts";
import { recordedPose, tableRecordFor } from "./evaluate_checkpoint.ts";
import { fittedFor } from "../train/fitted.ts";
import { finish, finishYielding, scoreKey, scoreKeyChunks } from "../model/scorer.ts";
import type { KeyStats } from "../model/detector.ts";
import { pValue } from "../model/tail_scale.ts";
import { listImagesToScore, smallImagesWarning } from "../data/images.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { applyNormalisation, shiftedFeatures, shiftWarning } from "../data/normalise.ts";
import { MadError } from "../errors.ts";
import { backendFailure, errorFromMessage } from "../model/backend_failure.ts";
import { record as recordSpan, span } from "../util/profile.ts";
import {
  contributionChunks,
  largestContributions,
  LISTED_FEATURES,
  normalRowsOf,
  tableScorer,
} from "../model/explain.ts";
import { rowsAt } from "../data/split.ts";

/** One scored sample. */
export interface ScoredSample {
  /** The image path as given (or below the folder given), or the table row index from 0. */
  id: string | number;
  score: number;
  /**
   * The share of the dataset's calibration normals scoring at or above this sample, counted as a
   * conformal p-value ({@linkcode pValue}: (1 + n) / (m + 1), n interpolated between neighbouring
   * calibration scores); absent for checkpoints that keep no calibration scores.
   */
  pValue?: number;
  anomaly: boolean;
  /**
   * Table rows flagged as anomalies, when explained: the features with the largest
   * contributions to the score, largest first (see `lib/model/explain.ts`).
   */
  features?: [string, number][];
}

/** A scored image with what a heatmap needs. */
export interface ScoredImage extends ScoredSample {
  path: string;
  category: string;
  /** grid x grid anomaly map (standardised units). */
  map: Float32Array | null;
  /** The category's pose alignment: when aligned, the map lies over the aligned image. */
  pose?: PoseAlignment;
}

/** What a dataset's scores are judged by: its threshold, or a false-alarm rate. */
export interface VerdictOptions {
  /**
   * Flag a sample when its p-value among the calibration normals is at or below this rate (in
   * (0, 1)), instead of by the threshold chosen at training: about this share of normal samples
   * is then flagged.
   */
  falseAlarmRate?: number;
  /**
   * Hears one-line warnings: a false-alarm rate no sample can reach; for a table, a file whose
   * typical values lie far from the training rows'.
   */
  onWarning?: (message: string) => void;
}

/**
 * The verdict on each score of `dataset`: its p-value when the checkpoint keeps the calibration
 * normals' scores, and `anomaly` by the threshold chosen at training (a quantile of the same
 * normals' scores, `thresholdQuantile`) or, with `falseAlarmRate`, by the p-value.
 *
 * @throws {MadError} with `falseAlarmRate` when the checkpoint keeps no calibration scores.
 */
export function verdictOf(
  stats: KeyStats,
  dataset: string,
  options: VerdictOptions = {},
): (score: number) => { pValue?: number; anomaly: boolean } {
  const normals = stats.normalScores;
  const rate = options.falseAlarmRate;
  if (rate !== undefined && !normals) {
    throw new MadError(
      `${dataset}: the checkpoint keeps no scores of its calibration normals (trained before ` +
        "they were kept), so it has no p-values for --false-alarm-rate; train it again, or leave " +
        "the flag out to flag by its threshold",
    );
  }
  if (rate !== undefined && normals && rate < 1 / (normals.normals + 1)) {
    options.onWarning?.(
      `${dataset}: a false-alarm rate of ${rate} is below 1/${normals.normals + 1}, the ` +
        `smallest p-value its ${normals.normals} calibration normals give: nothing will be flagged`,
    );
  }
  return (score) => {
    if (!normals) return { anomaly: score >= stats.threshold };
    const p = pValue(normals, score);
    return { pValue: p, anomaly: rate === undefined ? score >= stats.threshold : p <= rate };
  };
}

/**
 * What `score` writes of a scored image: the sample's fields, without the path, category, map and
 * pose that heat maps need.
 */
export function writtenSample({ id, score, pValue, anomaly }: ScoredImage): ScoredSample {
  return { id, score, pValue, anomaly };
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
  if (known.length === 0) {
    throw new MadError(
      `${path}: the checkpoint was trained on no image category; score tables with --table`,
    );
  }
  const parts = resolve(path).split(sep).reverse();
  const hit = parts.find((p) => known.includes(p));
  if (hit) return hit;
  if (known.length === 1) return known[0];
  throw new MadError(
    `${path}: cannot tell the image category from the path; give --category (one of ${
      known.join(", ")
    })`,
  );
}

/** How to score images. */
export interface ScoreImageOptions extends VerdictOptions {
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
  /** Called after each chunk of images is scored, with the count so far and the total. */
  onProgress?: (scored: number, total: number) => void;
  /**
   * Called for each image that cannot be read (`reason` is the one-line problem, naming it),
   * which is then left out and the rest scored. Without it the first such image stops the call.
   */
  onUnreadable?: (path: string, reason: string) => void;
  /**
   * Workers already started (and perhaps warmed up), used instead of starting `workers - 1`
   * new ones and left open for the caller to reuse.
   */
  pool?: ScoringPool;
}

/**
 * Scoring workers that outlive one call of {@linkcode scoreImagePaths}: start-up (tfjs, the
 * checkpoint) is paid once, and {@linkcode ScoringPool.warm} pays it before the first images.
 */
export class ScoringPool {
  readonly workers: ScoringWorker[];

  /** Starts `size` workers (scorers besides the calling thread). */
  constructor(size: number) {
    this.workers = Array.from({ length: Math.max(0, size) }, () => new ScoringWorker());
  }

  /** Has every worker load the backend and the checkpoint at `checkpoint` now. */
  async warm(checkpoint: string, backend = "wasm", cacheDir: string | null = null): Promise<void> {
    await Promise.all(
      this.workers.map((worker) =>
        worker.score({ checkpoint, backend, cacheDir, category: "", paths: [] })
      ),
    );
  }

  close(): void {
    for (const worker of this.workers) worker.close();
  }
}

/** Fewest images per scorer worth a worker's start-up (loading tfjs and the checkpoint). */
const IMAGES_PER_WORKER = 24;

/**
 * Images a scorer takes at a time from the shared queue: small enough that a worker still
 * starting up (tfjs, checkpoint) leaves the rest to the others, large enough for full batches.
 */
const IMAGES_PER_CHUNK = 16;

/** Requests each worker holds at once, so it never waits for this thread to send the next. */
const REQUESTS_IN_FLIGHT = 2;

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
  const total = [...byCategory.values()].reduce((sum, items) => sum + items.length, 0);
  const scorers = options.checkpointPath
    ? Math.max(1, Math.min(options.workers ?? 1, Math.floor(total / IMAGES_PER_WORKER)))
    : 1;
  const owned = options.pool ? null : new ScoringPool(scorers - 1);
  const pool = options.checkpointPath ? (options.pool ?? owned!).workers : [];
  let scoredSoFar = 0;
  const finished = (result: CategoryScores) => {
    scoredSoFar += result.scores.length + (result.unreadable?.length ?? 0);
    options.onProgress?.(scoredSoFar, total);
    return result;
  };
  // A worker takes images only once it has loaded the checkpoint: taking them while it starts
  // (about a second) could leave this thread, done with the rest, waiting for the worker's share.
  const request = (category: string, paths: string[]): WorkerRequest => ({
    checkpoint: options.checkpointPath!,
    backend: options.backend ?? "wasm",
    cacheDir: options.cacheDir ?? null,
    category,
    paths,
  });
  const ready = pool.map((worker) => worker.score(request("", [])));
  // Each scorer's loop awaits its worker's warm-up, and reports its failure; none may go unseen.
  for (const warm of ready) warm.catch(() => {});
  try {
    const out: ScoredImage[] = [];
    for (const [category, items] of byCategory) {
      const small = await smallImagesWarning(
        items.map((item) => item.path),
        ckpt.config.model.imageSize,
      );
      if (small) options.onWarning?.(`${category}: ${small}`);
      const fitted = fittedFor(ckpt, datasetKey({ modality: "image", name: category }));
      const verdict = verdictOf(
        fitted.stats,
        `${options.checkpointPath ?? "the checkpoint"}: image category ${category}`,
        options,
      );
      const chunks = Array.from(
        { length: Math.ceil(items.length / IMAGES_PER_CHUNK) },
        (_, i) => items.slice(i * IMAGES_PER_CHUNK, (i + 1) * IMAGES_PER_CHUNK),
      );
      // Every scorer takes the next chunk when it is free; results keep the input order.
      const results: CategoryScores[] = new Array(chunks.length);
      let next = 0;
      const take = () => (next < chunks.length ? next++ : -1);
      const remote = pool.flatMap((worker, w) =>
        Array.from({ length: REQUESTS_IN_FLIGHT }, async () => {
          await ready[w];
          for (let i = take(); i >= 0; i = take()) {
            results[i] = finished(
              await worker.score(request(category, chunks[i].map((item) => item.path))),
            );
          }
        })
      );
      const local = (async () => {
        for (let i = take(); i >= 0; i = take()) {
          const paths = chunks[i].map((c) => c.path);
          results[i] = finished(await scoreCategory(ckpt, category, paths, cache));
        }
      })();
      // After a failure the others take no new chunk; the first error is reported once all
      // have stopped, so nothing still runs on a checkpoint the caller may then dispose.
      const settled = await Promise.allSettled(
        [local, ...remote].map((run) =>
          run.catch((e) => {
            next = chunks.length;
            throw e;
          })
        ),
      );
      const failure = settled.find((r) => r.status === "rejected");
      if (failure) {
        throw backendFailure(
          (failure as PromiseRejectedResult).reason,
          `scoring ${items.length} images of category ${category}`,
          "images",
        );
      }
      const pose = recordedPose(ckpt, category);
      for (const [c, result] of results.entries()) {
        const left = new Set<string>();
        for (const { path, reason } of result.unreadable ?? []) {
          if (!options.onUnreadable) throw new MadError(reason);
          options.onUnreadable(path, reason);
          left.add(path);
        }
        const scoredItems = chunks[c].filter((item) => !left.has(item.path));
        for (let i = 0; i < result.scores.length; i++) {
          const item = scoredItems[i];
          out.push({
            id: item.id,
            path: item.path,
            category,
            score: result.scores[i],
            ...verdict(result.scores[i]),
            map: result.maps ? result.maps[i] : null,
            pose,
          });
        }
      }
    }
    return out;
  } finally {
    owned?.close();
  }
}

/** Scores and maps of images of one category. */
export interface CategoryScores {
  scores: Float32Array;
  /** Maps on the finest kNN grid (the overlay code reads the grid from a map's length). */
  maps: Float32Array[] | null;
  /** Images that could not be read, left out of `scores` and `maps` (the rest keep their order). */
  unreadable?: { path: string; reason: string }[];
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
  // Decoded all at once: sharp works on its own threads, twice as fast as one file at a time.
  // A file that cannot be read (a one-line MadError naming it) is left out, not the chunk.
  const settled = await Promise.allSettled(
    paths.map((path) => cache.get(path, { size: config.imageSize, channels: 3 })),
  );
  const unreadable: { path: string; reason: string }[] = [];
  const decoded: Float32Array[] = [];
  settled.forEach((r, i) => {
    if (r.status === "fulfilled") decoded.push(r.value.data);
    else if (r.reason instanceof MadError) {
      unreadable.push({ path: paths[i], reason: r.reason.message });
    } else throw r.reason;
  });
  const pose = recordedPose(ckpt, category);
  const images = alignImages(decoded, config.imageSize, pose);
  const { scores, maps } = images.length > 0
    ? scoreKey(ckpt.params, config, fitted, { modality: "image", images, aligned: pose?.aligned })
    : { scores: new Float32Array(0), maps: null };
  return { scores, maps, ...(unreadable.length > 0 ? { unreadable } : {}) };
}

/** A chunk of images for a scoring worker. */
export interface WorkerRequest {
  checkpoint: string;
  backend: string;
  cacheDir: string | null;
  category: string;
  paths: string[];
}

/** What a scoring worker answers to the request with the same `id`. */
export type WorkerReply =
  & { id: number }
  & ({ ok: true; result: CategoryScores } | { ok: false; error: string });

/**
 * A worker thread that scores chunks of images; it loads the backend and checkpoint once, on
 * its first request, and tags each answer with its request's id.
 */
class ScoringWorker {
  #worker = new Worker(new URL("./score_worker.ts", import.meta.url), { type: "module" });
  #pending = new Map<number, { done: (r: CategoryScores) => void; fail: (e: Error) => void }>();
  #nextId = 0;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      const waiting = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) waiting?.done(reply.result);
      else waiting?.fail(errorFromMessage(reply.error));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = errorFromMessage(`scoring worker failed: ${event.message}`);
      for (const waiting of this.#pending.values()) waiting.fail(error);
      this.#pending.clear();
    };
  }

  score(request: WorkerRequest): Promise<CategoryScores> {
    const id = this.#nextId++;
    return new Promise((done, fail) => {
      this.#pending.set(id, { done, fail });
      this.#worker.postMessage({ id, request });
    });
  }

  close(): void {
    this.#worker.terminate();
  }
}

/**
 * The longest heat map file name, in UTF-8 bytes: file systems allow 255, and an atomic write
 * adds `.tmp-<pid>-<time>` to it while it is written.
 */
export const MAX_MAP_NAME_BYTES = 160;

/**
 * The heat map file of a scored image: its path with folders joined by `_` (MVTec test folders
 * reuse file names) and `.png`, without the leading dots and separators of a relative or absolute
 * path (`../data/x/test/crack/000.png` -> `data_x_test_crack_000.png`), which would hide the file.
 * A name longer than {@linkcode MAX_MAP_NAME_BYTES} (a deep folder tree) keeps the end of the
 * path, where the file's own name is, and a short hash of the whole path, which keeps it unique:
 * `camera_left_session_3_frame_000~2f9c1a0b.png`. With `taken` (the names given so far in this
 * run, compared case-insensitively), a name already given gets a suffix (`photo_1.png`, then
 * `photo_1-2.png`, ...) and is added to `taken`, so that `photo 1.png`, `photo_1.png` and
 * `photo_1.jpg` get a map each.
 */
export function mapFileName(id: string, taken?: Set<string>): string {
  const full = id.replace(/\.[^./\\]+$/, "").replace(/[\/\\: ]+/g, "_").replace(/^[._]+/, "");
  // Room for `-<k>` and `.png`.
  const room = MAX_MAP_NAME_BYTES - 12;
  const stem = utf8Length(full) <= room
    ? full
    : `${utf8Tail(full, room - 9).replace(/^[^_]{0,24}_/, "").replace(/^[._]+/, "")}~${
      createHash("sha1").update(id).digest("hex").slice(0, 8)
    }`;
  if (!taken) return `${stem}.png`;
  let name = `${stem}.png`;
  for (let k = 2; taken.has(name.toLowerCase()); k++) name = `${stem}-${k}.png`;
  taken.add(name.toLowerCase());
  return name;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** The end of `text` of at most `bytes` UTF-8 bytes, cut between characters. */
function utf8Tail(text: string, bytes: number): string {
  const chars = [...text];
  let used = 0;
  let start = chars.length;
  while (start > 0 && used + utf8Length(chars[start - 1]) <= bytes) {
    used += utf8Length(chars[--start]);
  }
  return chars.slice(start).join("");
}

/** Options of {@linkcode scoreTableFile}. */
export interface ScoreTableOptions extends VerdictOptions {
  batchRows?: number;
  explain?: boolean;
  onExplain?: (done: number, total: number) => void;
  /** Hears how many rows of how many are scored. */
  onProgress?: (done: number, total: number) => void;
  /** The trained table to score as, for a checkpoint of several whose names the file's is not. */
  table?: string;
}

/**
 * Scores every row of a table file: a CSV, ODDS `.mat` or ADBench `.npz` (labels, if any, are
 * ignored), `options.batchRows` rows at a time (see `scoringBatchRows`). With `explain`, each
 * row flagged as an anomaly also gets the features behind its score (d more scorings a row;
 * `onExplain` hears how many of how many are done). {@linkcode scoreTableFileYielding} does the
 * same, letting a stop signal in between batches.
 */
export function scoreTableFile(
  ckpt: Checkpoint,
  path: string,
  options: ScoreTableOptions = {},
): ScoredSample[] {
  return finish(tableFileScoring(ckpt, path, options));
}

/**
 * {@linkcode scoreTableFile}, letting the event loop run between batches of rows (and of rows
 * explained): a stop signal (Ctrl-C) takes effect within a batch, not after the last row.
 */
export function scoreTableFileYielding(
  ckpt: Checkpoint,
  path: string,
  options: ScoreTableOptions = {},
): Promise<ScoredSample[]> {
  return finishYielding(tableFileScoring(ckpt, path, options));
}

/** The work of {@linkcode scoreTableFile}, pausing between batches. */
function* tableFileScoring(
  ckpt: Checkpoint,
  path: string,
  options: ScoreTableOptions,
): Generator<void, ScoredSample[]> {
  const record = tableRecordFor(ckpt, path, options.table);
  // The trained names, so that a header of numbers equal to them (wavelengths) is a header.
  const read = span(
    "score: read table",
    () => readTableSource(path, { scoring: true, headerNames: record.columns }).table,
  );
  const table = matchTrainedColumns(read, record.columns, path, record.columnsFromHeader);
  const normalised = applyNormalisation(table, record.normalisation!);
  const shifted = shiftedFeatures(normalised);
  if (shifted.length > 0) options.onWarning?.(shiftWarning(path, shifted, table.d));
  const fitted = fittedFor(ckpt, datasetKey(record));
  const verdict = verdictOf(fitted.stats, `${path}: table ${record.name}`, options);
  const rows = Float32Array.from(normalised.values);
  let scores: Float32Array;
  const scoring = performance.now();
  try {
    // A batch at a time, pausing between batches.
    ({ scores } = yield* scoreKeyChunks(ckpt.params, ckpt.config.model, fitted, {
      modality: "table",
      table: record.name,
      rows,
      d: table.d,
    }, options));
  } catch (e) {
    throw backendFailure(
      e,
      `${path}: scoring table ${record.name} (${table.n} rows x ${table.d} features)`,
    );
  }
  // The batches' wall time, pauses included (a span cannot hold a generator's yields).
  recordSpan("score: scoreKey", performance.now() - scoring);
  checkTableScores(scores, path);
  const out: ScoredSample[] = [...scores].map((score, id) => ({ id, score, ...verdict(score) }));
  if (options.explain) {
    const normals = normalRowsOf(fitted.banks);
    if (!normals) {
      throw new MadError(
        `${path}: table ${record.name} was trained without the density and isolation evidence, ` +
          "whose sample of normal rows --explain takes replacement values from",
      );
    }
    const flagged = out.filter((r) => r.anomaly).map((r) => r.id as number);
    const d = table.d;
    const picked = rowsAt(rows, d, flagged);
    const score = tableScorer(
      ckpt.params,
      ckpt.config.model,
      fitted,
      record.name,
      d,
      options.batchRows,
    );
    const contributions = yield* contributionChunks(
      picked,
      d,
      normals,
      score,
      (done) => options.onExplain?.(done, flagged.length),
    );
    const columns = record.columns ?? table.columns;
    flagged.forEach((r, i) => {
      out[r].features = largestContributions(columns, contributions, i, LISTED_FEATURES);
    });
  }
  return out;
}

/**
 * A run's data as the loop uses it: each image category decoded and split into training and
 * validation normals, each table prepared, and the deterministic synthetic anomalies validation
 * scores against (test labels are never looked at).
 *
 * @module
 */
import { resolve } from "node:path";
import type { Config } from "../model/config.ts";
import type { TableSpec } from "../model/madformer.ts";
import { tableAnomalies, validationImageAnomalies } from "../data/anomalies.ts";
import type { SplitSpec } from "../data/types.ts";
import { ImageCache } from "../data/image_cache.ts";
import { describeAlignment } from "../data/pose.ts";
import { decodeImage, decodeMask, smallImagesWarning } from "../data/images.ts";
import { sourceDigest } from "../data/source_digest.ts";
import {
  alignCategory,
  assertDistinctTableNames,
  type DatasetRecord,
  decodeAll,
  type PreparedImages,
  type PreparedTable,
  prepareImages,
  prepareTable,
} from "./datasets.ts";
import { Progress } from "../util/progress.ts";
import { MadError } from "../errors.ts";
import { ANOMALY_SEED_OFFSET, Rng } from "../rng.ts";

/** A decoded image category ready for batches. */
export interface ImageData {
  prepared: PreparedImages;
  train: Float32Array[];
  val: Float32Array[];
  valAnomalies: Float32Array[];
}

/** A table ready for batches. */
export interface TableData {
  prepared: PreparedTable;
  valAnomalies: Float32Array;
}

/** Everything a run trains and validates on. */
export interface TrainingData {
  images: ImageData[];
  tables: TableData[];
  /** What each dataset is, for checkpoints: images first, then tables. */
  records: DatasetRecord[];
  /** The tables' names and widths, for the model's table embeddings. */
  specs: TableSpec[];
}

/** Where the data comes from: the given folders and files, or a resumed run's own datasets. */
export interface DataSources {
  imageDirs: string[];
  tablePaths: string[];
  /** A resumed checkpoint's datasets; when given, the folders and files above are not used. */
  resumed?: DatasetRecord[];
  /** Folder of the decoded-image disk cache. */
  cacheDir?: string;
  quiet: boolean;
  /** Where warnings about the data go (a line each, `warning: ...`); default `console.warn`. */
  warn?: (line: string) => void;
}

/**
 * Checks, before any work, that the data flags of a resumed run name the checkpoint's own
 * datasets (the same folders and files, after resolving): a resumed run continues on them, so
 * other data given with `--resume` would be silently left out.
 *
 * @throws {MadError} one line naming the first folder or file that differs, and `checkpoint`.
 */
export function checkResumedSources(
  records: DatasetRecord[],
  imageDirs: string[],
  tablePaths: string[],
  checkpoint: string,
): void {
  if (imageDirs.length + tablePaths.length === 0) return;
  const own = (modality: "image" | "table") => uniqueSources(records, modality);
  const given = [
    ...imageDirs.map((p) => ({ flag: "--images", path: p, own: own("image") })),
    ...tablePaths.map((p) => ({ flag: "--table", path: p, own: own("table") })),
  ];
  const ownAll = [...own("image"), ...own("table")];
  const describe = ownAll.join(", ") || "none";
  const refuse = (what: string) =>
    new MadError(
      `${what}: ${checkpoint} continues on its own data (${describe}); leave out ` +
        `--images/--table with --resume, or start a new run (without --resume) for other data`,
    );
  for (const g of given) {
    if (!g.own.some((o) => resolve(o) === resolve(g.path))) throw refuse(`${g.flag} ${g.path}`);
  }
  const resolvedGiven = new Set(given.map((g) => resolve(g.path)));
  const missing = ownAll.find((o) => !resolvedGiven.has(resolve(o)));
  if (missing !== undefined) throw refuse(`--images/--table leave out ${missing}`);
}

/**
 * Every image category discovered and split, every table read, split and normalised, as
 * `config` asks, without decoding an image: what training needs of the data before its first
 * step, and what goes wrong with a user's data (no labels, no train/good, too few normals).
 */
async function prepareSources(
  sources: Pick<DataSources, "imageDirs" | "tablePaths" | "resumed">,
  config: Config,
  warn?: (line: string) => void,
): Promise<{ images: PreparedImages[]; tables: PreparedTable[] }> {
  const t = config.train;
  const split: SplitSpec = { protocol: "half-normals", seed: t.seed, valShare: t.valShare };
  const tableOptions = { logSkewed: config.model.tableLogSkewed };
  const resumed = sources.resumed;
  const images = resumed
    ? await prepareImages(uniqueSources(resumed, "image"), split, warn)
    : await prepareImages(sources.imageDirs, split, warn);
  const tables = resumed
    ? resumed.filter((d) => d.modality === "table").map((d) =>
      prepareTable(d.source, d.split, undefined, d.name, tableOptions, undefined, warn)
    )
    : sources.tablePaths.map((p) =>
      prepareTable(
        p,
        { ...split, protocol: protocolFor(p) },
        undefined,
        undefined,
        tableOptions,
        undefined,
        warn,
      )
    );
  assertDistinctTableNames(tables.map((p) => p.record));
  if (images.length === 0 && tables.length === 0) {
    throw new MadError("no training data: give --images DIR and/or --table FILE");
  }
  return { images, tables };
}

/**
 * Checks that training could start on these folders and tables: each read and split as
 * {@linkcode prepareTrainingData} would, no image decoded. For commands that run many trainings
 * (ablations, notebooks), so that a table without labels fails before the first one, not after
 * the work before it.
 *
 * @throws {MadError} the one line training would stop with.
 */
export async function checkTrainingSources(
  sources: Pick<DataSources, "imageDirs" | "tablePaths">,
  config: Config,
): Promise<{ images: PreparedImages[]; tables: PreparedTable[] }> {
  // Training names the skipped files itself; a check before it would name them twice.
  return await prepareSources(sources, config, () => {});
}

/** Prepares, splits and decodes a run's data as `config` asks; see the module doc. */
export async function prepareTrainingData(
  sources: DataSources,
  config: Config,
): Promise<TrainingData> {
  const m = config.model;
  const t = config.train;
  const warn = sources.warn ?? console.warn;
  const { images, tables } = await prepareSources(sources, config, warn);
  const cache = new ImageCache(sources.cacheDir);
  const imageData = await decodeImages(
    images,
    cache,
    m.imageSize,
    m.alignObjects,
    t.seed,
    sources.quiet,
    warn,
  );
  const tableData = tables.map((p, i) => ({
    prepared: p,
    valAnomalies: tableAnomalies(p.val, p.train, p.d, new Rng(t.seed + 7919 * (i + 1))),
  }));
  // What each source held, so that evaluating the checkpoint can tell changed data (its split
  // is drawn again); a resumed run's sources are checked against its records already.
  const records: DatasetRecord[] = [
    ...images.map((p) => p.record),
    ...tables.map((p) => p.record),
  ];
  for (const record of records) {
    const digest = sourceDigest(record.source);
    if (digest) record.digest = digest;
  }
  const specs: TableSpec[] = tables.map((p) => ({ name: p.record.name, features: p.d }));
  return { images: imageData, tables: tableData, records, specs };
}

/** One line for the run log: each dataset's training and validation normals. */
export function describeData(data: TrainingData): string {
  return `data: ${
    data.images.map((d) =>
      `${d.prepared.record.name} ${d.train.length}/${d.val.length}${
        d.prepared.record.pose?.aligned ? ` (${describeAlignment(d.prepared.record.pose)})` : ""
      }${oneClassNote(d.prepared.test.map((s) => s.label))}`
    )
      .concat(data.tables.map((d) =>
        `${d.prepared.record.name} ${d.prepared.train.length / d.prepared.d}/${
          d.prepared.val.length / d.prepared.d
        }${oneClassNote(d.prepared.testLabels)}`
      )).join(", ")
  } (train/val normals)`;
}

/**
 * Said at the start, not found at eval: a test part of one class has no AUROC, and eval reports
 * only its false-alarm rate (or recall).
 */
function oneClassNote(labels: ArrayLike<number | null>): string {
  const all = Array.from(labels).filter((l) => l !== null);
  if (all.length === 0) return " (no test samples: eval measures nothing)";
  if (!all.includes(1)) return " (no anomalies to test: eval gives no AUROC)";
  if (!all.includes(0)) return " (no normals to test: eval gives no AUROC)";
  return "";
}

function protocolFor(path: string): SplitSpec["protocol"] {
  try {
    if (Deno.statSync(path).isDirectory) return "given";
  } catch {
    // prepareTable reports the missing file
  }
  return "half-normals";
}

function uniqueSources(records: DatasetRecord[], modality: "image" | "table"): string[] {
  return [...new Set(records.filter((r) => r.modality === modality).map((r) => r.source))];
}

async function decodeImages(
  images: PreparedImages[],
  cache: ImageCache,
  size: number,
  alignObjects: boolean,
  seed: number,
  quiet: boolean,
  warn: (line: string) => void,
): Promise<ImageData[]> {
  const total = images.reduce((s, p) => s + p.train.length + p.val.length + p.test.length, 0);
  const bar = new Progress("decoding images", total, { quiet });
  const out: ImageData[] = [];
  for (const [i, p] of images.entries()) {
    const small = await smallImagesWarning(p.train.map((sample) => sample.path), size);
    if (small) warn(`warning: ${p.record.name}: ${small}`);
    // The pose is decided on the training normals as decoded, then every part is turned to it.
    const aligned = alignCategory(await decodeAll(cache, p.train, size), size, alignObjects);
    p.record.pose = aligned.pose;
    const train = aligned.train;
    bar.tick(p.train.length);
    const val = await decodeAll(cache, p.val, size, p.record.pose);
    bar.tick(p.val.length);
    // The test images and masks are read now, not first at eval: a broken one is named before
    // the training time is spent. Decoded and dropped, past the cache, whose memory the
    // training images need.
    for (const sample of p.test) {
      await decodeImage(sample.path, { size, channels: 3 });
      if (sample.maskPath) await decodeMask(sample.maskPath, size, { imagePath: sample.path });
      bar.tick();
    }
    const valAnomalies = validationImageAnomalies(
      seed + ANOMALY_SEED_OFFSET * (i + 1),
      val,
      train,
      size,
    );
    out.push({ prepared: p, train, val, valAnomalies });
  }
  if (total > 0) bar.done();
  return out;
}

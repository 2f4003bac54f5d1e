/**
 * Datasets as training and evaluation see them: each table or image category split into
 * train / validation / test normals, with the split and normalisation recorded so that a
 * checkpoint can rebuild exactly the same held-out test part later.
 *
 * @module
 */
import { extname, join } from "node:path";
import type { ImageSample, Normalisation, SplitSpec, Table } from "../data/types.ts";
import { noLabelColumn, readLabelledCsv, rowIndexColumns, rowIndexWarning } from "../data/table.ts";
import {
  alignForCategory,
  choosePoseAlignment,
  objectPose,
  type PoseAlignment,
} from "../data/pose.ts";
import { readOddsMat } from "../data/mat.ts";
import { readNpzTable } from "../data/npz.ts";
import { tableNameOf } from "../data/table_name.ts";
import { readUciThyroid } from "../data/uci.ts";
import {
  courseThyroid,
  inColumnOrder,
  splitGiven,
  splitTable,
  subsetTable,
} from "../data/split.ts";
import {
  applyNormalisation,
  fitNormalisation,
  type NormalisationOptions,
} from "../data/normalise.ts";
import { discoverImageCategories } from "../data/images.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { MadError } from "../errors.ts";
import { Rng } from "../rng.ts";

/** How a dataset was prepared; stored in checkpoints. */
export interface DatasetRecord {
  /** Table name or image category. */
  name: string;
  modality: "image" | "table";
  /** The file or folder as given. */
  source: string;
  split: SplitSpec;
  /** Tables: feature columns and the normalisation fitted on training normals. */
  columns?: string[];
  /**
   * Tables: true when `columns` came from the training file's header line, so that a file
   * scored or evaluated with a different header is refused even when the trained names look
   * generated (`f1..fd`). Absent for generated names and in older checkpoints.
   */
  columnsFromHeader?: boolean;
  normalisation?: Normalisation;
  /** Images: whether the category's objects are turned to one pose, decided on its training normals. */
  pose?: PoseAlignment;
  /**
   * What the source held when the run trained on it (`sourceDigest`): evaluation warns when the
   * data differs, since its split is drawn again from it. Absent in older checkpoints.
   */
  digest?: string;
}

/** A table split and normalised, rows as row-major float32. */
export interface PreparedTable {
  record: DatasetRecord;
  d: number;
  train: Float32Array;
  val: Float32Array;
  test: Float32Array;
  testLabels: Uint8Array;
  /** Row of each test sample in its table (from 0), for messages. */
  testRows?: number[];
}

/** An image category split into parts, with samples (decoded on demand). */
export interface PreparedImages {
  record: DatasetRecord;
  train: ImageSample[];
  val: ImageSample[];
  test: ImageSample[];
}

/** Key under which a dataset's bank and statistics are stored. */
export function datasetKey(record: Pick<DatasetRecord, "modality" | "name">): string {
  return `${record.modality}:${record.name}`;
}

/**
 * Reads a table source: a labelled CSV, ODDS `.mat`, ADBench `.npz`, UCI ann-thyroid `.data`,
 * or a course folder holding `train-set.csv` and `test-set.csv`. Returns the tables and the
 * protocol: whole labelled tables (`.mat`, `.npz`, CSV with labels) split by `half-normals`.
 * The table is named by {@linkcode tableNameOf}: after the folder, or the file without extension.
 * With `scoring`, labels are neither required nor read (the table's `labels` may be null).
 * `headerNames` (the columns a model was trained on) and `warn` are passed to
 * {@linkcode readLabelledCsv} for a CSV.
 *
 * @throws {MadError} `PATH: problem` for a file that cannot be read as a table, e.g. an
 * unknown ending such as `.xlsx`.
 */
export function readTableSource(
  path: string,
  options: {
    scoring?: boolean;
    headerNames?: readonly string[];
    warn?: (line: string) => void;
  } = {},
): { table: Table; trainOnly?: Table; protocol: SplitSpec["protocol"] } {
  // Scoring ignores labels: a table to score may lack them (no y in a .npz or .mat) or hold
  // unknown ones ("?" or blanks in a CSV's label column).
  const labels = options.scoring ? "ignore" : "require";
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    throw new MadError(`${path}: table file or folder not found`);
  }
  const name = tableNameOf(path, info.isDirectory);
  if (info.isDirectory) {
    const { train, test } = courseThyroid(path, name);
    return { table: test, trainOnly: train, protocol: "given" };
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".mat") {
    return { table: { ...readOddsMat(path, labels), name }, protocol: "half-normals" };
  }
  if (ext === ".npz") {
    return { table: { ...readNpzTable(path, labels), name }, protocol: "half-normals" };
  }
  if (ext === ".data") {
    return { table: { ...readUciThyroid(path), name }, protocol: "half-normals" };
  }
  if (!TEXT_TABLE_ENDINGS.has(ext)) {
    throw new MadError(
      `${path}: ${ext} files are not read as tables (accepted: .csv and other text tables, ` +
        ".mat, .npz, .data); save or export it as a UTF-8 CSV",
    );
  }
  const table = {
    ...readLabelledCsv(path, {
      requireLabel: false,
      ignoreLabel: options.scoring,
      headerNames: options.headerNames,
      warn: options.warn,
    }),
    name,
  };
  if (!table.labels) return { table, trainOnly: table, protocol: "given" };
  return { table, protocol: "half-normals" };
}

/**
 * A table to score or evaluate with its feature columns as the model was trained on them
 * (`trained`, from the checkpoint): when both carry real names (a CSV header, not the `f1..fd`
 * given to `.mat`/`.npz` columns nor a headerless CSV's numbers), columns are matched by name
 * and reordered, as they are when the file's columns are the trained names in another order
 * (numbers too: a header of wavelengths); otherwise they are taken by position, as before.
 * `trainedFromHeader` (the checkpoint's `columnsFromHeader`) says the trained names were a
 * header line: then a file with a header line is matched by name too, even when either header
 * looks like generated names (`f1..fd`).
 *
 * @throws {MadError} one line naming the file and the trained columns when the column count
 * differs or the names differ (listing the missing and unexpected ones).
 */
export function matchTrainedColumns(
  table: Table,
  trained: readonly string[] | undefined,
  path: string,
  trainedFromHeader = false,
): Table {
  if (!trained) return table;
  const named = (realNames(table.columns) && realNames(trained)) ||
    (trainedFromHeader && table.header === true) ||
    reorderedHeader(table.columns, trained);
  if (named && table.columns.join("\u0000") !== trained.join("\u0000")) {
    const have = new Set(table.columns);
    const missing = trained.filter((c) => !have.has(c));
    const wanted = new Set(trained);
    const unexpected = table.columns.filter((c) => !wanted.has(c));
    if (missing.length > 0 || unexpected.length > 0) {
      const names = `${trained.length} the model was trained on (${trained.join(", ")})`;
      const which = [
        missing.length > 0 ? `missing ${missing.join(", ")}` : "",
        unexpected.length > 0 ? `unexpected ${unexpected.join(", ")}` : "",
      ].filter((part) => part !== "").join("; ");
      throw new MadError(
        `${path}: ` +
          (table.d === trained.length
            ? `its columns differ from the ${names}`
            : `has ${table.d} feature columns, not the ${names}`) +
          `: ${which}; rename or drop columns to match`,
      );
    }
    // The same names in another order: reorder to the trained order.
    return inColumnOrder(table, trained);
  }
  if (table.d !== trained.length) {
    throw new MadError(
      `${path}: has ${table.d} feature columns, the model was trained on ${trained.length} (${
        trained.join(", ")
      })`,
    );
  }
  return table;
}

/**
 * Whether column names were given by a person: not the generated `f1..fd` of `.mat`/`.npz`
 * tables and not numbers (the first row of a CSV written without a header).
 */
function realNames(columns: readonly string[]): boolean {
  const generated = columns.every((c, j) => c === `f${j + 1}`);
  const numbers = columns.some((c) => c.trim() !== "" && Number.isFinite(Number(c)));
  return !generated && !numbers;
}

/**
 * Whether `columns` are the names `trained` in another order, read from a header: not the
 * `1..d` a headerless CSV's columns are given, which may be a permutation of numeric names.
 */
function reorderedHeader(columns: readonly string[], trained: readonly string[]): boolean {
  if (columns.length !== trained.length || columns.every((c, j) => c === String(j + 1))) {
    return false;
  }
  const names = new Set(trained);
  return names.size === columns.length && columns.every((c) => names.has(c));
}

/**
 * Endings of files read as CSV text: anything else (`.xlsx`, `.gz`, `.parquet`, ...) is refused
 * rather than parsed as CSV into a misleading message.
 */
const TEXT_TABLE_ENDINGS = new Set(["", ".csv", ".tsv", ".txt", ".tab", ".dat"]);

/**
 * Throws when two tables share a name: their parameters and memory banks would be one.
 *
 * @throws {MadError} naming both sources and what to do.
 */
export function assertDistinctTableNames(records: readonly DatasetRecord[]): void {
  const seen = new Map<string, string>();
  for (const r of records.filter((r) => r.modality === "table")) {
    const other = seen.get(r.name);
    if (other !== undefined) {
      throw new MadError(
        `${r.source}: table name '${r.name}' is also that of ${other}; rename one file or folder`,
      );
    }
    seen.set(r.name, r.source);
  }
}

/** What {@linkcode duplicateNormalRows} finds among a labelled table's normal rows. */
export interface DuplicateRows {
  /** Normal rows that repeat an earlier normal row's values exactly. */
  count: number;
  normals: number;
  /** How many distinct rows those repeat. */
  distinct: number;
  /**
   * The row repeated most: its first occurrence (a row index from 0), its copies beyond that
   * one, and whether every value of it is 0 (the empty row of a sparse table). Null without
   * duplicates.
   */
  largest: { row: number; copies: number; allZero: boolean } | null;
}

/**
 * How many of a labelled table's normal rows repeat an earlier normal row's values exactly,
 * how many normal rows there are, how many distinct rows are repeated and which one most.
 * Rows are bucketed by a hash of their values and compared whole only within a bucket: a
 * string key per row held the table again several times over (100,000 rows of 500 features,
 * about 900 MB).
 */
export function duplicateNormalRows(table: Table): DuplicateRows {
  const { d, values, labels } = table;
  const buckets = new Map<number, number[]>();
  const sameRow = (a: number, b: number) => {
    for (let j = 0; j < d; j++) if (values[a * d + j] !== values[b * d + j]) return false;
    return true;
  };
  // Copies of each repeated row, by the row's first occurrence.
  const copies = new Map<number, number>();
  let count = 0;
  let normals = 0;
  for (let r = 0; r < table.n; r++) {
    if (labels?.[r] !== 0) continue;
    normals++;
    const key = rowHash(values, r * d, d);
    const bucket = buckets.get(key);
    const first = bucket?.find((other) => sameRow(other, r));
    if (!bucket) buckets.set(key, [r]);
    else if (first === undefined) bucket.push(r);
    else {
      count++;
      copies.set(first, (copies.get(first) ?? 0) + 1);
    }
  }
  let largest: DuplicateRows["largest"] = null;
  for (const [row, n] of copies) {
    if (!largest || n > largest.copies) largest = { row, copies: n, allZero: false };
  }
  if (largest) {
    largest.allZero = values.subarray(largest.row * d, (largest.row + 1) * d).every((v) => v === 0);
  }
  return { count, normals, distinct: copies.size, largest };
}

/**
 * The warning about a table's duplicate normal rows (without `warning: PATH: `): how many, of
 * how many distinct rows, and, when most of them copy a single row, which (an all-zero row of
 * a sparse table is named as such; another by its number from 1).
 */
export function duplicateRowsText(found: DuplicateRows): string {
  const { count, normals, distinct, largest } = found;
  const what = largest?.allZero ? "one all-zero row" : `row ${(largest?.row ?? 0) + 1}`;
  let which = `duplicates of ${distinct} distinct rows`;
  if (distinct === 1) which = `copies of ${what}`;
  else if (largest && largest.copies * 2 > count) {
    which += `, ${largest.copies} of them copies of ${what}`;
  }
  return `${count} of ${normals} normal rows are ${which}: copies may land in both the training ` +
    "and test halves and inflate the metrics";
}

/** Scratch for {@linkcode rowHash}: one float64 and its two 32-bit halves. */
const hashScratch = new Float64Array(1);
const hashWords = new Uint32Array(hashScratch.buffer);

/** A 32-bit FNV-1a-style hash of `d` values from `start` (0 and -0 alike, as `===` has them). */
function rowHash(values: Float64Array, start: number, d: number): number {
  let h = 0x811c9dc5;
  for (let j = 0; j < d; j++) {
    hashScratch[0] = values[start + j] + 0; // -0 + 0 is 0
    h = Math.imul(h ^ hashWords[0], 0x01000193);
    h = Math.imul(h ^ hashWords[1], 0x01000193);
  }
  return h >>> 0;
}

/** Whether any feature takes two different values over the rows `indices` of `table`. */
function varies(table: Table, indices: number[]): boolean {
  const { d, values } = table;
  const first = indices[0] * d;
  return indices.some((r) => {
    for (let j = 0; j < d; j++) if (values[r * d + j] !== values[first + j]) return true;
    return false;
  });
}

function rowsOf(table: Table, indices: number[]): Float32Array {
  const out = new Float32Array(indices.length * table.d);
  indices.forEach((r, i) => {
    for (let j = 0; j < table.d; j++) out[i * table.d + j] = table.values[r * table.d + j];
  });
  return out;
}

/**
 * Splits and normalises a table source. With `normalisation` given (evaluation from a
 * checkpoint), that one is applied instead of fitting a new one; else one is fitted on the
 * training rows with `options` (see `fitNormalisation`). `warn` hears one-line warnings about
 * the table (a likely-label column, a row-number or ID column, duplicate normal rows).
 */
export function prepareTable(
  path: string,
  split: SplitSpec,
  normalisation?: Normalisation,
  name?: string,
  options: NormalisationOptions = {},
  trainedColumns?: readonly string[],
  warn: (line: string) => void = console.warn,
  trainedFromHeader = false,
): PreparedTable {
  const read = readTableSource(path, { headerNames: trainedColumns, warn });
  let source = read;
  if (trainedColumns) {
    // Evaluation from a checkpoint: the trained columns, matched by name or by position.
    const table = matchTrainedColumns(read.table, trainedColumns, path, trainedFromHeader);
    const trainOnly = read.trainOnly === read.table ? table : read.trainOnly &&
      matchTrainedColumns(read.trainOnly, trainedColumns, path, trainedFromHeader);
    source = { ...read, table, trainOnly };
  }
  const tableName = name ?? source.table.name;
  let trainTable: Table;
  let testTable: Table;
  let trainIdx: number[];
  let valIdx: number[];
  let testIdx: number[];
  if (split.protocol === "half-normals") {
    if (source.protocol !== "half-normals" || !source.table.labels) {
      // An unlabelled CSV: its rows cannot be split into training normals and a test.
      throw new MadError(
        `${path}: ${
          noLabelColumn(
            source.table.columns,
            "a table is split into training normals and a test part by its labels (0/1, " +
              "normal/anomaly, good/bad); or give a folder of train-set.csv (normals) and " +
              "test-set.csv",
          )
        }`,
      );
    }
    const inverted = invertedLabelsWarning(path, source.table.labels);
    if (inverted) warn(inverted);
    const duplicates = duplicateNormalRows(source.table);
    if (duplicates.count > 0) {
      warn(`warning: ${path}: ${duplicateRowsText(duplicates)}`);
    }
    const parts = splitTable(source.table.labels, split, path);
    trainTable = source.table;
    testTable = source.table;
    [trainIdx, valIdx, testIdx] = [parts.train, parts.val, parts.test];
  } else {
    const train = source.trainOnly ?? source.table;
    const testLabels = source.trainOnly === source.table
      ? new Uint8Array(0)
      : source.table.labels ?? new Uint8Array(0);
    const parts = splitGiven(train.n, testLabels, split, path);
    trainTable = train;
    testTable = source.table;
    [trainIdx, valIdx, testIdx] = [parts.train, parts.val, parts.test];
  }
  // The banks (the isolation forest, k nearest rows) compare at least two normal rows, and
  // validation needs a held-out normal to standardise the evidence and set the threshold.
  if (!normalisation && trainIdx.length > 1 && !varies(trainTable, trainIdx)) {
    throw new MadError(
      `${path}: the ${trainIdx.length} training normals do not vary (every feature is constant ` +
        "over them): there is no normal variation to learn; give normal rows that differ",
    );
  }
  if (trainIdx.length < 2 || valIdx.length < 1) {
    throw new MadError(
      `${path}: too few normal rows to train on: the split leaves ${trainIdx.length} for ` +
        `training and ${valIdx.length} for validation (at least 2 and 1 are needed; ` +
        `the half-normals protocol trains on half the normals, so give at least 10)`,
    );
  }
  // A row number or ID read as a feature (pandas' index, an `id`) leaks labels in file order;
  // said of a table that trains or evaluates, not of one refused above.
  const indexLike = new Set(rowIndexColumns(testTable));
  if (trainTable !== testTable) { for (const c of rowIndexColumns(trainTable)) indexLike.add(c); }
  const indexWarning = rowIndexWarning(path, [...indexLike]);
  if (indexWarning) warn(indexWarning);
  const norm = normalisation ?? fitNormalisation(trainTable, trainIdx, options);
  const trainN = applyNormalisation(trainTable, norm);
  const testN = applyNormalisation(testTable, norm);
  return {
    record: {
      name: tableName,
      modality: "table",
      source: path,
      split,
      columns: trainTable.columns,
      ...(trainTable.header ? { columnsFromHeader: true } : {}),
      normalisation: norm,
    },
    d: trainTable.d,
    train: rowsOf(trainN, trainIdx),
    val: rowsOf(trainN, valIdx),
    test: rowsOf(testN, testIdx),
    testLabels: testTable.labels
      ? Uint8Array.from(testIdx.map((i) => testTable.labels![i]))
      : new Uint8Array(0),
    testRows: testIdx,
  };
}

/**
 * A warning line when most of a whole labelled table's rows are labelled anomalous, or null: a
 * file that writes 1 for normal trains on its anomalies (the half-normals split learns from
 * rows labelled 0) and evaluates upside down, without an error.
 */
export function invertedLabelsWarning(path: string, labels: Uint8Array): string | null {
  let anomalies = 0;
  for (const l of labels) anomalies += l;
  // No normal at all: the split refuses the table, and its message asks the same.
  if (anomalies * 2 <= labels.length || anomalies === labels.length) return null;
  return `warning: ${path}: ${anomalies} of ${labels.length} rows are labelled anomalous; ` +
    "normals are 0/normal/good, and training learns from them: are the labels inverted?";
}

/**
 * Throws when a table's score is not finite (the standardised values are bounded, so this
 * should not happen; if it does, the row is named rather than a NaN written as `null`).
 *
 * @throws {MadError} one line naming the file, the row (from 1) and what to do.
 */
export function checkTableScores(
  scores: ArrayLike<number>,
  path: string,
  rowOf: (i: number) => number = (i) => i,
): void {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new MadError(
        `${path}: row ${rowOf(i) + 1} (of the data rows) got the score ${scores[i]}; check its ` +
          "values for extreme or fill values (e.g. 9.97e36) and replace or remove them",
      );
    }
  }
}

/**
 * Discovers image categories below each folder and splits their training normals; `warn` gets
 * the line naming files skipped for their extension (default `console.warn`).
 */
export async function prepareImages(
  dirs: string[],
  split: SplitSpec,
  warn?: (line: string) => void,
): Promise<PreparedImages[]> {
  const out: PreparedImages[] = [];
  for (const dir of dirs) {
    for (const category of await discoverImageCategories(dir, { warn })) {
      if (category.train.length < 2) {
        throw new MadError(
          `${join(category.root, "train", "good")}: needs at least 2 normal images`,
        );
      }
      const order = new Rng(split.seed ^ hash(category.category)).shuffle([
        ...category.train.keys(),
      ]);
      const nVal = Math.max(1, Math.round(split.valShare * order.length));
      const val = order.slice(0, nVal).sort((a, b) => a - b).map((i) => category.train[i]);
      const train = order.slice(nVal).sort((a, b) => a - b).map((i) => category.train[i]);
      if (out.some((p) => p.record.name === category.category)) {
        throw new MadError(`${category.root}: image category '${category.category}' given twice`);
      }
      out.push({
        record: { name: category.category, modality: "image", source: dir, split },
        train,
        val,
        test: category.test,
      });
    }
  }
  return out;
}

/**
 * Decodes samples to RGB float arrays of side `size` through the cache, each turned to its
 * object's pose when the category is aligned (`pose.aligned`, see lib/data/pose.ts).
 */
export async function decodeAll(
  cache: ImageCache,
  samples: ImageSample[],
  size: number,
  pose?: PoseAlignment,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const s of samples) out.push((await cache.get(s.path, { size, channels: 3 })).data);
  return alignImages(out, size, pose);
}

/**
 * A category's pose alignment, decided on its decoded (unaligned) training normals, and those
 * normals turned to it (each image's pose found once); never aligned when `allowed` is false (the
 * `alignObjects` setting).
 */
export function alignCategory(
  train: Float32Array[],
  size: number,
  allowed: boolean,
): { pose: PoseAlignment; train: Float32Array[] } {
  const poses = train.map((image) => objectPose(image, size, 3));
  const choice = choosePoseAlignment(poses, size);
  const pose = allowed ? choice : { ...choice, aligned: false, scale: 1 };
  return {
    pose,
    train: train.map((image, i) => alignForCategory(image, size, 3, pose, poses[i])),
  };
}

/** `images` turned to their objects' pose when `pose` says the category is aligned. */
export function alignImages(
  images: Float32Array[],
  size: number,
  pose: PoseAlignment | undefined,
): Float32Array[] {
  return images.map((image) => alignForCategory(image, size, 3, pose));
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Keeps only the given rows of a table (re-exported for callers that slice tables). */
export { subsetTable };

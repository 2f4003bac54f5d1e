/**
 * Seeded train/validation/test splits of tabular data, and the course thyroid files that come
 * already split.
 *
 * @module
 */
import { join } from "node:path";
import { fileError, MadError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { isFile } from "../util/files.ts";
import { readLabelledCsv } from "./table.ts";
import { tableNameOf } from "./table_name.ts";
import type { SplitIndices, SplitSpec, Table } from "./types.ts";

/**
 * Splits a labelled table by the `half-normals` protocol (GOAD, NeuTraL AD, ICL, DTE): the
 * normals are shuffled with `spec.seed`; a random `floor(nNormal / 2)` of them form the
 * training pool, from which `round(valShare * pool)` are held out for validation. The test
 * part is the remaining normals plus every anomaly. Each part is sorted ascending.
 *
 * @param source The file the labels came from, named in errors.
 * @throws {MadError} when the protocol is not `half-normals`, `valShare` is outside [0, 1),
 * or there are too few normals.
 */
export function splitTable(labels: Uint8Array, spec: SplitSpec, source?: string): SplitIndices {
  checkSpec(spec, "half-normals");
  const normals: number[] = [];
  const anomalies: number[] = [];
  labels.forEach((l, i) => (l ? anomalies : normals).push(i));
  if (normals.length < 2) {
    const what = normals.length === 0
      ? `no normal rows (label 0) among ${labels.length}; training needs normals (are the ` +
        "labels inverted? normals are 0/normal/good)"
      : `only ${normals.length} normal row (label 0); training needs at least 2`;
    throw new MadError(`${source ? `${source}: ` : ""}cannot split: ${what}`);
  }
  const rng = new Rng(spec.seed);
  rng.shuffle(normals);
  const poolSize = Math.floor(normals.length / 2);
  const pool = normals.slice(0, poolSize);
  const nVal = Math.round(spec.valShare * poolSize);
  return {
    train: sorted(pool.slice(nVal)),
    val: sorted(pool.slice(0, nVal)),
    test: sorted([...normals.slice(poolSize), ...anomalies]),
  };
}

/**
 * Splits data whose source already separates training rows (normals) from test rows, e.g. the
 * course CSVs: `round(valShare * nTrain)` seeded-random training rows become validation;
 * `train`/`val` index the training table and `test` is every row of the test table.
 *
 * @throws {MadError} when the protocol is not `given`, `valShare` is outside [0, 1) or
 * `nTrain` is not a positive integer.
 */
export function splitGiven(
  nTrain: number,
  testLabels: Uint8Array,
  spec: SplitSpec,
  source?: string,
): SplitIndices {
  checkSpec(spec, "given");
  if (!Number.isInteger(nTrain) || nTrain < 1) {
    throw new MadError(`${source ? `${source}: ` : ""}cannot split: ${nTrain} training rows`);
  }
  const rows = new Rng(spec.seed).shuffle(Array.from({ length: nTrain }, (_, i) => i));
  const nVal = Math.round(spec.valShare * nTrain);
  return {
    train: sorted(rows.slice(nVal)),
    val: sorted(rows.slice(0, nVal)),
    test: Array.from({ length: testLabels.length }, (_, i) => i),
  };
}

/**
 * Reads a course-style table folder: `train-set.csv` (features only, all normal; given labels of
 * zeros) and `test-set.csv` (with a `label` column). Both tables are called `name`, by default
 * the folder's own name ({@linkcode tableNameOf}).
 *
 * @throws {MadError} `PATH: problem` when either file is missing or malformed, or the two
 * files have different columns (in number, or in names when both have a header). Test columns
 * named like the training ones in another order are reordered to the training order.
 */
export function courseThyroid(
  dir: string,
  name = tableNameOf(dir, true),
): { train: Table; test: Table } {
  if (!isFile(join(dir, "train-set.csv")) && !isFile(join(dir, "test-set.csv"))) {
    throw fileError(
      dir,
      "a folder given as a table must hold train-set.csv (normals) and test-set.csv; this one " +
        "holds neither (an image category goes to --images)",
    );
  }
  const train = readLabelledCsv(join(dir, "train-set.csv"), { requireLabel: false, name });
  if (train.labels === null) train.labels = new Uint8Array(train.n);
  else if (train.labels.some((l) => l === 1)) {
    throw fileError(train.source, "training file contains anomalies (label 1)");
  }
  const test = readLabelledCsv(join(dir, "test-set.csv"), { name });
  if (test.d !== train.d) {
    throw fileError(
      test.source,
      `has ${test.d} feature columns but ${train.source} has ${train.d}`,
    );
  }
  // Both headers name the columns (a headerless train-set.csv is matched by position): a model
  // trained on one file's names could not evaluate the other, which is matched by name.
  if (!train.header || !test.header) return { train, test };
  const inTest = new Set(test.columns);
  const inTrain = new Set(train.columns);
  const onlyTrain = train.columns.filter((c) => !inTest.has(c));
  const onlyTest = test.columns.filter((c) => !inTrain.has(c));
  if (onlyTrain.length > 0 || onlyTest.length > 0) {
    throw fileError(
      test.source,
      `its feature columns differ from those of ${train.source}: ` +
        [
          onlyTrain.length > 0 ? `only in train-set.csv: ${onlyTrain.join(", ")}` : "",
          onlyTest.length > 0 ? `only in test-set.csv: ${onlyTest.join(", ")}` : "",
        ].filter((part) => part !== "").join("; ") +
        " (both files need the same column names)",
    );
  }
  // The same names in another order: the test rows in the training file's column order.
  return { train, test: inColumnOrder(test, train.columns) };
}

/**
 * `table` with its feature columns reordered to `columns` (the same names, another order): a
 * split folder's test file, or rows to score, in the order the model was trained on.
 */
export function inColumnOrder(table: Table, columns: readonly string[]): Table {
  if (table.columns.every((c, j) => c === columns[j])) return table;
  const { n, d } = table;
  const from = columns.map((c) => table.columns.indexOf(c));
  const values = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) values[r * d + j] = table.values[r * d + from[j]];
  }
  return { ...table, columns: [...columns], values };
}

/** Rows `indices` of row-major `rows` [n, d], in that order, as a new array [indices, d]. */
export function rowsAt(rows: Float32Array, d: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * d);
  indices.forEach((r, i) => out.set(rows.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/**
 * A new Table holding the given rows, in the given order.
 *
 * @throws {MadError} when an index is not an integer row number of `table`.
 */
export function subsetTable(table: Table, indices: number[], name = table.name): Table {
  const { d } = table;
  const values = new Float64Array(indices.length * d);
  const labels = table.labels ? new Uint8Array(indices.length) : null;
  indices.forEach((r, k) => {
    if (!Number.isInteger(r) || r < 0 || r >= table.n) {
      throw fileError(table.source, `row index ${r} is out of range (table has ${table.n} rows)`);
    }
    values.set(table.values.subarray(r * d, (r + 1) * d), k * d);
    if (labels) labels[k] = table.labels![r];
  });
  return { ...table, name, columns: [...table.columns], n: indices.length, values, labels };
}

function checkSpec(spec: SplitSpec, protocol: SplitSpec["protocol"]): void {
  if (spec.protocol !== protocol) {
    throw new MadError(`split protocol is "${spec.protocol}", this split needs "${protocol}"`);
  }
  if (!(spec.valShare >= 0 && spec.valShare < 1)) {
    throw new MadError(`validation share must be in [0, 1), got ${spec.valShare}`);
  }
  if (!Number.isFinite(spec.seed)) {
    throw new MadError(`split seed must be a number, got ${spec.seed}`);
  }
}

function sorted(xs: number[]): number[] {
  return xs.sort((a, b) => a - b);
}

/**
 * Per-feature normalisation, fitted on training rows only and stored as plain JSON in
 * checkpoints so scoring applies exactly the training transform: right-skewed features (lab
 * values, counts, durations) optionally on a log scale first, then every feature standardised.
 *
 * @module
 */
import pl from "nodejs-polars";
import { fileError } from "../errors.ts";
import type { LogScale, Normalisation, Table } from "./types.ts";

/**
 * Standard deviation given to a feature constant over the training rows, so it does not divide
 * by zero. A feature that varies keeps its own standard deviation however small (values
 * measured in small units, ~1e-7, standardise like their scaled-up copy); "constant" is judged
 * relative to the feature's magnitude (see {@linkcode CONSTANT_SHARE}).
 */
export const STD_FLOOR = 1e-6;
/**
 * A feature whose standard deviation is at most this share of its largest absolute value is
 * constant up to rounding: float64 means and deviations of equal values are off by ~1e-16 of
 * them, while values stored as float32 already differ by 6e-8 of their size, so 1e-9 separates
 * rounding from any real variation.
 */
export const CONSTANT_SHARE = 1e-9;
/**
 * Bound on standardised values. A finite but huge value (a fill value such as 9.97e36, a
 * glitch of 1e30) standardises beyond what the float32 model can square and sum, and its score
 * became Infinity or NaN; 1e9 standard deviations out is an anomaly whatever lies beyond, its
 * square times thousands of features stays far below float32's 3.4e38, and no value of the
 * real tables checked (ODDS / UCI thyroid, 17 ADBench tables) comes near it.
 */
export const STANDARD_BOUND = 1e9;
/** Training skewness above which a feature is put on a log scale (with `logSkewed`). */
export const SKEW_THRESHOLD = 1;
/**
 * Offset of the log scale, as a share of the feature's training range: the lowest values are
 * spread over log(0.05) .. 0 rather than towards -infinity, so the dense bottom of a skewed
 * feature does not become its widest part. Chosen on the UCI ann-thyroid test file (other
 * patients than the ODDS benchmark) among 0.01 to 0.1; 0.03 to 0.1 scored alike.
 */
export const LOG_OFFSET = 0.05;

/** Options of {@linkcode fitNormalisation}. */
export interface NormalisationOptions {
  /** Put features whose training skewness exceeds {@linkcode SKEW_THRESHOLD} on a log scale. */
  logSkewed?: boolean;
}

/**
 * Fits the normalisation of each feature over `rows` of `table`: with `logSkewed`, the
 * right-skewed features' log scale (see {@linkcode logScaled}), then the mean and (population)
 * standard deviation of the values so transformed, the latter {@linkcode STD_FLOOR} for a
 * feature constant over `rows` (up to rounding, {@linkcode CONSTANT_SHARE}). Such features are
 * recorded with a bound on their standardised values: the most standard deviations any value of
 * `rows` lies from its varying feature's mean (at least 1). A value the training rows never took
 * on a feature that never varied is then as unusual as the rarest value they did take, where
 * the floor alone put it a million standard deviations out, beyond every other evidence: two
 * test normals of a dev table outranked anomalies, and one validation normal decided a wide
 * table's calibration (docs/results.md, "v33").
 *
 * @throws {MadError} when `rows` is empty or holds an index outside the table, or a column's
 * values are too large to standardise (naming the column).
 */
export function fitNormalisation(
  table: Table,
  rows: number[],
  options: NormalisationOptions = {},
): Normalisation {
  if (rows.length === 0) throw fileError(table.source, "cannot fit normalisation on zero rows");
  const { d } = table;
  const raw: Float64Array[] = [];
  for (let j = 0; j < d; j++) {
    const col = new Float64Array(rows.length);
    rows.forEach((r, k) => {
      if (!Number.isInteger(r) || r < 0 || r >= table.n) {
        throw fileError(table.source, `row index ${r} is out of range (table has ${table.n} rows)`);
      }
      col[k] = table.values[r * d + j];
    });
    raw.push(col);
  }
  const log = options.logSkewed ? raw.map(fitLogScale) : null;
  const columns: Record<string, pl.Series> = {};
  raw.forEach((col, j) => {
    const scale = log?.[j];
    const values = scale ? col.map((x) => logScaled(x, scale)) : col;
    columns[`c${j}`] = pl.Series(`c${j}`, values, pl.Float64);
  });
  const df = pl.DataFrame(columns);
  // Population (ddof 0) statistics, as scikit-learn's StandardScaler uses.
  const means = df.mean().row(0) as number[];
  const stds = df.std(0).row(0) as number[];
  const mean = means.map(Number);
  const std = stds.map(Number);
  const constant: number[] = [];
  // The most standard deviations any training value lies from its feature's mean.
  let bound = 0;
  for (let j = 0; j < d; j++) {
    const values = columns[`c${j}`];
    const lowest = Number(values.min());
    const highest = Number(values.max());
    const magnitude = Math.max(Math.abs(lowest), Math.abs(highest));
    if (!Number.isFinite(mean[j]) || !Number.isFinite(std[j])) {
      // Values near 1e300 overflow the sums of squares: the same statistics on values scaled
      // down by the column's magnitude, scaled back up.
      [mean[j], std[j]] = scaledMoments(values.toArray() as number[], magnitude);
      if (!Number.isFinite(mean[j]) || !Number.isFinite(std[j])) {
        throw fileError(
          table.source,
          `column "${table.columns[j]}": values up to ${magnitude} are too large to ` +
            "standardise; rescale the column (e.g. divide it by a power of ten)",
        );
      }
    }
    // Constant up to rounding: the floor (as before). Varying, however little: its own.
    const isConstant = !(std[j] > CONSTANT_SHARE * magnitude);
    if (isConstant) {
      std[j] = Math.max(std[j] || 0, STD_FLOOR);
      constant.push(j);
    } else {
      const extreme = Math.max(Math.abs(lowest - mean[j]), Math.abs(highest - mean[j]));
      bound = Math.max(bound, extreme / std[j]);
    }
  }
  const norm: Normalisation = log && log.some((s) => s !== null)
    ? { kind: "standard", mean, std, log }
    : { kind: "standard", mean, std };
  // Only tables with a constant feature record it, so the others' checkpoints stay as they were.
  if (constant.length > 0) norm.constant = { features: constant, bound: Math.max(bound, 1) };
  return norm;
}

/** Population mean and standard deviation of values divided by `scale`, multiplied back. */
function scaledMoments(values: number[], scale: number): [number, number] {
  let sum = 0;
  for (const v of values) sum += v / scale;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v / scale - mean) ** 2;
  return [mean * scale, Math.sqrt(sq / values.length) * scale];
}

/** {@linkcode fitNormalisation} without log scales: plain standardisation. */
export function fitStandard(table: Table, rows: number[]): Normalisation {
  return fitNormalisation(table, rows);
}

/** The log scale of a training column, or null when it is not right-skewed (or constant). */
function fitLogScale(values: Float64Array): LogScale | null {
  const series = pl.Series("v", values, pl.Float64);
  const min = Number(series.min());
  const range = Number(series.max()) - min;
  if (!(range > 0)) return null;
  const skewness = Number(series.skew(true));
  return skewness > SKEW_THRESHOLD ? { min, range, offset: LOG_OFFSET } : null;
}

/**
 * A value on a feature's log scale: log((x - min) / range + offset). Below the training
 * minimum it continues along the tangent, so such values stay ordered and finite however far
 * out they lie.
 */
export function logScaled(x: number, scale: LogScale): number {
  const u = (x - scale.min) / scale.range;
  return u >= 0 ? Math.log(u + scale.offset) : Math.log(scale.offset) + u / scale.offset;
}

/**
 * Returns a new Table with each feature standardised: `(x - mean) / std`, bounded by
 * ±{@linkcode STANDARD_BOUND}.
 *
 * @throws {MadError} `SOURCE: problem` when the normalisation's column count differs from the
 * table's, or the normalisation is malformed.
 */
export function applyNormalisation(table: Table, norm: Normalisation): Table {
  checkNormalisation(norm, table.source);
  if (norm.mean.length !== table.d) {
    throw fileError(
      table.source,
      `normalisation has ${norm.mean.length} columns but the table has ${table.d}`,
    );
  }
  const { d } = table;
  // Clipped (see STANDARD_BOUND); a finite input then always gets a finite score. Features
  // constant in training are clipped at their recorded bound (see fitNormalisation).
  const bounds = new Float64Array(d).fill(STANDARD_BOUND);
  for (const j of norm.constant?.features ?? []) bounds[j] = norm.constant!.bound;
  const values = new Float64Array(table.values.length);
  for (let i = 0; i < values.length; i++) {
    const j = i % d;
    const scale = norm.log?.[j];
    const x = scale ? logScaled(table.values[i], scale) : table.values[i];
    const z = (x - norm.mean[j]) / norm.std[j];
    const b = bounds[j];
    values[i] = z > b ? b : z < -b ? -b : z;
  }
  return {
    ...table,
    columns: [...table.columns],
    values,
    labels: table.labels ? table.labels.slice() : null,
  };
}

/**
 * Checks that a value read back from JSON (e.g. a checkpoint) is a usable Normalisation.
 *
 * @throws {MadError} `SOURCE: problem` naming what is wrong.
 */
export function checkNormalisation(value: unknown, source: string): Normalisation {
  const bad = (problem: string) => fileError(source, `bad normalisation: ${problem}`);
  if (typeof value !== "object" || value === null) throw bad("not an object");
  const v = value as Partial<Normalisation>;
  if (v.kind !== "standard") throw bad(`unknown kind ${JSON.stringify(v.kind)}`);
  if (!Array.isArray(v.mean) || !Array.isArray(v.std)) throw bad("mean/std must be arrays");
  if (v.mean.length !== v.std.length) {
    throw bad(`${v.mean.length} means but ${v.std.length} standard deviations`);
  }
  const badMean = v.mean.findIndex((m) => !Number.isFinite(m));
  if (badMean >= 0) throw bad(`the mean of feature ${badMean + 1} is ${v.mean[badMean]}`);
  const badStd = v.std.findIndex((s) => !(Number.isFinite(s) && s > 0));
  if (badStd >= 0) {
    throw bad(
      `the standard deviation of feature ${badStd + 1} is ${v.std[badStd]}, not a positive number`,
    );
  }
  if (v.constant !== undefined) {
    const c = v.constant;
    const d = v.mean.length;
    const inRange = (j: unknown) => Number.isInteger(j) && (j as number) >= 0 && (j as number) < d;
    if (
      typeof c !== "object" || c === null || !Array.isArray(c.features) ||
      !c.features.every(inRange) || !(Number.isFinite(c.bound) && c.bound > 0)
    ) {
      throw bad(`constant needs features among 0..${d - 1} and a positive bound`);
    }
  }
  if (v.log !== undefined) {
    if (!Array.isArray(v.log) || v.log.length !== v.mean.length) {
      throw bad("log must be an array with one entry per feature");
    }
    const usable = (s: LogScale | null) =>
      s === null ||
      (typeof s === "object" && Number.isFinite(s.min) && Number.isFinite(s.range) &&
        s.range > 0 && Number.isFinite(s.offset) && s.offset > 0);
    if (!v.log.every(usable)) {
      throw bad("a log scale needs a finite min and a positive range and offset");
    }
  }
  return v as Normalisation;
}

/**
 * How many training standard deviations a file's typical value may lie from the training mean
 * on a feature before {@linkcode shiftedFeatures} names it. The test parts of the 31 ADBench
 * dev and held-out tables, normals and anomalies (some of them half anomalies), reach 2.8 at most.
 */
export const SHIFT_LIMIT = 4;

/** Rows {@linkcode shiftedFeatures} reads at most, evenly spaced through the table. */
export const SHIFT_SAMPLE = 10_000;

/** A feature whose typical value in a normalised table lies far from the training rows'. */
export interface ShiftedFeature {
  column: string;
  /** The median of its standardised values: training standard deviations from their mean. */
  median: number;
}

/**
 * The features of a normalised `table` (see {@linkcode applyNormalisation}) whose median value
 * lies more than `limit` training standard deviations from the training mean, farthest first. A
 * file in other units, or one already standardised, moves many features' medians tens of
 * deviations away, and then most rows score as anomalies; naming the features lets a user see
 * why before trusting the flags.
 */
export function shiftedFeatures(
  table: Pick<Table, "n" | "d" | "columns"> & { values: ArrayLike<number> },
  limit = SHIFT_LIMIT,
): ShiftedFeature[] {
  const { n, d } = table;
  if (n === 0) return [];
  // Evenly spaced rows, at most SHIFT_SAMPLE, so a long, wide file costs a bounded sort.
  const step = Math.ceil(n / SHIFT_SAMPLE);
  const m = Math.ceil(n / step);
  const out: ShiftedFeature[] = [];
  const col = new Float64Array(m);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < m; i++) col[i] = table.values[i * step * d + j];
    col.sort();
    const median = m % 2 ? col[(m - 1) / 2] : (col[m / 2 - 1] + col[m / 2]) / 2;
    if (Math.abs(median) > limit) out.push({ column: table.columns[j], median });
  }
  return out.sort((a, b) => Math.abs(b.median) - Math.abs(a.median));
}

/**
 * `PATH: the typical row lies far from the training rows on f2 (median -36.0 training standard
 * deviations from their mean), f6 (median -22.7), f4 (median -16.1) and 1 more (4 of 6 features):
 * is the file on the training data's scale (units, normalisation)?`, naming at most three.
 */
export function shiftWarning(path: string, shifted: ShiftedFeature[], d: number): string {
  const named = shifted.slice(0, 3).map((f, i) =>
    `${f.column} (median ${f.median.toFixed(1)}` +
    `${i === 0 ? " training standard deviations from their mean" : ""})`
  );
  const more = shifted.length > 3 ? ` and ${shifted.length - 3} more` : "";
  return `${path}: the typical row lies far from the training rows on ${named.join(", ")}${more} ` +
    `(${shifted.length} of ${d} features): is the file on the training data's scale (units, ` +
    "normalisation)?";
}

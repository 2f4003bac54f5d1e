/**
 * A Gaussian kernel density of a bank's rows, read at several widths at once. The nearest rows
 * (`search.ts`) see only a query's immediate neighbourhood; a density weighs every normal row by
 * its nearness, so a narrow kernel reads as the nearest rows do and a broad one reads how far a
 * query lies from where normals crowd. Which width reads a table's anomalies best differs from
 * table to table (docs/transformer-evidence.md, "Eleventh pass" and "Twentieth pass"), so the
 * score is the mean of the widths' standardised scores, each standardised on the bank's own rows
 * scored without themselves.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul2d, readTidy } from "../ops.ts";
import { type MemoryBank, storedWidth } from "./bank.ts";
import { type ProjectedQueries, queryCount, squaredDistanceBlocks } from "./search.ts";
import { span } from "../../util/profile.ts";

/** Nearest rows whose mean distance sets the widths' unit. */
export const KERNEL_UNIT_NEIGHBOURS = 5;

/** Kernels farther than this many squared widths beyond the nearest row's add under 1e-17. */
const REACH = 40;

/** What a bank's density is read with: its widths, and each width's standardisation. */
export interface KernelScale {
  /** The widths, as multiples of `unit`, narrowest first. */
  widths: readonly number[];
  /** The widths' unit: the bank rows' mean distance to their nearest other rows. */
  unit: number;
  /** Twice each width squared, in the order of `widths`. */
  twiceSquared: Float64Array;
  /**
   * How each width's kernel follows from the next broader one's: squared this many times, or
   * raised to `powers[w]` where -1 (see `squaringsOf`).
   */
  squarings: Int32Array;
  /** (f_(w+1) / f_w)², the power that makes width w's kernel from width w + 1's. */
  powers: Float64Array;
  /** Each width's median score of the bank's rows, each scored without itself. */
  median: Float64Array;
  /** The same scores' interquartile range (1 when it is 0). */
  spread: Float64Array;
}

const scales = new WeakMap<MemoryBank, KernelScale>();
const widthsFrom = new WeakMap<MemoryBank, MemoryBank>();

/**
 * Makes `bank` read its density with the widths of `like` (a bank of more of the same normals):
 * a table calibration's fold then measures its held-out normals with the kept bank's kernels.
 * Its standardisation stays its own, since a bank of fewer rows has a lower density everywhere.
 */
export function useKernelWidthsOf(bank: MemoryBank, like: MemoryBank): void {
  widthsFrom.set(bank, like);
}

/**
 * Anomaly score of each query row [q, dim] against the bank's kernel density: the mean over
 * `widths` (multiples of the bank rows' mean distance to their nearest rows, narrowest first) of
 * its negative log density, standardised by the bank's own rows.
 */
export function kernelDensityScores(
  bank: MemoryBank,
  queries: Float32Array | ProjectedQueries,
  widths: readonly number[],
): Float32Array {
  const scale = span("kde: scale", () => kernelScaleOf(bank, widths));
  return span("kde: score", () => densityScores(bank, scale, queries));
}

function densityScores(
  bank: MemoryBank,
  scale: KernelScale,
  queries: Float32Array | ProjectedQueries,
): Float32Array {
  const out = new Float32Array(queryCount(bank, queries));
  const widths = scale.twiceSquared.length;
  const each = new Float64Array(widths);
  squaredDistanceBlocks(bank, queries, (start, count, squared) => {
    for (let i = 0; i < count; i++) {
      negativeLogDensities(squared, i * bank.rows, bank.rows, -1, scale, each);
      let sum = 0;
      for (let w = 0; w < widths; w++) sum += (each[w] - scale.median[w]) / scale.spread[w];
      out[start + i] = sum / widths;
    }
  });
  return out;
}

/**
 * The bank's {@linkcode KernelScale} at `widths`, made on first use and kept as long as the bank
 * (and made again if it is asked for at other widths).
 */
export function kernelScaleOf(bank: MemoryBank, widths: readonly number[]): KernelScale {
  let scale = scales.get(bank);
  if (!scale || !sameWidths(scale.widths, widths)) {
    scale = fitScale(bank, widths, widthsFrom.get(bank));
    scales.set(bank, scale);
  }
  return scale;
}

function sameWidths(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

function fitScale(bank: MemoryBank, factors: readonly number[], like?: MemoryBank): KernelScale {
  const rows = bank.rows;
  const widths = factors.length;
  const scaleAt = (unit: number) => {
    const twiceSquared = Float64Array.from(factors, (f) => 2 * (f * unit) ** 2);
    const powers = Float64Array.from(factors.slice(0, -1), (f, w) => (factors[w + 1] / f) ** 2);
    return { widths: [...factors], unit, twiceSquared, powers, squarings: squaringsOf(powers) };
  };
  // A row alone has no other to be scored against: its queries are left unscaled.
  if (rows < 2) {
    const at = scaleAt(like ? kernelScaleOf(like, factors).unit : 1);
    return { ...at, median: new Float64Array(widths), spread: at.twiceSquared.map(() => 1) };
  }
  const squared = selfSquaredDistances(bank);
  const at = scaleAt(
    like ? kernelScaleOf(like, factors).unit : meanNearestDistance(squared, rows),
  );
  const scores = Array.from({ length: widths }, () => new Float64Array(rows));
  const each = new Float64Array(widths);
  for (let r = 0; r < rows; r++) {
    negativeLogDensities(squared, r * rows, rows, r, at, each);
    for (let w = 0; w < widths; w++) scores[w][r] = each[w];
  }
  const median = new Float64Array(widths);
  const spread = new Float64Array(widths);
  for (let w = 0; w < widths; w++) {
    const sorted = scores[w].sort();
    median[w] = quantile(sorted, 0.5);
    const iqr = quantile(sorted, 0.75) - quantile(sorted, 0.25);
    spread[w] = iqr > 0 && Number.isFinite(iqr) ? iqr : 1;
  }
  return { ...at, median, spread };
}

/**
 * How each kernel follows from the next broader one: exp(-x / t_w) is exp(-x / t_(w+1)) to the
 * power (f_(w+1) / f_w)², which for the default widths (4, 4, then 16) is a few squarings: one
 * exp per bank row for every width, where an exp per width was most of a table row's scoring
 * time. -1 (a ratio that is no power of two) takes the power instead.
 */
function squaringsOf(powers: Float64Array): Int32Array {
  return Int32Array.from(powers, (p) => {
    const k = Math.log2(p);
    return Number.isInteger(k) ? k : -1;
  });
}

/**
 * Negative log of the kernel sum at one query, for each width, from its squared distances
 * `squared[from .. from + count)` to the bank rows, leaving out position `skip` (-1: none):
 * log-sum-exp from the nearest row, so that narrow kernels far from every row stay finite.
 */
function negativeLogDensities(
  squared: Float32Array,
  from: number,
  count: number,
  skip: number,
  scale: Pick<KernelScale, "twiceSquared" | "squarings" | "powers">,
  out: Float64Array,
): void {
  const { twiceSquared, squarings, powers } = scale;
  let nearest = Infinity;
  for (let r = 0; r < count; r++) {
    if (r !== skip && squared[from + r] < nearest) nearest = squared[from + r];
  }
  const widths = twiceSquared.length;
  const broad = 1 / twiceSquared[widths - 1];
  const sums = out.fill(0); // the kernels' sums first, then what they give
  for (let r = 0; r < count; r++) {
    const x = (squared[from + r] - nearest) * broad;
    if (r === skip || !(x < REACH)) continue;
    let e = Math.exp(-x);
    sums[widths - 1] += e;
    for (let w = widths - 2; w >= 0 && e > 0; w--) {
      // The kernel of width w from that of width w + 1 at the same point (see squaringsOf).
      const k = squarings[w];
      if (k < 0) e **= powers[w];
      else for (let i = 0; i < k; i++) e *= e;
      sums[w] += e;
    }
  }
  for (let w = 0; w < widths; w++) out[w] = nearest / twiceSquared[w] - Math.log(sums[w]);
}

/** Squared distances between the bank's rows [rows, rows], as queries are measured against it. */
function selfSquaredDistances(bank: MemoryBank): Float32Array {
  const { rows } = bank;
  const width = storedWidth(bank);
  const t = bank.transposed;
  const byRow = new Float32Array(rows * width);
  for (let j = 0; j < width; j++) {
    for (let r = 0; r < rows; r++) byRow[r * width + j] = t[j * rows + r];
  }
  const norms = bank.projection?.norms ?? Float32Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let j = 0; j < width; j++) s += byRow[r * width + j] ** 2;
    return s;
  });
  const products = readTidy(() =>
    matMul2d(tf.tensor2d(byRow, [rows, width]), tf.tensor2d(t, [width, rows]))
  );
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < rows; s++) {
      const i = r * rows + s;
      products[i] = Math.max(0, norms[r] + norms[s] - 2 * products[i]);
    }
  }
  return products;
}

/** Mean over rows of the mean distance to their nearest other rows (1 when there are none). */
function meanNearestDistance(squared: Float32Array, rows: number): number {
  const k = Math.min(KERNEL_UNIT_NEIGHBOURS, rows - 1);
  if (k < 1) return 1;
  let total = 0;
  const row = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    row.set(squared.subarray(r * rows, (r + 1) * rows));
    row[r] = Infinity;
    row.sort();
    let sum = 0;
    for (let p = 0; p < k; p++) sum += Math.sqrt(row[p]);
    total += sum / k;
  }
  const unit = total / rows;
  return unit > 0 && Number.isFinite(unit) ? unit : 1;
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: Float64Array, p: number): number {
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
}

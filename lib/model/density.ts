/**
 * Per-feature density evidence for tables: a Gaussian kernel density estimate of each feature
 * over the normal rows of a bank, with Silverman's bandwidth. A row scores the negative sum of
 * its features' log densities, so a value rare for any one feature counts, however ordinary the
 * row is elsewhere (the kind of evidence axis-aligned methods such as isolation forests use).
 *
 * Scoring reads each feature's estimate from a fine grid (a binned KDE, as KDEpy or R's
 * `bkde`): the bank's values are spread linearly onto nodes `GRID_STEPS` to a bandwidth apart,
 * the counts convolved once with the kernel, and a value's log density is interpolated between
 * its two nodes: O(grid) per feature once per bank, O(1) per value, where the exact sum costs
 * a window of the bank per value (15,000 of 20,000 kernels for Gaussian data). Where the grid's
 * density is low (a value far from most normals, where relative errors would grow) and for
 * features whose range would need too many nodes, the exact sum is taken instead
 * ({@linkcode exactMarginalDensityScores}); elsewhere the two agree to about 1e-4 in log density
 * (`tests/density_test.ts`).
 *
 * @module
 */
import type { MemoryBank } from "./knn.ts";
import { span } from "../util/profile.ts";

/** Silverman's rule-of-thumb bandwidth for n values of standard deviation `std` (1 when constant). */
export function silvermanBandwidth(std: number, n: number): number {
  // The rows are standardised, so a feature that does not vary (constant in training, its unseen
  // values bounded by the normalisation) gets a unit feature's width, not a spike under which any
  // other value read as a log density of -1e13.
  return 1.06 * (std > CONSTANT_STD ? std : 1) * n ** -0.2;
}

/** A feature's standard deviation at or below which it counts as constant. */
const CONSTANT_STD = 1e-6;

/** Kernels beyond this many bandwidths add less than 1e-14 each and are not summed. */
const CUTOFF = 8;
/** Grid nodes per bandwidth of the binned estimate. */
export const GRID_STEPS = 64;
/** Most nodes of one feature's grid; a feature needing more is scored exactly. */
const MAX_NODES = 1 << 16;
/**
 * Below this kernel sum (1 = one normal value exactly at the point) the grid is not trusted and
 * the exact sum is taken: beyond about 3.7 bandwidths from every normal value.
 */
const EXACT_BELOW = 1e-3;

/** One feature's kernel density estimate: its sorted values and, unless too wide, its grid. */
interface FeatureDensity {
  sorted: Float64Array;
  h: number;
  /** -log(n h sqrt(2 pi)): the kernel sum's log plus this is the log density. */
  logNorm: number;
  /** Position of node 0 and the node spacing. */
  start: number;
  step: number;
  /** Kernel sums at the nodes (null: exact scoring only). */
  sums: Float64Array | null;
}

/** One feature's estimate over `values`, with Silverman's bandwidth for them unless `h` is given. */
function featureDensity(values: Float32Array, h = silvermanOf(values)): FeatureDensity {
  const rows = values.length;
  const sorted = Float64Array.from(values).sort();
  const logNorm = -Math.log(rows * h * Math.sqrt(2 * Math.PI));
  const step = h / GRID_STEPS;
  const start = sorted[0] - CUTOFF * h;
  const nodes = Math.ceil((sorted[rows - 1] + CUTOFF * h - start) / step) + 2;
  if (!(nodes <= MAX_NODES)) return { sorted, h, logNorm, start, step, sums: null };
  // Linear binning: each value split between its two nodes, weights by nearness.
  const counts = new Float64Array(nodes);
  for (let r = 0; r < rows; r++) {
    const at = (sorted[r] - start) / step;
    const i = Math.floor(at);
    const w = at - i;
    counts[i] += 1 - w;
    counts[i + 1] += w;
  }
  const reach = CUTOFF * GRID_STEPS;
  const kernel = Float64Array.from(
    { length: reach + 1 },
    (_, m) => Math.exp(-0.5 * (m / GRID_STEPS) ** 2),
  );
  const sums = new Float64Array(nodes);
  for (let i = 0; i < nodes; i++) {
    const c = counts[i];
    if (c === 0) continue;
    const lo = Math.max(0, i - reach);
    const hi = Math.min(nodes - 1, i + reach);
    for (let t = lo; t <= hi; t++) sums[t] += c * kernel[Math.abs(t - i)];
  }
  return { sorted, h, logNorm, start, step, sums };
}

/** Silverman's bandwidth of a bank's feature (see {@linkcode silvermanBandwidth}). */
function silvermanOf(values: Float32Array): number {
  const rows = values.length;
  let mean = 0;
  for (let r = 0; r < rows; r++) mean += values[r];
  mean /= rows;
  let sq = 0;
  for (let r = 0; r < rows; r++) sq += (values[r] - mean) ** 2;
  return silvermanBandwidth(Math.sqrt(sq / Math.max(rows - 1, 1)), rows);
}

const densities = new WeakMap<MemoryBank, FeatureDensity[]>();

/**
 * Makes `bank` estimate each feature's density with the bandwidths of `like` (a bank of more of
 * the same normals). A calibration fold that lacks the only normals varying on a feature would
 * otherwise give that feature a bandwidth of nearly nothing, and a held-out normal's log density
 * there of the order of -10^13 (docs/transformer-evidence.md, "Sixteenth pass").
 */
export function useBandwidthsOf(bank: MemoryBank, like: MemoryBank): void {
  const widths = densitiesOf(like).map((f) => f.h);
  const { dim, rows } = bank;
  densities.set(
    bank,
    Array.from(
      { length: dim },
      (_, j) => featureDensity(bank.transposed.subarray(j * rows, (j + 1) * rows), widths[j]),
    ),
  );
}

/** The per-feature estimates of a bank, made on first use and kept as long as the bank. */
function densitiesOf(bank: MemoryBank): FeatureDensity[] {
  let out = densities.get(bank);
  if (!out) {
    const { dim, rows } = bank;
    out = span("dens: grid", () =>
      Array.from(
        { length: dim },
        (_, j) => featureDensity(bank.transposed.subarray(j * rows, (j + 1) * rows)),
      ));
    densities.set(bank, out);
  }
  return out;
}

/**
 * Density scores of query rows [q, dim] (row-major) against a bank of normal rows: for each
 * row, -Σ_j log p_j(x_j), p_j the feature's kernel density estimate (binned, see the module
 * doc). Returns [q].
 */
export function marginalDensityScores(bank: MemoryBank, queries: Float32Array): Float32Array {
  return span("dens: score", () => {
    const dim = bank.dim;
    const q = queries.length / dim;
    const out = new Float32Array(q);
    densitiesOf(bank).forEach((f, j) => {
      const { sums, start, step, logNorm } = f;
      const last = sums ? sums.length - 1 : -1;
      for (let i = 0; i < q; i++) {
        const x = queries[i * dim + j];
        const at = (x - start) / step;
        let logDensity: number;
        const node = Math.floor(at);
        if (sums && node >= 0 && node < last) {
          const a = sums[node];
          const b = sums[node + 1];
          if (a >= EXACT_BELOW && b >= EXACT_BELOW) {
            const w = at - node;
            logDensity = (1 - w) * Math.log(a) + w * Math.log(b);
          } else logDensity = exactLogSum(f, x);
        } else logDensity = exactLogSum(f, x);
        out[i] -= logNorm + logDensity;
      }
    });
    return out;
  });
}

/** The exact density scores, every kernel within 8 bandwidths summed (tests, reference). */
export function exactMarginalDensityScores(bank: MemoryBank, queries: Float32Array): Float32Array {
  const dim = bank.dim;
  const q = queries.length / dim;
  const out = new Float32Array(q);
  densitiesOf(bank).forEach((f, j) => {
    for (let i = 0; i < q; i++) out[i] -= f.logNorm + exactLogSum(f, queries[i * dim + j]);
  });
  return out;
}

/** Log of the kernel sum at x over the sorted window of 8 bandwidths either side. */
function exactLogSum(f: FeatureDensity, x: number): number {
  const { sorted, h } = f;
  let lo = lowerBound(sorted, x - CUTOFF * h);
  const hi = lowerBound(sorted, x + CUTOFF * h);
  let density = 0;
  for (; lo < hi; lo++) {
    const u = (x - sorted[lo]) / h;
    density += Math.exp(-0.5 * u * u);
  }
  return density > 1e-12 ? Math.log(density) : nearestLogKernel(sorted, x, h);
}

/**
 * Far from every normal value the density is dominated by the nearest kernel; its log keeps
 * growing with the distance where the sum itself would underflow to 0.
 */
function nearestLogKernel(sorted: Float64Array, x: number, h: number): number {
  const i = lowerBound(sorted, x);
  const gap = Math.min(
    i < sorted.length ? Math.abs(sorted[i] - x) : Infinity,
    i > 0 ? Math.abs(x - sorted[i - 1]) : Infinity,
  );
  return -0.5 * (gap / h) ** 2;
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

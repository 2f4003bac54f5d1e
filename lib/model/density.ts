/**
 * Per-feature density evidence for tables: a Gaussian kernel density estimate of each feature
 * over the normal rows of a bank, with Silverman's bandwidth. A row scores the negative sum of
 * its features' log densities, so a value rare for any one feature counts, however ordinary the
 * row is elsewhere (the kind of evidence axis-aligned methods such as isolation forests use).
 *
 * @module
 */
import type { MemoryBank } from "./knn.ts";
import { span } from "../bench/profile.ts";

/** Silverman's rule-of-thumb bandwidth for n values of standard deviation `std`. */
export function silvermanBandwidth(std: number, n: number): number {
  return 1.06 * Math.max(std, 1e-6) * n ** -0.2;
}

/**
 * Density scores of query rows [q, dim] (row-major) against a bank of normal rows: for each
 * row, -Σ_j log p_j(x_j), p_j the feature's kernel density estimate. Returns [q].
 */
export function marginalDensityScores(bank: MemoryBank, queries: Float32Array): Float32Array {
  return span("dens: score", () => exactDensityScores(bank, queries));
}

function exactDensityScores(bank: MemoryBank, queries: Float32Array): Float32Array {
  const { dim, rows } = bank;
  const q = queries.length / dim;
  const out = new Float32Array(q);
  for (let j = 0; j < dim; j++) {
    const values = bank.transposed.subarray(j * rows, (j + 1) * rows);
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += values[r];
    mean /= rows;
    let sq = 0;
    for (let r = 0; r < rows; r++) sq += (values[r] - mean) ** 2;
    const h = silvermanBandwidth(Math.sqrt(sq / Math.max(rows - 1, 1)), rows);
    const sorted = Float64Array.from(values).sort();
    const logNorm = -Math.log(rows * h * Math.sqrt(2 * Math.PI));
    for (let i = 0; i < q; i++) {
      const x = queries[i * dim + j];
      // Kernels beyond 8 bandwidths add less than 1e-14 each: sum only the sorted window.
      let lo = lowerBound(sorted, x - 8 * h);
      const hi = lowerBound(sorted, x + 8 * h);
      let density = 0;
      for (; lo < hi; lo++) {
        const u = (x - sorted[lo]) / h;
        density += Math.exp(-0.5 * u * u);
      }
      out[i] -= logNorm + (density > 1e-12 ? Math.log(density) : nearestLogKernel(sorted, x, h));
    }
  }
  return out;
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

/**
 * The linear algebra of memory banks: centring rows, the principal directions a bank compares
 * wide features in (subspace iteration on the covariance, then Rayleigh-Ritz), and the small
 * symmetric eigen decomposition and Gram-Schmidt that takes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../../rng.ts";
import { matMul2d, readTidy } from "../ops.ts";

/** Extra directions the subspace iteration carries, so the kept ones converge faster. */
const PCA_OVERSAMPLE = 8;
const PCA_ITERATIONS = 12;
/**
 * Widest features whose covariance is formed (8,192: 268 MB); wider ones are multiplied through
 * their rows instead (the same directions, without the dim x dim matrix).
 */
export const COVARIANCE_MAX_DIM = 8192;

/**
 * Rows of row-major features (those at `indices`, or all) minus `mean`, and their squared norms;
 * the centred rows written to `into` when given.
 */
export function centreRows(
  features: Float32Array,
  dim: number,
  mean: Float32Array,
  indices: number[] | null = null,
  into?: Float32Array,
): { centred: Float32Array; norms: Float32Array } {
  const n = indices ? indices.length : features.length / dim;
  const centred = into ?? new Float32Array(n * dim);
  const norms = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const from = (indices ? indices[r] : r) * dim;
    let sq = 0;
    for (let j = 0; j < dim; j++) {
      const v = features[from + j] - mean[j];
      centred[r * dim + j] = v;
      sq += v * v;
    }
    norms[r] = sq;
  }
  return { centred, norms };
}

/**
 * Mean and top `width` principal directions [dim, width] of row-major features (of the rows in
 * `sample`, or all), by subspace iteration on their covariance, ordered by the variance they
 * carry (only the subspace matters for distances; the order makes the leading ones the kept ones).
 */
export function principalDirections(
  features: Float32Array,
  dim: number,
  width: number,
  sample: number[] | null,
  rng: Rng,
): { mean: Float32Array; basis: Float32Array } {
  const n = sample ? sample.length : features.length / dim;
  const mean = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    const from = (sample ? sample[i] : i) * dim;
    for (let j = 0; j < dim; j++) mean[j] += features[from + j] / n;
  }
  const { centred } = centreRows(features, dim, mean, sample);
  const k = Math.min(dim, width + PCA_OVERSAMPLE);
  // The covariance itself [dim, dim] while it is small; beyond, its product with the subspace
  // through the rows, X'(X q): a table of 500 features has 64,000-wide tokens, whose covariance
  // (4e9 numbers) no typed array holds.
  const x = tf.tensor2d(centred, [n, dim]);
  const covariance = dim <= COVARIANCE_MAX_DIM
    ? tf.tensor2d(readTidy(() => matMul2d(tf.transpose(x), x)), [dim, dim])
    : null;
  const times = (q: Float64Array) =>
    Float64Array.from(readTidy(() => {
      const qt = tf.tensor2d(Float32Array.from(q), [dim, k]);
      if (covariance) return matMul2d(covariance, qt);
      // ((X q)' X)' rather than X' (X q): the rows are never transposed (copied).
      return tf.transpose(matMul2d(tf.transpose(matMul2d(x, qt)), x));
    }));
  let q = orthonormalColumns(Float64Array.from({ length: dim * k }, () => rng.normal()), dim, k);
  for (let it = 0; it < PCA_ITERATIONS; it++) q = orthonormalColumns(times(q), dim, k);
  // Rayleigh-Ritz: within the subspace found, the directions in order of the variance they carry.
  const cq = times(q);
  const small = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += q[i * k + a] * cq[i * k + b];
      small[a * k + b] = s;
    }
  }
  covariance?.dispose();
  x.dispose();
  const { values, vectors } = symmetricEigen(small, k);
  const order = [...values.keys()].sort((a, b) => values[b] - values[a]).slice(0, width);
  const basis = new Float32Array(dim * width);
  for (let i = 0; i < dim; i++) {
    order.forEach((e, j) => {
      let s = 0;
      for (let a = 0; a < k; a++) s += q[i * k + a] * vectors[a * k + e];
      basis[i * width + j] = s;
    });
  }
  return { mean, basis };
}

/**
 * Eigenvalues and eigenvectors (columns of the row-major `vectors`) of a small symmetric
 * matrix, by cyclic Jacobi rotations.
 */
export function symmetricEigen(
  matrix: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let r = p + 1; r < n; r++) off += a[p * n + r] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = a[p * n + r];
        if (Math.abs(apr) < 1e-300) continue;
        const theta = (a[r * n + r] - a[p * n + p]) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akr = a[k * n + r];
          a[k * n + p] = c * akp - s * akr;
          a[k * n + r] = s * akp + c * akr;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const ark = a[r * n + k];
          a[p * n + k] = c * apk - s * ark;
          a[r * n + k] = s * apk + c * ark;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkr = v[k * n + r];
          v[k * n + p] = c * vkp - s * vkr;
          v[k * n + r] = s * vkp + c * vkr;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]), vectors: v };
}

/**
 * Orthonormal columns of a row-major [rows, cols] matrix by Gram-Schmidt, each column cleaned
 * twice: once is not enough when a column lies almost in the span of the earlier ones, as the
 * trailing columns of a low-rank covariance do. A column with nothing left becomes 0.
 */
function orthonormalColumns(m: Float64Array, rows: number, cols: number): Float64Array {
  for (let j = 0; j < cols; j++) {
    let before = 0;
    for (let i = 0; i < rows; i++) before += m[i * cols + j] ** 2;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += m[i * cols + j] * m[i * cols + p];
        for (let i = 0; i < rows; i++) m[i * cols + j] -= dot * m[i * cols + p];
      }
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += m[i * cols + j] ** 2;
    const scale = norm > 1e-20 * before && norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < rows; i++) m[i * cols + j] *= scale;
  }
  return m;
}

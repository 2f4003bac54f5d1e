/**
 * A one-class SVM (Schölkopf et al. 2001) with a Gaussian kernel, as the third table baseline
 * beside the Isolation Forest and kNN: the same problem, settings and solver as scikit-learn's
 * `OneClassSVM(gamma="scale", nu=0.05)` (libsvm's dual, solved by SMO with second-order working
 * set selection, Fan, Chen and Lin 2005), so that the benchmark shows the scikit-learn peers'
 * three methods on any table without Python.
 *
 * The dual: minimise ½ αᵀKα subject to 0 <= α_i <= 1 and Σ α_i = ν·n. A row's decision value is
 * Σ α_i k(x_i, x) − ρ, positive inside the normals' region; the anomaly score is its negative.
 *
 * @module
 */
import { MadError } from "../errors.ts";
import { Rng } from "../rng.ts";

/** The settings of the scikit-learn peer: ν = 0.05, γ = 1 / (features × variance of the rows). */
export const OCSVM_NU = 0.05;
/** Stopping tolerance on the largest violation of the optimality conditions (libsvm's default). */
export const OCSVM_TOLERANCE = 1e-3;
/**
 * Most training rows the solver keeps (a random sample beyond): its kernel matrix is held whole,
 * 4 bytes per pair, so 4,000 rows take 64 MB.
 */
export const OCSVM_ROW_LIMIT = 4_000;

/** A fitted one-class SVM: its support rows, their weights, ρ and γ. */
export interface OneClassSvm {
  d: number;
  gamma: number;
  rho: number;
  /** Support rows (α > 0), row-major [s, d], and their α. */
  support: Float32Array;
  alpha: Float64Array;
  /** SMO iterations taken. */
  iterations: number;
}

/** γ = 1 / (d × variance of every entry of `rows`), scikit-learn's `gamma="scale"`. */
export function scaleGamma(rows: Float32Array, d: number): number {
  let mean = 0;
  for (const v of rows) mean += v;
  mean /= rows.length;
  let variance = 0;
  for (const v of rows) variance += (v - mean) ** 2;
  variance /= rows.length;
  return variance > 0 ? 1 / (d * variance) : 1;
}

/**
 * Fits the one-class SVM on training rows [n, d] (z-scored as the other baselines). More than
 * `limit` rows are sampled down to `limit` with `seed`. `maxIterations` bounds SMO (libsvm's
 * own bound is far above what these tables need; reaching it keeps the solution so far).
 */
export function fitOneClassSvm(
  rows: Float32Array,
  d: number,
  options: {
    nu?: number;
    tolerance?: number;
    limit?: number;
    seed?: number;
    maxIterations?: number;
  } = {},
): OneClassSvm {
  const nu = options.nu ?? OCSVM_NU;
  const eps = options.tolerance ?? OCSVM_TOLERANCE;
  if (!(nu > 0 && nu <= 1)) throw new MadError(`one-class SVM: nu must be in (0, 1], got ${nu}`);
  const all = rows.length / d;
  if (!Number.isInteger(all) || all < 1) throw new MadError("one-class SVM: no training rows");
  const x = sampleRows(rows, d, options.limit ?? OCSVM_ROW_LIMIT, options.seed ?? 0);
  const n = x.length / d;
  const gamma = scaleGamma(x, d);
  const q = kernelMatrix(x, d, gamma);

  // libsvm's start: the first ⌊ν·n⌋ weights at their bound, the remainder on the next one.
  const alpha = new Float64Array(n);
  const total = nu * n;
  const full = Math.floor(total);
  for (let i = 0; i < Math.min(full, n); i++) alpha[i] = 1;
  if (full < n) alpha[full] = total - full;
  const grad = new Float64Array(n); // ∇ = Kα
  for (let i = 0; i < n; i++) {
    if (alpha[i] === 0) continue;
    for (let t = 0; t < n; t++) grad[t] += alpha[i] * q[i * n + t];
  }

  const maxIterations = options.maxIterations ?? Math.max(10_000_000, 100 * n);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    // i: the weight that can rise with the steepest descent; j: the partner that lowers the
    // objective most (second-order selection), among those that can fall.
    let i = -1;
    let gMax = -Infinity;
    for (let t = 0; t < n; t++) {
      if (alpha[t] < 1 && -grad[t] >= gMax) {
        gMax = -grad[t];
        i = t;
      }
    }
    let j = -1;
    let gMin = Infinity;
    let best = Infinity;
    for (let t = 0; t < n; t++) {
      if (alpha[t] <= 0) continue;
      if (-grad[t] < gMin) gMin = -grad[t];
      const b = gMax + grad[t];
      if (i < 0 || b <= 0) continue;
      const a = Math.max(q[i * n + i] + q[t * n + t] - 2 * q[i * n + t], 1e-12);
      if (-(b * b) / a <= best) {
        best = -(b * b) / a;
        j = t;
      }
    }
    if (i < 0 || j < 0 || gMax - gMin < eps) break;

    const quad = Math.max(q[i * n + i] + q[j * n + j] - 2 * q[i * n + j], 1e-12);
    const delta = (grad[i] - grad[j]) / quad;
    const sum = alpha[i] + alpha[j];
    const oldI = alpha[i];
    const oldJ = alpha[j];
    let ai = oldI - delta;
    let aj = oldJ + delta;
    if (sum > 1) {
      if (ai > 1) [ai, aj] = [1, sum - 1];
    } else if (aj < 0) [ai, aj] = [sum, 0];
    if (sum > 1) {
      if (aj > 1) [ai, aj] = [sum - 1, 1];
    } else if (ai < 0) [ai, aj] = [0, sum];
    alpha[i] = ai;
    alpha[j] = aj;
    const di = ai - oldI;
    const dj = aj - oldJ;
    for (let t = 0; t < n; t++) grad[t] += q[i * n + t] * di + q[j * n + t] * dj;
  }

  const rho = solverRho(alpha, grad);
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (alpha[i] > 0) kept.push(i);
  const support = new Float32Array(kept.length * d);
  kept.forEach((r, s) => support.set(x.subarray(r * d, (r + 1) * d), s * d));
  return { d, gamma, rho, support, alpha: Float64Array.from(kept, (r) => alpha[r]), iterations };
}

/** Decision values Σ α_i k(x_i, x) − ρ of rows [q, d]: positive inside the normals' region. */
export function svmDecision(model: OneClassSvm, rows: Float32Array): Float64Array {
  const { d, gamma, support, alpha, rho } = model;
  const q = rows.length / d;
  const out = new Float64Array(q);
  for (let r = 0; r < q; r++) {
    let sum = 0;
    for (let s = 0; s < alpha.length; s++) {
      let dist = 0;
      for (let c = 0; c < d; c++) dist += (rows[r * d + c] - support[s * d + c]) ** 2;
      sum += alpha[s] * Math.exp(-gamma * dist);
    }
    out[r] = sum - rho;
  }
  return out;
}

/** Anomaly scores of rows [q, d]: the negative decision value. */
export function svmScores(model: OneClassSvm, rows: Float32Array): Float32Array {
  return Float32Array.from(svmDecision(model, rows), (v) => -v);
}

/** ρ as libsvm takes it: the mean gradient of the free weights, else the middle of the bounds. */
function solverRho(alpha: Float64Array, grad: Float64Array): number {
  let free = 0;
  let sumFree = 0;
  let ub = Infinity;
  let lb = -Infinity;
  for (let i = 0; i < alpha.length; i++) {
    if (alpha[i] >= 1) lb = Math.max(lb, grad[i]);
    else if (alpha[i] <= 0) ub = Math.min(ub, grad[i]);
    else {
      free++;
      sumFree += grad[i];
    }
  }
  return free > 0 ? sumFree / free : (ub + lb) / 2;
}

function kernelMatrix(x: Float32Array, d: number, gamma: number): Float32Array {
  const n = x.length / d;
  const q = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    q[i * n + i] = 1;
    for (let j = i + 1; j < n; j++) {
      let dist = 0;
      for (let c = 0; c < d; c++) dist += (x[i * d + c] - x[j * d + c]) ** 2;
      const k = Math.exp(-gamma * dist);
      q[i * n + j] = k;
      q[j * n + i] = k;
    }
  }
  return q;
}

function sampleRows(rows: Float32Array, d: number, limit: number, seed: number): Float32Array {
  const n = rows.length / d;
  if (n <= limit) return rows;
  const order = Array.from({ length: n }, (_, i) => i);
  new Rng(seed).shuffle(order);
  const out = new Float32Array(limit * d);
  order.slice(0, limit).sort((a, b) => a - b).forEach((r, s) =>
    out.set(rows.subarray(r * d, (r + 1) * d), s * d)
  );
  return out;
}

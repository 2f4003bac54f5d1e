/**
 * Nearest-neighbour scoring against a memory bank of normal features.
 *
 * Banks are coresets: a greedy k-center selection (as in PatchCore) keeps the rows that cover
 * the normal features best, so a bank of a few thousand rows scores like one of all of them at a
 * fraction of the cost. Distances come from one untransposed 2-D matmul per bank chunk, the wasm
 * backend's fast path, with the bank stored pre-multiplied so the product is the distance up to
 * a per-query constant and only a row minimum (or top-k) follows it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import { matMul2d } from "./ops.ts";

/** A memory bank: `rows` normal feature vectors of width `dim`, stored as [dim, rows]. */
export interface MemoryBank {
  dim: number;
  rows: number;
  /** Transposed bank, row-major [dim, rows]. */
  transposed: Float32Array;
}

/**
 * Most rows a coreset search looks at (a random subsample beyond). Rare normal patterns are
 * what a small random pool misses and what a coreset exists to keep, so the pool is large.
 */
const CORESET_POOL = 400_000;
/** Width of the random projection the coreset search measures distances in. */
const CORESET_PROJECTION = 32;

/**
 * Builds a bank from row-major features [n, dim] with at most `limit` rows: all rows when they
 * fit, else a greedy k-center coreset of them (of a random pool of 400,000 when there are more),
 * or a plain random sample with `coreset: false`.
 */
export function buildBank(
  features: Float32Array,
  dim: number,
  limit: number,
  rng: Rng,
  options: { coreset?: boolean } = {},
): MemoryBank {
  const n = features.length / dim;
  let keep = [...Array(n).keys()];
  if (n > limit && options.coreset === false) {
    keep = rng.shuffle(keep).slice(0, limit).sort((a, b) => a - b);
  } else if (n > limit) {
    const pool = n > CORESET_POOL
      ? rng.shuffle(keep).slice(0, CORESET_POOL).sort((a, b) => a - b)
      : keep;
    keep = greedyCoreset(features, dim, pool, limit, rng).sort((a, b) => a - b);
  }
  const rows = keep.length;
  const transposed = new Float32Array(dim * rows);
  keep.forEach((src, r) => {
    for (let j = 0; j < dim; j++) transposed[j * rows + r] = features[src * dim + j];
  });
  return { dim, rows, transposed };
}

/**
 * Greedy k-center: starting from a random row, repeatedly adds the row farthest from those
 * chosen, measured in a random projection (Johnson-Lindenstrauss keeps distances roughly). Rows
 * the triangle inequality shows cannot be nearer the new centre are not measured again, which
 * halves the search on image features and picks exactly the same rows.
 * Returns up to `size` indices into `features`, taken from `pool` (fewer when the pool has
 * fewer distinct rows).
 */
export function greedyCoreset(
  features: Float32Array,
  dim: number,
  pool: number[],
  size: number,
  rng: Rng,
): number[] {
  const m = pool.length;
  if (size >= m) return [...pool];
  const projected = projectRows(features, dim, pool, Math.min(CORESET_PROJECTION, dim), rng);
  const p = projected.width;
  const data = projected.data;
  const norms = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    let sq = 0;
    for (let j = 0; j < p; j++) sq += data[i * p + j] * data[i * p + j];
    norms[i] = sq;
  }
  // Squared distance of each row to its nearest chosen centre, and which centre that is.
  const nearest = new Float32Array(m).fill(Infinity);
  const owner = new Int32Array(m).fill(-1);
  const centres: number[] = [];
  const chosen: number[] = [];
  // Squared distances from the newest centre to every earlier one.
  const toCentre = new Float32Array(size);
  let next = rng.int(m);
  for (let c = 0; c < size; c++) {
    chosen.push(pool[next]);
    centres.push(next);
    const centre = data.subarray(next * p, (next + 1) * p);
    const centreNorm = norms[next];
    for (let k = 0; k < c; k++) {
      const other = centres[k] * p;
      let sq = 0;
      for (let j = 0; j < p; j++) sq += (data[other + j] - centre[j]) ** 2;
      toCentre[k] = sq;
    }
    let far = -1;
    let farIndex = 0;
    for (let i = 0, row = 0; i < m; i++, row += p) {
      // Triangle inequality: a row can only move to the new centre if that centre lies within
      // twice its current distance of the row's own centre.
      const own = owner[i];
      if (own < 0 || toCentre[own] < 4 * nearest[i]) {
        let dot = 0;
        for (let j = 0; j < p; j++) dot += data[row + j] * centre[j];
        const d = norms[i] + centreNorm - 2 * dot;
        if (d < nearest[i]) {
          nearest[i] = d;
          owner[i] = c;
        }
      }
      if (nearest[i] > far) {
        far = nearest[i];
        farIndex = i;
      }
    }
    // Every row sits on a chosen one already (repeated rows): a larger bank adds nothing.
    if (far <= 0) break;
    next = farIndex;
  }
  return chosen;
}

function projectRows(
  features: Float32Array,
  dim: number,
  pool: number[],
  width: number,
  rng: Rng,
): { width: number; data: Float32Array } {
  const rows = new Float32Array(pool.length * dim);
  pool.forEach((src, i) => rows.set(features.subarray(src * dim, (src + 1) * dim), i * dim));
  if (width >= dim) return { width: dim, data: rows };
  const matrix = Float32Array.from({ length: dim * width }, () => rng.normal() / Math.sqrt(width));
  const data = tf.tidy(() =>
    matMul2d(tf.tensor2d(rows, [pool.length, dim]), tf.tensor2d(matrix, [dim, width]))
      .dataSync() as Float32Array
  );
  return { width, data };
}

/** Bank chunks with the distance terms folded in: [dim + 1, size] = [-2·rows; |row|²]. */
const prepared = new WeakMap<MemoryBank, Float32Array[]>();

const CHUNK = 8192;

function preparedChunks(bank: MemoryBank): Float32Array[] {
  const cached = prepared.get(bank);
  if (cached) return cached;
  const chunks: Float32Array[] = [];
  for (let start = 0; start < bank.rows; start += CHUNK) {
    const size = Math.min(CHUNK, bank.rows - start);
    const out = new Float32Array((bank.dim + 1) * size);
    const norms = out.subarray(bank.dim * size);
    for (let j = 0; j < bank.dim; j++) {
      const src = bank.transposed.subarray(j * bank.rows + start, j * bank.rows + start + size);
      const dst = out.subarray(j * size, (j + 1) * size);
      for (let r = 0; r < size; r++) {
        dst[r] = -2 * src[r];
        norms[r] += src[r] * src[r];
      }
    }
    chunks.push(out);
  }
  prepared.set(bank, chunks);
  return chunks;
}

const QUERY_BLOCK = 2048;

/**
 * Mean Euclidean distance of each query row [q, dim] to its k nearest bank rows; returns [q].
 */
export function knnDistances(bank: MemoryBank, queries: Float32Array, k = 1): Float32Array {
  const q = queries.length / bank.dim;
  // Query blocks keep the distance matrix (block x CHUNK floats) small for wasm memory.
  const out = new Float32Array(q);
  for (let start = 0; start < q; start += QUERY_BLOCK) {
    const end = Math.min(q, start + QUERY_BLOCK);
    out.set(knnBlock(bank, queries.subarray(start * bank.dim, end * bank.dim), k), start);
  }
  return out;
}

function knnBlock(bank: MemoryBank, queries: Float32Array, k: number): Float32Array {
  const dim = bank.dim;
  const q = queries.length / dim;
  const augmented = new Float32Array(q * (dim + 1));
  const queryNorms = new Float32Array(q);
  for (let i = 0; i < q; i++) {
    const row = queries.subarray(i * dim, (i + 1) * dim);
    augmented.set(row, i * (dim + 1));
    augmented[i * (dim + 1) + dim] = 1;
    let s = 0;
    for (let j = 0; j < dim; j++) s += row[j] * row[j];
    queryNorms[i] = s;
  }
  return tf.tidy(() => {
    const query = tf.tensor2d(augmented, [q, dim + 1]);
    const best: tf.Tensor[] = [];
    for (const chunk of preparedChunks(bank)) {
      const size = chunk.length / (dim + 1);
      // |q - b|² - |q|² for every pair, in one product.
      const partial = matMul2d(query, tf.tensor2d(chunk, [dim + 1, size]));
      // A plain minimum is far cheaper than top-k on wasm, and k = 1 is the common case.
      best.push(
        k === 1 ? partial.min(1, true) : tf.neg(tf.topk(tf.neg(partial), Math.min(k, size)).values),
      );
    }
    const all = best.length === 1 ? best[0] : tf.concat(best, 1);
    const kept = Math.min(k, bank.rows);
    const nearest = all.shape[1] === kept
      ? all
      : k === 1
      ? all.min(1, true)
      : tf.neg(tf.topk(tf.neg(all), kept).values);
    const squared = nearest.add(tf.tensor2d(queryNorms, [q, 1]));
    return tf.sqrt(tf.relu(squared)).mean(1).dataSync() as Float32Array;
  });
}

/**
 * Nearest-neighbour scoring against a memory bank of normal features. Distances come from one
 * untransposed 2-D matmul per bank chunk (the bank is stored transposed), which is the wasm
 * backend's fast path.
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

/** Builds a bank from row-major features [n, dim], keeping at most `limit` random rows. */
export function buildBank(
  features: Float32Array,
  dim: number,
  limit: number,
  rng: Rng,
): MemoryBank {
  const n = features.length / dim;
  let keep = [...Array(n).keys()];
  if (n > limit) keep = rng.shuffle(keep).slice(0, limit).sort((a, b) => a - b);
  const rows = keep.length;
  const transposed = new Float32Array(dim * rows);
  keep.forEach((src, r) => {
    for (let j = 0; j < dim; j++) transposed[j * rows + r] = features[src * dim + j];
  });
  return { dim, rows, transposed };
}

const CHUNK = 8192;

/**
 * Mean distance of each query row [q, dim] to its k nearest bank rows. Returns [q] distances
 * (Euclidean). `exclude` skips exact self-matches when queries are bank rows (distance 0).
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

const QUERY_BLOCK = 2048;

function knnBlock(bank: MemoryBank, queries: Float32Array, k: number): Float32Array {
  const q = queries.length / bank.dim;
  return tf.tidy(() => {
    const query = tf.tensor2d(queries, [q, bank.dim]);
    const queryNorm = query.square().sum(1, true);
    const best: tf.Tensor[] = [];
    for (let start = 0; start < bank.rows; start += CHUNK) {
      const size = Math.min(CHUNK, bank.rows - start);
      const chunk = bankChunk(bank, start, size);
      const bankNorm = chunk.square().sum(0, true);
      const d2 = queryNorm.add(bankNorm).sub(matMul2d(query, chunk).mul(2));
      // A plain minimum is far cheaper than top-k on wasm, and k = 1 is the common case.
      best.push(k === 1 ? d2.min(1, true) : tf.neg(tf.topk(tf.neg(d2), Math.min(k, size)).values));
    }
    const all = tf.concat(best, 1);
    const nearest = k === 1
      ? all.min(1, true)
      : tf.neg(tf.topk(tf.neg(all), Math.min(k, all.shape[1]!)).values);
    return tf.sqrt(tf.relu(nearest)).mean(1).dataSync() as Float32Array;
  });
}

function bankChunk(bank: MemoryBank, start: number, size: number): tf.Tensor2D {
  if (start === 0 && size === bank.rows) return tf.tensor2d(bank.transposed, [bank.dim, bank.rows]);
  const values = new Float32Array(bank.dim * size);
  for (let j = 0; j < bank.dim; j++) {
    values.set(
      bank.transposed.subarray(j * bank.rows + start, j * bank.rows + start + size),
      j * size,
    );
  }
  return tf.tensor2d(values, [bank.dim, size]);
}

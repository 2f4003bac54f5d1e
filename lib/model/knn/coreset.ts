/**
 * Coreset selection: the greedy k-center search (as in PatchCore) that keeps the rows covering
 * the normal features best, measured in a random projection.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../../rng.ts";
import { matMul2d, readTidy } from "../ops.ts";

/** Width of the random projection the coreset search measures distances in. */
const CORESET_PROJECTION = 32;

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
  const data = readTidy(() =>
    matMul2d(tf.tensor2d(rows, [pool.length, dim]), tf.tensor2d(matrix, [dim, width]))
  );
  return { width, data };
}

/**
 * Rank correlation: how alike two scorings order the same samples, whatever their scales.
 * Spearman's coefficient as `scipy.stats.spearmanr` computes it (ties share their mean rank,
 * then Pearson's coefficient of the ranks).
 *
 * @module
 */

import { MadError } from "../errors.ts";

/** Ranks from 1, ties given the mean of the ranks they span (scipy's `rankdata`). */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + end + 1) / 2; // the mean of ranks start + 1 .. end
    for (let i = start; i < end; i++) out[order[i]] = rank;
    start = end;
  }
  return out;
}

/** Pearson's coefficient; 0 when either side is constant (no order to agree with). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new MadError(`correlation needs equal lengths, got ${a.length} and ${b.length}`);
  }
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Spearman's rank correlation of two scorings of the same samples, in [-1, 1]. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

/**
 * Sorting scores once into cumulative confusion counts, the basis of every curve and
 * threshold search here.
 *
 * @module
 */

/** Cumulative counts at each distinct score, highest score first. */
export interface Cumulative {
  /** Distinct scores, descending. */
  thresholds: number[];
  /** True positives when flagging every score >= thresholds[i]. */
  tps: number[];
  /** False positives when flagging every score >= thresholds[i]. */
  fps: number[];
}

/**
 * Counts true and false positives at every distinct threshold. Tied scores are grouped into one
 * threshold, which is what makes the resulting AUROC count ties as one half.
 */
export function cumulative(scores: ArrayLike<number>, labels: ArrayLike<number>): Cumulative {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a]);
  const thresholds: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    if (labels[i] === 1) tp++;
    else fp++;
    const next = k + 1 < order.length ? scores[order[k + 1]] : NaN;
    if (next !== scores[i]) {
      thresholds.push(scores[i]);
      tps.push(tp);
      fps.push(fp);
    }
  }
  return { thresholds, tps, fps };
}

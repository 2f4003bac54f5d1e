/**
 * Which features make a table row anomalous. A feature's contribution is how much the row's
 * anomaly score falls when that feature alone takes the value of the normal row nearest to the
 * row on its other features: occlusion by a value that is plausible in the row's context (a
 * mean or a mask would often be rare there itself). It explains the score the user reads, with
 * every evidence component the model combines, the Transformer's included.
 *
 * Chosen against synthetic anomalies whose altered features are known, where it ranked an
 * altered feature first more often than the features' own densities, a leave-one-feature-out
 * kNN or a decomposition of the encoder tokens' distance (docs/transformer-evidence.md,
 * eleventh pass).
 *
 * @module
 */
import { MadError } from "../errors.ts";
import { auroc } from "../metrics/ranking.ts";
import { buildBank, type MemoryBank } from "./knn.ts";
import { finish, type FittedKey, scoreKey } from "./scorer.ts";
import type { ModelConfig } from "./config.ts";
import type { Params } from "./madformer.ts";
import { SAMPLED_ROWS } from "./evidence/common.ts";
import { Rng } from "../rng.ts";

/**
 * Normal rows to take replacement values from: a table's density or isolation bank (a random
 * sample of its normalised training rows, stored with every checkpoint that scores either), or
 * null when it has neither (an ablation without both).
 */
export function normalRowsOf(banks: Record<string, MemoryBank>): MemoryBank | null {
  const bank = banks.dens ?? banks.iso;
  return bank && !bank.projection ? bank : null;
}

/** Normal rows [n, d] as a bank to explain against: a seeded sample of `SAMPLED_ROWS`. */
export function normalRowsBank(rows: Float32Array, d: number, seed: number): MemoryBank {
  return buildBank(rows, d, SAMPLED_ROWS, new Rng(seed), { coreset: false, projection: 0 });
}

/**
 * Rows [n, d] with one feature each replaced, row-major [n, d, d]: block (i, j) is row i with
 * feature j set to the value of the normal row nearest to row i on the other d - 1 features.
 */
export function occludedRows(rows: Float32Array, d: number, normals: MemoryBank): Float32Array {
  if (normals.dim !== d) {
    throw new MadError(`normal rows have ${normals.dim} features, the rows ${d}`);
  }
  const n = rows.length / d;
  const m = normals.rows;
  const t = normals.transposed;
  const out = new Float32Array(n * d * d);
  const full = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const x = rows.subarray(i * d, (i + 1) * d);
    full.fill(0);
    for (let j = 0; j < d; j++) {
      const col = t.subarray(j * m, (j + 1) * m);
      for (let r = 0; r < m; r++) full[r] += (x[j] - col[r]) ** 2;
    }
    for (let j = 0; j < d; j++) {
      const col = t.subarray(j * m, (j + 1) * m);
      let best = 0;
      let bestDist = Infinity;
      for (let r = 0; r < m; r++) {
        const dist = full[r] - (x[j] - col[r]) ** 2;
        if (dist < bestDist) [best, bestDist] = [r, dist];
      }
      const at = (i * d + j) * d;
      out.set(x, at);
      out[at + j] = col[best];
    }
  }
  return out;
}

/** Scores rows [n, d] of a table: higher is more anomalous. */
export type RowScorer = (rows: Float32Array) => Float32Array;

/** The combined score of a fitted table (`batchRows` at a time, see `scoringBatchRows`). */
export function tableScorer(
  params: Params,
  config: ModelConfig,
  fitted: FittedKey,
  table: string,
  d: number,
  batchRows?: number,
): RowScorer {
  return (rows) =>
    scoreKey(params, config, fitted, { modality: "table", table, rows, d }, { batchRows }).scores;
}

/** Occluded rows scored at once, at most (bounds memory on wide tables). */
const CHUNK_ROWS = 16_384;

/**
 * Each feature's contribution to each row's score, row-major [n, d]: the row's score minus its
 * score with that feature occluded ({@linkcode occludedRows}). Positive: the feature makes the row
 * look anomalous; near zero: it does not matter; negative: a normal value there would look odder.
 * Costs d scorings per row, so callers explain the rows they show. `done` is called with the rows
 * explained so far.
 */
export function featureContributions(
  rows: Float32Array,
  d: number,
  normals: MemoryBank,
  score: RowScorer,
  done?: (rows: number) => void,
): Float32Array {
  return finish(contributionChunks(rows, d, normals, score, done));
}

/**
 * The work of {@linkcode featureContributions}, pausing after each chunk of rows (see
 * `finishYielding`).
 */
export function* contributionChunks(
  rows: Float32Array,
  d: number,
  normals: MemoryBank,
  score: RowScorer,
  done?: (rows: number) => void,
): Generator<void, Float32Array> {
  const n = rows.length / d;
  const base = score(rows);
  const out = new Float32Array(n * d);
  const perChunk = Math.max(1, Math.floor(CHUNK_ROWS / d));
  for (let start = 0; start < n; start += perChunk) {
    const end = Math.min(n, start + perChunk);
    const occluded = score(occludedRows(rows.subarray(start * d, end * d), d, normals));
    for (let i = start; i < end; i++) {
      for (let j = 0; j < d; j++) out[i * d + j] = base[i] - occluded[(i - start) * d + j];
    }
    done?.(end);
    if (end < n) yield;
  }
  return out;
}

/** Features listed per explained row (`eval`'s JSON, `score --explain`). */
export const LISTED_FEATURES = 5;

/** Row `i`'s `k` features with the largest contributions, largest first: `[name, contribution]`. */
export function largestContributions(
  columns: string[],
  contributions: Float32Array,
  i: number,
  k: number,
): [string, number][] {
  const d = columns.length;
  return columns.map((name, j): [string, number] => [name, contributions[i * d + j]])
    .sort((a, b) => b[1] - a[1]).slice(0, k);
}

/** How well contributions point at features known to be altered. */
export interface AttributionCheck {
  /** Rows checked (each with at least one altered feature). */
  rows: number;
  /** AUROC of every checked row's contributions against its altered-feature flags. */
  auroc: number;
  /** Share of rows whose largest contribution is an altered feature. */
  top1: number;
}

/**
 * Checks contributions [n, d] against `altered` [n, d] (1 = the feature was changed): pooled
 * feature-level AUROC, as pixel AUROC is for image maps, and how often the top feature is one.
 */
export function attributionCheck(
  contributions: Float32Array,
  altered: Uint8Array,
  d: number,
): AttributionCheck {
  if (contributions.length !== altered.length) {
    throw new MadError(
      `${contributions.length} contributions for ${altered.length} altered-feature flags`,
    );
  }
  const n = contributions.length / d;
  let top = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < d; j++) {
      if (contributions[i * d + j] > contributions[i * d + best]) best = j;
    }
    top += altered[i * d + best];
  }
  return { rows: n, auroc: auroc(contributions, altered), top1: n > 0 ? top / n : NaN };
}

/**
 * Memory banks: normal feature rows stored transposed, as a coreset when there are too many, and
 * in principal directions when the features are wide.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../../rng.ts";
import { matMul2d, readTidy } from "../ops.ts";
import { span } from "../../util/profile.ts";
import { greedyCoreset } from "./coreset.ts";
import { centreRows, principalDirections } from "./linalg.ts";

/**
 * A memory bank: `rows` normal feature vectors of width `dim`, stored transposed. With a
 * projection, the stored rows are their centred coordinates in the top principal directions.
 */
export interface MemoryBank {
  /** Width of the features the bank compares (of the queries). */
  dim: number;
  rows: number;
  /** Transposed bank, row-major [width, rows]: width is `dim`, or the projection's width. */
  transposed: Float32Array;
  projection?: BankProjection;
  /**
   * Image cells compared where they lie (`knn/cells.ts`): the distance one cell step adds. Each
   * row's last two features are then its cell's row and column times this step, and `dim`
   * counts them; queries get theirs the same way before they are compared.
   */
  cellStep?: number;
  /**
   * Index of the feature row each bank row was taken from (ascending), while the bank is fresh;
   * not stored in checkpoints. Calibration uses it to leave a sample's own rows out.
   */
  sources?: Int32Array;
}

/**
 * Principal directions a bank compares wide features in. A query's squared distance to a row
 * is |q|² + |b|² - 2 q·b on centred vectors; the product is taken in the top `width` directions
 * only, while both norms stay whole, so what the directions leave out still counts in full
 * and only the product of the leftovers (small where the spectrum is steep) is dropped.
 */
export interface BankProjection {
  width: number;
  /** Mean of the training features [dim]. */
  mean: Float32Array;
  /** Orthonormal directions, row-major [dim, width]. */
  basis: Float32Array;
  /** Squared norm of each centred bank row, whole [rows]. */
  norms: Float32Array;
}

/** The principal directions of a {@linkcode BankProjection}, without its rows' norms. */
export type BankDirections = Pick<BankProjection, "width" | "mean" | "basis">;

/** The width a bank's rows are stored in. */
export function storedWidth(bank: MemoryBank): number {
  return bank.projection?.width ?? bank.dim;
}

/**
 * Most rows a coreset search looks at (a random subsample beyond). Rare normal patterns are
 * what a small random pool misses and what a coreset exists to keep, so the pool is large.
 */
const CORESET_POOL = 400_000;

/**
 * Builds a bank from row-major features [n, dim] with at most `limit` rows: all rows when they
 * fit, else a greedy k-center coreset of them (of a random pool of 400,000 when there are more),
 * or a plain random sample with `coreset: false`. With `projection` at most half of `dim`,
 * the bank compares features in that many principal directions of all the features (see
 * {@linkcode BankProjection}), or in `directions` when given (of that width and of `dim`).
 */
export function buildBank(
  features: Float32Array,
  dim: number,
  limit: number,
  rng: Rng,
  options: { coreset?: boolean; projection?: number; directions?: BankDirections } = {},
): MemoryBank {
  const n = features.length / dim;
  let keep = [...Array(n).keys()];
  if (n > limit && options.coreset === false) {
    keep = rng.shuffle(keep).slice(0, limit).sort((a, b) => a - b);
  } else if (n > limit) {
    const pool = n > CORESET_POOL
      ? rng.shuffle(keep).slice(0, CORESET_POOL).sort((a, b) => a - b)
      : keep;
    keep = span("bank: coreset", () => greedyCoreset(features, dim, pool, limit, rng))
      .sort((a, b) => a - b);
  }
  const rows = keep.length;
  const width = options.projection ?? 0;
  const sources = Int32Array.from(keep);
  // Below half the width, centring and projecting the queries costs more than the product saves.
  if (width > 0 && 2 * width <= dim) {
    const given = options.directions;
    if (given && (given.width !== width || given.mean.length !== dim)) {
      throw new Error(
        `memory bank: directions of ${given.width} x ${given.mean.length} for ${width} x ${dim}`,
      );
    }
    return { ...projectedBank(features, dim, keep, width, rng, given), sources };
  }
  const transposed = new Float32Array(dim * rows);
  keep.forEach((src, r) => {
    for (let j = 0; j < dim; j++) transposed[j * rows + r] = features[src * dim + j];
  });
  return { dim, rows, transposed, sources };
}

/** Rows the principal directions are estimated from (a random sample beyond). */
const PCA_ROWS = 20_000;

function projectedBank(
  features: Float32Array,
  dim: number,
  keep: number[],
  width: number,
  rng: Rng,
  given?: BankDirections,
): MemoryBank {
  const n = features.length / dim;
  const { mean, basis } = given ?? principalDirections(
    features,
    dim,
    width,
    n > PCA_ROWS ? rng.shuffle([...Array(n).keys()]).slice(0, PCA_ROWS) : null,
    rng,
  );
  const rows = keep.length;
  const { centred, norms } = centreRows(features, dim, mean, keep);
  const transposed = readTidy(() =>
    tf.transpose(matMul2d(tf.tensor2d(centred, [rows, dim]), tf.tensor2d(basis, [dim, width])))
  );
  return { dim, rows, transposed, projection: { width, mean, basis, norms } };
}

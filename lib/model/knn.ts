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
import { matMul2d, readTidy } from "./ops.ts";
import { rowMin } from "../backend/row_min.ts";
import { span } from "../util/profile.ts";

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

/** The width a bank's rows are stored in. */
export function storedWidth(bank: MemoryBank): number {
  return bank.projection?.width ?? bank.dim;
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
 * or a plain random sample with `coreset: false`. With `projection` at most half of `dim`,
 * the bank compares features in that many principal directions of all the features (see
 * {@linkcode BankProjection}).
 */
export function buildBank(
  features: Float32Array,
  dim: number,
  limit: number,
  rng: Rng,
  options: { coreset?: boolean; projection?: number } = {},
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
    return { ...projectedBank(features, dim, keep, width, rng), sources };
  }
  const transposed = new Float32Array(dim * rows);
  keep.forEach((src, r) => {
    for (let j = 0; j < dim; j++) transposed[j * rows + r] = features[src * dim + j];
  });
  return { dim, rows, transposed, sources };
}

/** Rows the principal directions are estimated from (a random sample beyond). */
const PCA_ROWS = 20_000;
/** Extra directions the subspace iteration carries, so the kept ones converge faster. */
const PCA_OVERSAMPLE = 8;
const PCA_ITERATIONS = 12;

function projectedBank(
  features: Float32Array,
  dim: number,
  keep: number[],
  width: number,
  rng: Rng,
): MemoryBank {
  const n = features.length / dim;
  const sample = n > PCA_ROWS ? rng.shuffle([...Array(n).keys()]).slice(0, PCA_ROWS) : null;
  const { mean, basis } = principalDirections(features, dim, width, sample, rng);
  const rows = keep.length;
  const { centred, norms } = centreRows(features, dim, mean, keep);
  const transposed = readTidy(() =>
    tf.transpose(matMul2d(tf.tensor2d(centred, [rows, dim]), tf.tensor2d(basis, [dim, width])))
  );
  return { dim, rows, transposed, projection: { width, mean, basis, norms } };
}

/** Rows of row-major features (those at `indices`, or all) minus `mean`, and their squared norms. */
function centreRows(
  features: Float32Array,
  dim: number,
  mean: Float32Array,
  indices: number[] | null = null,
): { centred: Float32Array; norms: Float32Array } {
  const n = indices ? indices.length : features.length / dim;
  const centred = new Float32Array(n * dim);
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
  const covariance = tf.tensor2d(
    readTidy(() => {
      const x = tf.tensor2d(centred, [n, dim]);
      return matMul2d(tf.transpose(x), x);
    }),
    [dim, dim],
  );
  const times = (q: Float64Array) =>
    Float64Array.from(
      readTidy(() => matMul2d(covariance, tf.tensor2d(Float32Array.from(q), [dim, k]))),
    );
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
  covariance.dispose();
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

const CHUNK = 8192;

/** Bank chunks with the distance terms folded in: [width + 1, size] = [-2·rows; |row|²]. */
function preparedChunks(bank: MemoryBank): Float32Array[] {
  const chunks: Float32Array[] = [];
  for (let start = 0; start < bank.rows; start += CHUNK) {
    const size = Math.min(CHUNK, bank.rows - start);
    const width = storedWidth(bank);
    const out = new Float32Array((width + 1) * size);
    const norms = out.subarray(width * size);
    for (let j = 0; j < width; j++) {
      const src = bank.transposed.subarray(j * bank.rows + start, j * bank.rows + start + size);
      const dst = out.subarray(j * size, (j + 1) * size);
      for (let r = 0; r < size; r++) {
        dst[r] = -2 * src[r];
        norms[r] += src[r] * src[r];
      }
    }
    // A projected row's norm is its whole length, not the part the directions keep.
    if (bank.projection) norms.set(bank.projection.norms.subarray(start, start + size));
    chunks.push(out);
  }
  return chunks;
}

/**
 * The prepared chunks as backend tensors, made once per bank: uploading them for every query
 * block cost as much as the smaller blocks save. They are freed when their bank is collected.
 */
const chunkTensors = new WeakMap<MemoryBank, tf.Tensor2D[]>();
const releaseChunks = new FinalizationRegistry<tf.Tensor2D[]>((tensors) => {
  for (const t of tensors) t.dispose();
});

function chunkTensorsOf(bank: MemoryBank): tf.Tensor2D[] {
  const cached = chunkTensors.get(bank);
  if (cached) return cached;
  const width = storedWidth(bank) + 1;
  const tensors = preparedChunks(bank).map((chunk) =>
    tf.keep(tf.tensor2d(chunk, [width, chunk.length / width]))
  );
  chunkTensors.set(bank, tensors);
  releaseChunks.register(bank, tensors);
  return tensors;
}

/**
 * Queries per product: 512 x 2,000 distances (4 MB) stay near the core's 2 MB L2 cache, where the
 * row minimum reads them back; blocks of 2,048 spilled to memory and scored 10% slower with two
 * scorers sharing it (256 and 1,024 were in between).
 */
const QUERY_BLOCK = 512;

/**
 * Mean Euclidean distance of each query row [q, dim] to its k nearest bank rows; returns [q].
 */
export function knnDistances(
  bank: MemoryBank,
  queries: Float32Array,
  k = 1,
  exclude?: Exclusion,
): Float32Array {
  if (!exclude && !bank.projection) {
    const lines = lineBlocksOf(bank);
    if (lines) return span(`knn: on lines (${lines.blocks})`, () => lineKnn(lines, queries, k));
  }
  return span(`knn: distances (${bank.dim} wide)`, () => knnScores(bank, queries, k, exclude));
}

/**
 * A bank whose rows lie on one line in each of `blocks` equal blocks of their width: the
 * feature tokens of a table (token j = value_j * a_j + b_j, `width` values each). The distance
 * between two such rows is the distance between their positions along the lines, a vector of
 * `blocks` numbers, so kNN over 6 features of 128-wide tokens needs 6 numbers a row, not 768.
 * A query off the lines adds its squared distance to them (the bank's rows have none), so the
 * distances are those of the whole rows for any query, up to rounding.
 */
export interface LineBlocks {
  blocks: number;
  /** Values per block. */
  width: number;
  /** A point of each block's line (the bank's mean) [dim]. */
  origin: Float64Array;
  /** Unit direction of each block's line [dim]. */
  direction: Float64Array;
  /** Positions of the bank's rows along the lines, row-major [rows, blocks]. */
  coords: Float64Array;
  rows: number;
}

/**
 * Off-line share allowed of a block's squared spread (float32 rounding of tokens leaves about
 * 1e-13 of it).
 */
const LINE_TOLERANCE = 1e-8;

const lineForms = new WeakMap<MemoryBank, LineBlocks | null>();

/**
 * The bank's rows as positions on per-block lines, when they lie on such lines for some split of
 * their width into equal blocks (the fewest blocks that fit, at most a quarter of the width);
 * null otherwise. Made on first use and kept as long as the bank.
 */
export function lineBlocksOf(bank: MemoryBank): LineBlocks | null {
  if (lineForms.has(bank)) return lineForms.get(bank)!;
  let found: LineBlocks | null = null;
  if (!bank.projection && bank.rows >= 2) {
    for (let blocks = 1; blocks * 4 <= bank.dim && !found; blocks++) {
      if (bank.dim % blocks === 0) found = fitLines(bank, blocks);
    }
  }
  lineForms.set(bank, found);
  return found;
}

function fitLines(bank: MemoryBank, blocks: number): LineBlocks | null {
  const { dim, rows, transposed } = bank;
  const width = dim / blocks;
  const origin = new Float64Array(dim);
  const direction = new Float64Array(dim);
  const coords = new Float64Array(rows * blocks);
  const centred = new Float64Array(rows * width);
  for (let b = 0; b < blocks; b++) {
    // Centre the block, then take its line through the row farthest from the centre.
    for (let c = 0; c < width; c++) {
      const col = transposed.subarray((b * width + c) * rows, (b * width + c + 1) * rows);
      let mean = 0;
      for (let r = 0; r < rows; r++) mean += col[r];
      mean /= rows;
      origin[b * width + c] = mean;
      for (let r = 0; r < rows; r++) centred[r * width + c] = col[r] - mean;
    }
    let far = 0;
    let farRow = 0;
    const norms = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let sq = 0;
      for (let c = 0; c < width; c++) sq += centred[r * width + c] ** 2;
      norms[r] = sq;
      if (sq > far) {
        far = sq;
        farRow = r;
      }
    }
    const u = direction.subarray(b * width, (b + 1) * width);
    if (far > 0) {
      for (let c = 0; c < width; c++) u[c] = centred[farRow * width + c] / Math.sqrt(far);
    }
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let c = 0; c < width; c++) dot += centred[r * width + c] * u[c];
      if (norms[r] - dot * dot > LINE_TOLERANCE * far) return null;
      coords[r * blocks + b] = dot;
    }
  }
  return { blocks, width, origin, direction, coords, rows };
}

/** Queries [q, dim] on lines: their positions [q, blocks] and squared distances off the lines. */
function positionsOnLines(
  lines: LineBlocks,
  queries: Float32Array,
): { coords: Float64Array; off: Float64Array } {
  const { blocks, width, origin, direction } = lines;
  const dim = blocks * width;
  const q = queries.length / dim;
  const coords = new Float64Array(q * blocks);
  const off = new Float64Array(q);
  for (let i = 0; i < q; i++) {
    let rest = 0;
    for (let b = 0; b < blocks; b++) {
      let dot = 0;
      let sq = 0;
      for (let c = b * width, end = c + width; c < end; c++) {
        const v = queries[i * dim + c] - origin[c];
        dot += v * direction[c];
        sq += v * v;
      }
      coords[i * blocks + b] = dot;
      rest += Math.max(0, sq - dot * dot);
    }
    off[i] = rest;
  }
  return { coords, off };
}

/**
 * Mean distance of each query to its k nearest bank rows, compared along the bank's lines: per
 * block of queries, one product [queries, blocks + 1] x [blocks + 1, rows] gives every squared
 * distance up to the query's own norm (as {@linkcode knnBlock} does), a scan keeps the k
 * smallest, and their distances are taken again exactly in float64.
 */
function lineKnn(lines: LineBlocks, queries: Float32Array, k: number): Float32Array {
  const { blocks, rows } = lines;
  const bankCoords = lines.coords;
  const { coords, off } = positionsOnLines(lines, queries);
  const q = off.length;
  const width = blocks + 1;
  const prepared = new Float32Array(width * rows);
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let b = 0; b < blocks; b++) {
      const v = bankCoords[r * blocks + b];
      prepared[b * rows + r] = -2 * v;
      sq += v * v;
    }
    prepared[blocks * rows + r] = sq;
  }
  const kept = Math.min(k, rows);
  const best = new Float64Array(kept);
  const which = new Int32Array(kept);
  const out = new Float32Array(q);
  const bank = tf.tensor2d(prepared, [width, rows]);
  try {
    for (let start = 0; start < q; start += QUERY_BLOCK) {
      const end = Math.min(q, start + QUERY_BLOCK);
      const augmented = new Float32Array((end - start) * width);
      for (let i = start; i < end; i++) {
        for (let b = 0; b < blocks; b++) {
          augmented[(i - start) * width + b] = coords[i * blocks + b];
        }
        augmented[(i - start) * width + blocks] = 1;
      }
      // |q - b|² - |q|² for every pair.
      const partial = readTidy(() => matMul2d(tf.tensor2d(augmented, [end - start, width]), bank));
      for (let i = start; i < end; i++) {
        const row = partial.subarray((i - start) * rows, (i - start + 1) * rows);
        best.fill(Infinity);
        let worst = Infinity;
        for (let r = 0; r < rows; r++) {
          const v = row[r];
          if (v >= worst) continue;
          let p = kept - 1;
          while (p > 0 && best[p - 1] > v) {
            best[p] = best[p - 1];
            which[p] = which[p - 1];
            p--;
          }
          best[p] = v;
          which[p] = r;
          worst = best[kept - 1];
        }
        let sum = 0;
        for (let p = 0; p < kept; p++) {
          const from = which[p] * blocks;
          let sq = off[i];
          for (let b = 0; b < blocks; b++) {
            sq += (coords[i * blocks + b] - bankCoords[from + b]) ** 2;
          }
          sum += Math.sqrt(sq);
        }
        out[i] = sum / kept;
      }
    }
  } finally {
    bank.dispose();
  }
  return out;
}

function knnScores(
  bank: MemoryBank,
  queries: Float32Array,
  k: number,
  exclude?: Exclusion,
): Float32Array {
  const q = queries.length / bank.dim;
  const out = new Float32Array(q);
  if (exclude) {
    // One sample at a time, its own bank rows pushed out of reach.
    const { rowsPerSample, samples, bankSamples } = exclude;
    if (samples.length * rowsPerSample !== q || bankSamples.length !== bank.rows) {
      throw new Error("knnDistances: exclusion does not match the queries or the bank");
    }
    for (let s = 0; s < samples.length; s++) {
      const own = bankSamples.map((b) => (b === samples[s] ? 1 : 0));
      const rows = queries.subarray(
        s * rowsPerSample * bank.dim,
        (s + 1) * rowsPerSample * bank.dim,
      );
      // A bank taken from this sample alone has nothing else to compare with: use it whole.
      const leaveOut = own.some((v) => v === 1) && own.some((v) => v === 0);
      out.set(knnBlock(bank, rows, k, leaveOut ? own : null), s * rowsPerSample);
    }
    return out;
  }
  for (let start = 0; start < q; start += QUERY_BLOCK) {
    const end = Math.min(q, start + QUERY_BLOCK);
    out.set(knnBlock(bank, queries.subarray(start * bank.dim, end * bank.dim), k, null), start);
  }
  return out;
}

/**
 * Which bank rows each query may not match: queries come in groups of `rowsPerSample` (the cells
 * of one image), group s belongs to sample `samples[s]`, bank row r to sample `bankSamples[r]`
 * (-1 for none). A sample's queries skip the rows taken from that sample: a leave-one-out score.
 */
export interface Exclusion {
  rowsPerSample: number;
  samples: Int32Array;
  bankSamples: Int32Array;
}

/** Large enough to lose every minimum, small enough to stay finite in float32 sums. */
const EXCLUDED = 1e30;

function knnBlock(
  bank: MemoryBank,
  queries: Float32Array,
  k: number,
  excluded: Int32Array | null,
): Float32Array {
  const dim = bank.dim;
  const q = queries.length / dim;
  const projection = bank.projection;
  const width = storedWidth(bank);
  const augmented = new Float32Array(q * (width + 1));
  let queryNorms: Float32Array;
  if (projection) {
    // The bank is centred, so the queries are too, then projected on its directions.
    const centred = centreRows(queries, dim, projection.mean);
    queryNorms = centred.norms;
    const projected = readTidy(() =>
      matMul2d(tf.tensor2d(centred.centred, [q, dim]), tf.tensor2d(projection.basis, [dim, width]))
    );
    for (let i = 0; i < q; i++) {
      augmented.set(projected.subarray(i * width, (i + 1) * width), i * (width + 1));
    }
  } else {
    queryNorms = new Float32Array(q);
    for (let i = 0; i < q; i++) {
      const row = queries.subarray(i * dim, (i + 1) * dim);
      augmented.set(row, i * (dim + 1));
      let s = 0;
      for (let j = 0; j < dim; j++) s += row[j] * row[j];
      queryNorms[i] = s;
    }
  }
  for (let i = 0; i < q; i++) augmented[i * (width + 1) + width] = 1;
  return readTidy(() => {
    const query = tf.tensor2d(augmented, [q, width + 1]);
    const best: tf.Tensor[] = [];
    let offset = 0;
    for (const chunk of chunkTensorsOf(bank)) {
      const size = chunk.shape[1];
      // |q - b|² - |q|² for every pair, in one product.
      let partial = matMul2d(query, chunk);
      if (excluded) {
        const penalty = Float32Array.from(
          excluded.subarray(offset, offset + size),
          (v) => v * EXCLUDED,
        );
        partial = partial.add(tf.tensor2d(penalty, [1, size]));
      }
      offset += size;
      // A plain minimum is far cheaper than top-k on wasm (ours cheaper still), and k = 1 is the
      // common case.
      best.push(
        k === 1 ? rowMin(partial) : tf.neg(tf.topk(tf.neg(partial), Math.min(k, size)).values),
      );
    }
    const all = best.length === 1 ? best[0] : tf.concat(best, 1);
    const kept = Math.min(k, bank.rows);
    const nearest = all.shape[1] === kept
      ? all
      : k === 1
      ? rowMin(all as tf.Tensor2D)
      : tf.neg(tf.topk(tf.neg(all), kept).values);
    const squared = nearest.add(tf.tensor2d(queryNorms, [q, 1]));
    return tf.sqrt(tf.relu(squared)).mean(1);
  });
}

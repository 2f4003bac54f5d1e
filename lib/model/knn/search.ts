/**
 * Nearest-neighbour search against a memory bank: one untransposed 2-D matmul per bank chunk
 * (the wasm backend's fast path) with the bank stored pre-multiplied, so the product is the
 * distance up to a per-query constant and only a row minimum (or top-k) follows it; and an exact
 * search for narrow rows (a table's feature positions), by a k-d tree where it pays.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul2d, readTidy } from "../ops.ts";
import { readInto } from "../../backend/wasm_memory.ts";
import { rowMin } from "../../backend/row_min.ts";
import { span } from "../../util/profile.ts";
import { type MemoryBank, storedWidth } from "./bank.ts";
import { centreRows } from "./linalg.ts";
import { buildKdTree, type KdTree, kdTreeKnn } from "./kd_tree.ts";

const CHUNK = 8192;

/**
 * Scratch memory reused by every search of this thread: the blocks of distances read back from
 * the backend and the centred queries. A fresh buffer per block had its pages faulted in anew
 * each time, which on the 2-core VM measured cost 4 to 5 ms per MB, more than the products
 * whose results they hold (docs/performance.md, tables at scale).
 */
const scratch = { distances: new Float32Array(0), centred: new Float32Array(0) };

/** The first `length` floats of scratch buffer `name`, grown when short (valid until reused). */
function scratchOf(name: keyof typeof scratch, length: number): Float32Array {
  if (scratch[name].length < length) scratch[name] = new Float32Array(length);
  return scratch[name].subarray(0, length);
}

/** The values of the tensor `fn` makes, in the distances scratch buffer. */
function readDistances(fn: () => tf.Tensor): Float32Array {
  const t = tf.tidy(fn);
  try {
    const out = scratchOf("distances", t.size);
    readInto(t, out);
    return out;
  } finally {
    t.dispose();
  }
}

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
 * Mean Euclidean distance of each query row [q, dim] (or rows projected on the bank's directions
 * before, {@linkcode projectQueries}) to its k nearest bank rows; returns [q].
 */
export function knnDistances(
  bank: MemoryBank,
  queries: Float32Array | ProjectedQueries,
  k = 1,
  exclude?: Exclusion,
): Float32Array {
  const width = bank.projection ? ` in ${bank.projection.width} directions` : "";
  return span(
    `knn: distances (${bank.dim} wide${width})`,
    () => knnScores(bank, queries, k, exclude),
  );
}

/**
 * Mean distance of each query row [q, dim] to its k nearest bank rows, taken exactly: by a k-d
 * tree where it pays (`kd_tree.ts`, settled per bank on its first queries), else candidates by
 * one BLAS product per block of queries and a scan (as {@linkcode knnScores}), then the k
 * distances again in float64 from the rows themselves. For narrow rows (a table's feature
 * positions, `evidence/table_knn.ts`), where float32's |q|² + |b|² - 2 q·b loses the nearest
 * neighbours of a row among its near duplicates. A bank compared in principal directions has no
 * rows to take them from.
 *
 * @throws {Error} for a bank compared in principal directions.
 */
export function knnDistancesExact(bank: MemoryBank, queries: Float32Array, k = 1): Float32Array {
  if (bank.projection) throw new Error("knnDistancesExact: the bank compares its rows projected");
  return span(`knn: exact (${bank.dim} wide)`, () => exactNearest(bank, queries, k));
}

/** A bank's rows in float64, row-major [rows, dim], made on first use and kept with the bank. */
const exactRows = new WeakMap<MemoryBank, Float64Array>();

function rowsInFloat64(bank: MemoryBank): Float64Array {
  let rows = exactRows.get(bank);
  if (!rows) {
    const { dim, rows: n, transposed } = bank;
    rows = new Float64Array(n * dim);
    for (let j = 0; j < dim; j++) {
      for (let r = 0; r < n; r++) rows[r * dim + j] = transposed[j * n + r];
    }
    exactRows.set(bank, rows);
  }
  return rows;
}

/**
 * The k smallest of values seen so far and where they were, for each of `slots` queries: a scan
 * that skips, with one comparison, every value no smaller than the k-th smallest yet (nearly all
 * of a row of distances once the first few hundred are seen), which is cheaper than tfjs's top-k.
 * One set of arrays for every query of a block (slot i's k values from i * k): an object of two
 * small arrays per query cost as much as the scans at 100,000 rows.
 */
class SmallestK {
  readonly best: Float64Array;
  readonly which: Int32Array;
  readonly #worst: Float64Array;

  constructor(readonly k: number, slots = 1) {
    this.best = new Float64Array(k * slots).fill(Infinity);
    this.which = new Int32Array(k * slots);
    this.#worst = new Float64Array(slots).fill(Infinity);
  }

  /** Takes `values[from .. from + count)` in for query `slot`, as positions `offset ..`. */
  scan(slot: number, values: Float32Array, from: number, count: number, offset: number): void {
    const { best, which, k } = this;
    const base = slot * k;
    const last = base + k - 1;
    let worst = this.#worst[slot];
    for (let r = 0; r < count; r++) {
      const v = values[from + r];
      if (v >= worst) continue;
      let p = last;
      while (p > base && best[p - 1] > v) {
        best[p] = best[p - 1];
        which[p] = which[p - 1];
        p--;
      }
      best[p] = v;
      which[p] = offset + r;
      worst = best[last];
    }
    this.#worst[slot] = worst;
  }
}

/** Widest rows a k-d tree is tried on: at 16 i.i.d. coordinates it read nearly every bank row. */
const KD_TREE_MAX_DIM = 16;

/** Queries that try the tree before a bank's search is settled. */
const KD_TREE_PROBE = 256;

/**
 * Per bank, the k-d tree when it pays, or null when the products do. Settled once, on the first
 * queries searched: the tree is kept when the coordinates it read a query (rows visited x width)
 * were at most half the bank's rows. A product costs about 2.5 ns per bank row whatever the width,
 * the tree about 2 ns per coordinate of each row it visits, so the half leaves a margin (20,000
 * rows: 6 i.i.d. normal coordinates 16 against 46 µs a query, 8 coordinates 78 against 46;
 * docs/performance.md, "The table kNN's exact search by a k-d tree").
 */
const kdTrees = new WeakMap<MemoryBank, KdTree | null>();

function exactNearest(bank: MemoryBank, queries: Float32Array, k: number): Float32Array {
  const { dim, rows } = bank;
  const q = queries.length / dim;
  const out = new Float32Array(q);
  let from = 0;
  if (dim <= KD_TREE_MAX_DIM && q > 0 && !kdTrees.has(bank)) {
    const tree = buildKdTree(rowsInFloat64(bank), rows, dim);
    from = Math.min(q, KD_TREE_PROBE);
    const probe = kdTreeKnn(tree, queries.subarray(0, from * dim), k);
    out.set(probe.scores);
    const pays = probe.visited * dim <= (from * rows) / 2;
    kdTrees.set(bank, pays ? tree : null);
    // The tree holds its own copy of the rows; the products' float64 rows are no longer read.
    if (pays) exactRows.delete(bank);
  }
  const tree = kdTrees.get(bank);
  if (tree) {
    out.set(kdTreeKnn(tree, queries.subarray(from * dim), k).scores, from);
    return out;
  }
  const exact = rowsInFloat64(bank);
  const kept = Math.min(k, rows);
  for (let start = from; start < q; start += QUERY_BLOCK) {
    const end = Math.min(q, start + QUERY_BLOCK);
    const { augmented } = augmentedQueries(bank, queries.subarray(start * dim, end * dim));
    const { which } = nearestRows(bank, augmented, end - start, kept, null);
    for (let i = start; i < end; i++) {
      let sum = 0;
      for (let p = (i - start) * kept; p < (i - start + 1) * kept; p++) {
        const row = which[p] * dim;
        let sq = 0;
        for (let j = 0; j < dim; j++) sq += (queries[i * dim + j] - exact[row + j]) ** 2;
        sum += Math.sqrt(sq);
      }
      out[i] = sum / kept;
    }
  }
  return out;
}

function knnScores(
  bank: MemoryBank,
  queries: Float32Array | ProjectedQueries,
  k: number,
  exclude?: Exclusion,
): Float32Array {
  const blocks = queryBlocks(bank, queries);
  const q = blocks.count;
  const out = new Float32Array(q);
  if (exclude) {
    if (!(queries instanceof Float32Array)) {
      throw new Error("knnDistances: leave-one-out scoring takes the query rows themselves");
    }
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
      out.set(
        knnBlock(bank, augmentedQueries(bank, rows), k, leaveOut ? own : null),
        s * rowsPerSample,
      );
    }
    return out;
  }
  for (let start = 0; start < q; start += QUERY_BLOCK) {
    const end = Math.min(q, start + QUERY_BLOCK);
    out.set(knnBlock(bank, blocks.block(start, end), k, null), start);
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
  { augmented, queryNorms }: AugmentedQueries,
  k: number,
  excluded: Int32Array | null,
): Float32Array {
  const q = queryNorms.length;
  if (k > 1) return nearestMeans(bank, augmented, queryNorms, k, excluded);
  const width = storedWidth(bank);
  return readTidy(() => {
    const query = tf.tensor2d(augmented, [q, width + 1]);
    const best: tf.Tensor[] = [];
    let offset = 0;
    for (const chunk of chunkTensorsOf(bank)) {
      const size = chunk.shape[1];
      // |q - b|² - |q|² for every pair, in one product; a plain minimum is far cheaper than
      // top-k on wasm (ours cheaper still).
      best.push(rowMin(penalised(matMul2d(query, chunk), excluded, offset)));
      offset += size;
    }
    const nearest = best.length === 1 ? best[0] : rowMin(tf.concat(best, 1) as tf.Tensor2D);
    const squared = nearest.add(tf.tensor2d(queryNorms, [q, 1]));
    return tf.sqrt(tf.relu(squared)).mean(1);
  });
}

/**
 * Queries as the bank's chunks multiply them: each row in the bank's stored width (centred and
 * projected when the bank is) with a 1 appended, so that one product with a prepared chunk gives
 * |q - b|² - |q|² ([q, width + 1]); and |q|², whole ([q]).
 */
interface AugmentedQueries {
  augmented: Float32Array;
  queryNorms: Float32Array;
}

/**
 * Queries [q, dim] as {@linkcode AugmentedQueries} for `bank`, the rows written into `augmented`
 * (every value of it) when given.
 */
function augmentedQueries(
  bank: MemoryBank,
  queries: Float32Array,
  augmented = new Float32Array(queries.length / bank.dim * (storedWidth(bank) + 1)),
): AugmentedQueries {
  const dim = bank.dim;
  const q = queries.length / dim;
  const projection = bank.projection;
  const width = storedWidth(bank);
  let queryNorms: Float32Array;
  if (projection) {
    // The bank is centred, so the queries are too, then projected on its directions.
    const centred = centreRows(queries, dim, projection.mean, null, scratchOf("centred", q * dim));
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
  return { augmented, queryNorms };
}

/**
 * Query rows already centred and projected on a bank's principal directions, with their whole
 * squared lengths ({@linkcode projectQueries}): every bank fitted in the same directions (`enc`
 * and `enc_kde` of a table) searches with them, so the projection, a product as wide as a row's
 * tokens, is made once.
 */
export interface ProjectedQueries {
  /** The directions they are in: the projection's `mean` and `basis` arrays themselves. */
  mean: Float32Array;
  basis: Float32Array;
  /** The rows, as the bank's chunks multiply them. */
  rows: AugmentedQueries;
}

/**
 * The query rows [q, dim] in a projected bank's directions, for {@linkcode knnDistances} and
 * {@linkcode squaredDistanceBlocks} of any bank with the same directions.
 *
 * @throws {Error} for a bank compared whole.
 */
export function projectQueries(bank: MemoryBank, queries: Float32Array): ProjectedQueries {
  const projection = bank.projection;
  if (!projection) throw new Error("projectQueries: the bank compares its rows whole");
  const q = queries.length / bank.dim;
  const width = projection.width + 1;
  const whole = { augmented: new Float32Array(q * width), queryNorms: new Float32Array(q) };
  // A block at a time, so that the centred copy stays the size of one block.
  for (let start = 0; start < q; start += QUERY_BLOCK) {
    const end = Math.min(q, start + QUERY_BLOCK);
    const block = augmentedQueries(
      bank,
      queries.subarray(start * bank.dim, end * bank.dim),
      whole.augmented.subarray(start * width, end * width),
    );
    whole.queryNorms.set(block.queryNorms, start);
  }
  return { mean: projection.mean, basis: projection.basis, rows: whole };
}

/** How many query rows `queries` holds, for `bank`. */
export function queryCount(bank: MemoryBank, queries: Float32Array | ProjectedQueries): number {
  return queries instanceof Float32Array
    ? queries.length / bank.dim
    : queries.rows.queryNorms.length;
}

/**
 * The queries' count, and rows start .. end of them as `bank`'s chunks multiply them: made
 * from raw rows a block at a time, or read from rows projected before.
 *
 * @throws {Error} when projected queries are in other directions than the bank's.
 */
function queryBlocks(
  bank: MemoryBank,
  queries: Float32Array | ProjectedQueries,
): { count: number; block: (start: number, end: number) => AugmentedQueries } {
  if (queries instanceof Float32Array) {
    return {
      count: queryCount(bank, queries),
      block: (start, end) =>
        augmentedQueries(bank, queries.subarray(start * bank.dim, end * bank.dim)),
    };
  }
  if (queries.mean !== bank.projection?.mean || queries.basis !== bank.projection.basis) {
    throw new Error("memory bank: the queries were projected on other directions");
  }
  const width = bank.projection.width + 1;
  const { augmented, queryNorms } = queries.rows;
  return {
    count: queryCount(bank, queries),
    block: (start, end) => ({
      augmented: augmented.subarray(start * width, end * width),
      queryNorms: queryNorms.subarray(start, end),
    }),
  };
}

/**
 * Squared distances of query rows [q, dim] to every bank row, {@linkcode QUERY_BLOCK} queries at
 * a time: `visit(start, count, squared)` gets queries start .. start + count as [count, rows]
 * (never below 0; the array is reused once `visit` returns). For readings of the whole bank,
 * such as a kernel density, rather than of its nearest rows.
 */
export function squaredDistanceBlocks(
  bank: MemoryBank,
  queries: Float32Array | ProjectedQueries,
  visit: (start: number, count: number, squared: Float32Array) => void,
): void {
  const blocks = queryBlocks(bank, queries);
  const q = blocks.count;
  const rows = bank.rows;
  const chunks = chunkTensorsOf(bank);
  // A bank of one chunk (every bank of up to 8,192 rows) is read where its product lands.
  const all = chunks.length > 1 ? new Float32Array(Math.min(q, QUERY_BLOCK) * rows) : null;
  for (let start = 0; start < q; start += QUERY_BLOCK) {
    const count = Math.min(QUERY_BLOCK, q - start);
    const { augmented, queryNorms } = blocks.block(start, start + count);
    const query = tf.tensor2d(augmented, [count, augmented.length / count]);
    let out: Float32Array | null = all;
    try {
      let offset = 0;
      for (const chunk of chunks) {
        const size = chunk.shape[1];
        const partial = readDistances(() => matMul2d(query, chunk));
        out ??= partial;
        for (let i = 0; i < count; i++) {
          const norm = queryNorms[i];
          for (let r = 0; r < size; r++) {
            out[i * rows + offset + r] = Math.max(0, partial[i * size + r] + norm);
          }
        }
        offset += size;
      }
    } finally {
      query.dispose();
    }
    visit(start, count, out!.subarray(0, count * rows));
  }
}

/** `partial` [q, size] with the excluded bank rows from `offset` on pushed out of reach. */
function penalised(partial: tf.Tensor2D, excluded: Int32Array | null, offset: number): tf.Tensor2D {
  if (!excluded) return partial;
  const size = partial.shape[1];
  const penalty = Float32Array.from(excluded.subarray(offset, offset + size), (v) => v * EXCLUDED);
  return partial.add(tf.tensor2d(penalty, [1, size]));
}

/**
 * Mean distance of each query (`augmented` [q, width + 1], see knnBlock) to its k nearest bank
 * rows, from the products' distances.
 */
function nearestMeans(
  bank: MemoryBank,
  augmented: Float32Array,
  queryNorms: Float32Array,
  k: number,
  excluded: Int32Array | null,
): Float32Array {
  const q = queryNorms.length;
  const kept = Math.min(k, bank.rows);
  const { best } = nearestRows(bank, augmented, q, kept, excluded);
  const out = new Float32Array(q);
  for (let i = 0; i < q; i++) {
    let sum = 0;
    for (let p = i * kept; p < (i + 1) * kept; p++) {
      sum += Math.sqrt(Math.max(0, best[p] + queryNorms[i]));
    }
    out[i] = sum / kept;
  }
  return out;
}

/**
 * The `kept` nearest bank rows of each of q queries (`augmented` [q, width + 1], see knnBlock):
 * each chunk's product read back and scanned for the smallest (see {@linkcode SmallestK}), query
 * i's in slots i * kept on, with |q - b|² - |q|².
 */
function nearestRows(
  bank: MemoryBank,
  augmented: Float32Array,
  q: number,
  kept: number,
  excluded: Int32Array | null,
): SmallestK {
  const width = augmented.length / q;
  const smallest = new SmallestK(kept, q);
  const query = tf.tensor2d(augmented, [q, width]);
  try {
    let offset = 0;
    for (const chunk of chunkTensorsOf(bank)) {
      const size = chunk.shape[1];
      const partial = readDistances(() => penalised(matMul2d(query, chunk), excluded, offset));
      for (let i = 0; i < q; i++) smallest.scan(i, partial, i * size, size, offset);
      offset += size;
    }
  } finally {
    query.dispose();
  }
  return smallest;
}

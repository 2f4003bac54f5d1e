/**
 * Exact k-nearest search of narrow rows by a k-d tree: the bank's rows split, level by level, at
 * the median of their widest coordinate, and a query visits only the leaves that can still hold a
 * nearer row than its k-th nearest so far. A table's feature positions are a few numbers a row
 * (`evidence/table_knn.ts`), where one BLAS product per block of queries spends nearly all its
 * time writing and scanning a distance to every bank row (with 20,000 bank rows, 80 KB a query);
 * the tree reads a few leaves instead. Distances are taken in float64, so the k nearest are exact.
 *
 * @module
 */

/** Rows a leaf holds at most (not tuned; k-d trees commonly keep 8 to 32). */
const LEAF_ROWS = 16;

/** A k-d tree over n rows of `dim` float64 coordinates (row-major), built once per bank. */
export interface KdTree {
  readonly dim: number;
  /** The rows, reordered so that every node's rows are contiguous. */
  readonly rows: Float64Array;
  /** Per node: the first row and one past its last. */
  readonly start: Int32Array;
  readonly end: Int32Array;
  /** Per inner node: the coordinate it splits on (-1 for a leaf) and the split value. */
  readonly axis: Int32Array;
  readonly split: Float64Array;
  /** Per inner node: its children (the lower half, then the upper). */
  readonly lower: Int32Array;
  readonly upper: Int32Array;
}

/** Builds the tree of `n` rows of `dim` coordinates, row-major. */
export function buildKdTree(data: Float64Array, n: number, dim: number): KdTree {
  const order = new Int32Array(n).map((_, i) => i);
  // A split leaves more than LEAF_ROWS / 2 rows on each side, so there are at most that many
  // leaves per LEAF_ROWS / 2 rows, and one inner node fewer than leaves.
  const capacity = 2 * Math.ceil(n / (LEAF_ROWS / 2)) + 1;
  const start = new Int32Array(capacity);
  const end = new Int32Array(capacity);
  const axis = new Int32Array(capacity).fill(-1);
  const split = new Float64Array(capacity);
  const lower = new Int32Array(capacity);
  const upper = new Int32Array(capacity);
  let nodes = 0;
  const key = (i: number, j: number) => data[order[i] * dim + j];
  const swap = (a: number, b: number) => {
    const t = order[a];
    order[a] = order[b];
    order[b] = t;
  };
  // Quickselect: order[lo..hi) partitioned so that position `m` holds its sorted value on `j`.
  const select = (lo: number, hi: number, m: number, j: number) => {
    let l = lo, h = hi - 1;
    while (l < h) {
      const pivot = key((l + h) >> 1, j);
      let a = l, b = h;
      while (a <= b) {
        while (key(a, j) < pivot) a++;
        while (key(b, j) > pivot) b--;
        if (a <= b) swap(a++, b--);
      }
      if (m <= b) h = b;
      else if (m >= a) l = a;
      else return;
    }
  };
  const build = (lo: number, hi: number): number => {
    const node = nodes++;
    start[node] = lo;
    end[node] = hi;
    if (hi - lo <= LEAF_ROWS) return node;
    let widest = 0, spread = -1;
    for (let j = 0; j < dim; j++) {
      let min = Infinity, max = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = key(i, j);
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (max - min > spread) {
        spread = max - min;
        widest = j;
      }
    }
    // Rows that all coincide stay one leaf, however many.
    if (spread <= 0) return node;
    const m = (lo + hi) >> 1;
    select(lo, hi, m, widest);
    axis[node] = widest;
    split[node] = key(m, widest);
    lower[node] = build(lo, m);
    upper[node] = build(m, hi);
    return node;
  };
  build(0, n);
  const rows = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    rows.set(data.subarray(order[i] * dim, (order[i] + 1) * dim), i * dim);
  }
  return { dim, rows, start, end, axis, split, lower, upper };
}

/**
 * Mean Euclidean distance of each query row [q, dim] to its k nearest rows of the tree (all of
 * them when it has fewer), exactly, in `scores` [q]; `visited` counts the rows whose distance was
 * taken, which says whether the tree pays on these rows (many coordinates spread alike leave
 * little to prune).
 */
export function kdTreeKnn(
  tree: KdTree,
  queries: Float32Array,
  k: number,
): { scores: Float32Array; visited: number } {
  const { dim, rows } = tree;
  const n = rows.length / dim;
  const kept = Math.min(k, n);
  const q = queries.length / dim;
  const out = new Float32Array(q);
  // The kept squared distances, ascending; the last is the bound a subtree must beat.
  const best = new Float64Array(kept);
  const point = new Float64Array(dim);
  let visited = 0;
  const visit = (node: number) => {
    const j = tree.axis[node];
    if (j < 0) {
      visited += tree.end[node] - tree.start[node];
      for (let r = tree.start[node]; r < tree.end[node]; r++) {
        let sq = 0;
        for (let c = 0, o = r * dim; c < dim; c++) {
          const d = point[c] - rows[o + c];
          sq += d * d;
        }
        if (sq >= best[kept - 1]) continue;
        let p = kept - 1;
        while (p > 0 && best[p - 1] > sq) {
          best[p] = best[p - 1];
          p--;
        }
        best[p] = sq;
      }
      return;
    }
    const gap = point[j] - tree.split[node];
    visit(gap < 0 ? tree.lower[node] : tree.upper[node]);
    if (gap * gap < best[kept - 1]) visit(gap < 0 ? tree.upper[node] : tree.lower[node]);
  };
  for (let i = 0; i < q; i++) {
    for (let c = 0; c < dim; c++) point[c] = queries[i * dim + c];
    best.fill(Infinity);
    visit(0);
    let sum = 0;
    for (let p = 0; p < kept; p++) sum += Math.sqrt(best[p]);
    out[i] = sum / kept;
  }
  return { scores: out, visited };
}

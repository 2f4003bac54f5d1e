/**
 * Isolation evidence for tables (Liu, Ting and Zhou, "Isolation Forest", 2008): random
 * axis-aligned splits of small samples of the normal rows isolate a rare row in fewer splits
 * than an ordinary one. Where the kNN and density components ask how far a row is from the
 * normals, this one asks how few thresholds on single features set it apart, so a value just
 * beyond what any normal row has on one feature counts even when the row is close elsewhere.
 *
 * The forest is a function of a memory bank of normal rows and a fixed seed, so it is grown
 * again (in milliseconds) wherever the bank is loaded and never needs storing.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import type { MemoryBank } from "./knn.ts";
import { span } from "../bench/profile.ts";

/** How a forest is grown: its number of trees and the rows each tree is grown from. */
export interface ForestShape {
  trees: number;
  sample: number;
}

/**
 * 200 trees on samples of 256 rows (the paper's sample size): the forest of checkpoints saved
 * before the shape was a setting.
 */
export const CLASSIC_FOREST: ForestShape = { trees: 200, sample: 256 };
const ISOLATION_SEED = 20080815;

/**
 * Average path length of an unsuccessful search in a binary search tree of n rows: what the
 * remaining depth of a leaf holding n rows would have been, had the tree grown on.
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  const harmonic = Math.log(n - 1) + 0.5772156649015329;
  return 2 * harmonic - (2 * (n - 1)) / n;
}

/** One tree, node 0 the root; a leaf has feature -1 and holds its depth plus the path it cut. */
export interface IsolationTree {
  /** The feature a node splits on, -1 for a leaf. */
  feature: Int32Array;
  /** Values below it go left, the rest right. */
  threshold: Float32Array;
  /** Index of the left child (the right one follows it); for a leaf, unused. */
  left: Int32Array;
  /** For a leaf: its depth plus the average path length of the rows it holds. */
  leafPath: Float32Array;
}

/** A grown forest and the path length that scales its scores. */
export interface IsolationForest {
  /** Features of a row. */
  dim: number;
  /** The trees, each grown on its own sample of the bank. */
  trees: IsolationTree[];
  /** Average path length of a tree's sample: a path this long scores 0.5. */
  norm: number;
}

/**
 * Grows a forest of `shape.trees` trees on the rows of a bank ([dim, rows] transposed), each
 * tree on a random sample of `shape.sample` rows (all of them when the bank holds fewer), to
 * the depth at which a tree of that many rows would be balanced.
 *
 * @throws {Error} for a projected bank or one of fewer than two rows.
 */
export function growForest(
  bank: MemoryBank,
  shape: ForestShape = CLASSIC_FOREST,
  seed = ISOLATION_SEED,
): IsolationForest {
  if (bank.projection) throw new Error("growForest: a projected bank has no rows to split");
  const { dim, rows, transposed } = bank;
  if (rows < 2) throw new Error("growForest: needs at least two normal rows");
  const trees = shape.trees;
  const sample = Math.min(shape.sample, rows);
  const heightLimit = Math.ceil(Math.log2(sample));
  const rng = new Rng(seed);
  const value = (row: number, j: number) => transposed[j * rows + row];
  const forest: IsolationTree[] = [];
  for (let t = 0; t < trees; t++) {
    const chosen = rng.shuffle([...Array(rows).keys()]).slice(0, sample);
    const nodes = 2 * sample - 1;
    const tree: IsolationTree = {
      feature: new Int32Array(nodes).fill(-1),
      threshold: new Float32Array(nodes),
      left: new Int32Array(nodes),
      leafPath: new Float32Array(nodes),
    };
    let used = 1;
    const grow = (node: number, members: number[], depth: number) => {
      const split = depth < heightLimit && members.length > 1
        ? randomSplit(members, dim, value, rng)
        : null;
      if (!split) {
        tree.leafPath[node] = depth + averagePathLength(members.length);
        return;
      }
      const left = used;
      used += 2;
      tree.feature[node] = split.feature;
      tree.threshold[node] = split.threshold;
      tree.left[node] = left;
      const below = members.filter((r) => value(r, split.feature) < split.threshold);
      const above = members.filter((r) => value(r, split.feature) >= split.threshold);
      grow(left, below, depth + 1);
      grow(left + 1, above, depth + 1);
    };
    grow(0, chosen, 0);
    forest.push(tree);
  }
  return { dim, trees: forest, norm: averagePathLength(sample) };
}

/**
 * A random feature on which the members differ (features tried in random order) and a
 * threshold uniform between its smallest and largest value there, or null when every feature
 * is constant on them.
 */
function randomSplit(
  members: number[],
  dim: number,
  value: (row: number, j: number) => number,
  rng: Rng,
): { feature: number; threshold: number } | null {
  for (const feature of rng.shuffle([...Array(dim).keys()])) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of members) {
      const v = value(r, feature);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi > lo)) continue;
    // float32 may round a threshold onto the minimum, which would send every member right.
    const threshold = Math.fround(rng.uniform(lo, hi));
    return { feature, threshold: threshold > lo ? threshold : hi };
  }
  return null;
}

/**
 * Isolation scores of query rows [q, dim] (row-major): 2^(-E[h]/c), E[h] the mean path length
 * over the trees and c that of a tree's sample; about 0.5 for ordinary rows, towards 1 for
 * rows isolated near the root. Returns [q].
 */
export function isolationScores(forest: IsolationForest, queries: Float32Array): Float32Array {
  return span("iso: score", () => forestScores(forest, queries));
}

function forestScores(forest: IsolationForest, queries: Float32Array): Float32Array {
  const { dim, trees, norm } = forest;
  const q = queries.length / dim;
  // One tree at a time over every row: its few nodes stay in cache while the rows stream past.
  const paths = new Float64Array(q);
  for (const { feature, threshold, left, leafPath } of trees) {
    for (let i = 0, row = 0; i < q; i++, row += dim) {
      let node = 0;
      while (feature[node] >= 0) {
        node = left[node] + (queries[row + feature[node]] < threshold[node] ? 0 : 1);
      }
      paths[i] += leafPath[node];
    }
  }
  const out = new Float32Array(q);
  for (let i = 0; i < q; i++) out[i] = 2 ** (-(paths[i] / trees.length) / norm);
  return out;
}

const forests = new WeakMap<MemoryBank, Map<string, IsolationForest>>();

/** The forest of a bank in a shape, grown on first use and kept as long as the bank. */
export function forestOf(bank: MemoryBank, shape: ForestShape = CLASSIC_FOREST): IsolationForest {
  let byShape = forests.get(bank);
  if (!byShape) {
    byShape = new Map();
    forests.set(bank, byShape);
  }
  const key = `${shape.trees}x${shape.sample}`;
  let forest = byShape.get(key);
  if (!forest) {
    forest = span("iso: grow", () => growForest(bank, shape));
    byShape.set(key, forest);
  }
  return forest;
}

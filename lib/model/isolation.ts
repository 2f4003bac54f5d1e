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
import { span } from "../util/profile.ts";

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
  const identity = Int32Array.from({ length: rows }, (_, i) => i);
  const order = new Int32Array(rows);
  for (let t = 0; t < trees; t++) {
    // rng.shuffle of 0..rows-1 (the same draws, the same order) on a reused typed array.
    order.set(identity);
    for (let i = rows - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const swap = order[i];
      order[i] = order[j];
      order[j] = swap;
    }
    const chosen = Array.from(order.subarray(0, sample));
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
 * rows isolated near the root. Returns [q]. The trees are read in a complete form of one
 * depth; `walk` walks them as grown instead (the same scores, for tests).
 */
export function isolationScores(
  forest: IsolationForest,
  queries: Float32Array,
  options: { walk?: boolean } = {},
): Float32Array {
  return span("iso: score", () => forestScores(forest, queries, options.walk ?? false));
}

function forestScores(forest: IsolationForest, queries: Float32Array, walk: boolean): Float32Array {
  const { dim, trees, norm } = forest;
  const q = queries.length / dim;
  const complete = walk ? null : completeFormOf(forest);
  if (complete) {
    // Every path is `depth` steps long, with no test for leaves on the way: the same leaves as
    // below, found without a branch the processor has to guess.
    const paths = new Float64Array(q);
    const nodes = new Int32Array(Math.min(q, LEVEL_BLOCK));
    for (let from = 0; from < q; from += LEVEL_BLOCK) {
      const size = Math.min(q, from + LEVEL_BLOCK) - from;
      for (let t = 0; t < trees.length; t++) {
        walkBlock(complete, t, queries, dim, from, size, nodes, paths);
      }
    }
    const out = new Float32Array(q);
    for (let i = 0; i < q; i++) out[i] = 2 ** (-(paths[i] / trees.length) / norm);
    return out;
  }
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

/**
 * Adds tree `t`'s path length of rows `from .. from + size` to `paths`, level by level over the
 * block: each row's next step does not wait on the one before it, so the processor overlaps many
 * rows' loads. A function of its own, called per tree and block, so that V8 optimises it as a
 * whole: as loops inside one long call it ran in on-stack-replaced code that deoptimised on
 * leaving the inner loop, and every few calls a whole scoring chunk ran 8x slower.
 */
function walkBlock(
  complete: CompleteForest,
  t: number,
  queries: Float32Array,
  dim: number,
  from: number,
  size: number,
  nodes: Int32Array,
  paths: Float64Array,
): void {
  const { depth, feature, threshold, leafPath } = complete;
  const inner = (1 << depth) - 1;
  const at = t * inner;
  nodes.fill(0, 0, size);
  for (let level = 0; level < depth; level++) {
    for (let i = 0, row = from * dim; i < size; i++, row += dim) {
      const node = nodes[i];
      const k = at + node;
      nodes[i] = 2 * node + 1 + Number(!(queries[row + feature[k]] < threshold[k]));
    }
  }
  const leaves = t * (inner + 1) - inner;
  for (let i = 0; i < size; i++) paths[from + i] += leafPath[leaves + nodes[i]];
}

/**
 * A forest's trees as complete binary trees of one depth (heap order: node n's children are
 * 2n + 1 and 2n + 2): a leaf above the bottom becomes a subtree whose every leaf holds its path.
 */
interface CompleteForest {
  depth: number;
  /** [trees, 2^depth - 1] split features and thresholds of the inner nodes. */
  feature: Int32Array;
  threshold: Float32Array;
  /** [trees, 2^depth] path of each bottom leaf. */
  leafPath: Float32Array;
}

/** Rows walked level by level together (their nodes and values stay in the L1 cache). */
const LEVEL_BLOCK = 1024;

/** Deepest complete form kept (2^12 leaves a tree); deeper forests are walked as grown. */
const MAX_COMPLETE_DEPTH = 12;

const completeForms = new WeakMap<IsolationForest, CompleteForest | null>();

function completeFormOf(forest: IsolationForest): CompleteForest | null {
  if (completeForms.has(forest)) return completeForms.get(forest)!;
  const depthOf = (tree: IsolationTree, node: number): number =>
    tree.feature[node] < 0
      ? 0
      : 1 + Math.max(depthOf(tree, tree.left[node]), depthOf(tree, tree.left[node] + 1));
  const depth = Math.max(1, ...forest.trees.map((tree) => depthOf(tree, 0)));
  let form: CompleteForest | null = null;
  if (depth <= MAX_COMPLETE_DEPTH) {
    const inner = (1 << depth) - 1;
    const trees = forest.trees.length;
    form = {
      depth,
      feature: new Int32Array(trees * inner),
      threshold: new Float32Array(trees * inner).fill(Infinity),
      leafPath: new Float32Array(trees * (inner + 1)),
    };
    const f = form;
    forest.trees.forEach((tree, t) => {
      const fill = (node: number, at: number, level: number, leaf: number) => {
        if (level === depth) {
          f.leafPath[t * (inner + 1) + at - inner] = tree.leafPath[leaf < 0 ? node : leaf];
          return;
        }
        const grown = leaf < 0 && tree.feature[node] >= 0;
        if (grown) {
          f.feature[t * inner + at] = tree.feature[node];
          f.threshold[t * inner + at] = tree.threshold[node];
          fill(tree.left[node], 2 * at + 1, level + 1, -1);
          fill(tree.left[node] + 1, 2 * at + 2, level + 1, -1);
        } else {
          // Below a leaf: feature 0 and an infinite threshold, both sides holding the leaf's path.
          const held = leaf < 0 ? node : leaf;
          fill(node, 2 * at + 1, level + 1, held);
          fill(node, 2 * at + 2, level + 1, held);
        }
      };
      fill(0, 0, 0, -1);
    });
  }
  completeForms.set(forest, form);
  return form;
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

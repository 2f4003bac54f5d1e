/**
 * Nearest-neighbour scoring against a memory bank of normal features.
 *
 * Banks are coresets: a greedy k-center selection (as in PatchCore) keeps the rows that cover
 * the normal features best, so a bank of a few thousand rows scores like one of all of them at a
 * fraction of the cost. Distances come from one untransposed 2-D matmul per bank chunk, the wasm
 * backend's fast path, with the bank stored pre-multiplied so the product is the distance up to
 * a per-query constant and only a row minimum (or top-k) follows it.
 *
 * This entry point gathers the parts: the banks (`knn/bank.ts`), their linear algebra
 * (`knn/linalg.ts`: principal directions, symmetric eigen decomposition), coreset selection
 * (`knn/coreset.ts`), image cells compared where they lie (`knn/cells.ts`) and the search
 * (`knn/search.ts`, with an exact search for narrow rows, by a k-d tree in `knn/kd_tree.ts` where
 * it pays).
 *
 * @module
 */
export {
  type BankDirections,
  type BankProjection,
  buildBank,
  type MemoryBank,
  storedWidth,
} from "./knn/bank.ts";
export { CELL_COORDINATES, cellStep, withCellCoordinates } from "./knn/cells.ts";
export { greedyCoreset } from "./knn/coreset.ts";
export { principalDirections, symmetricEigen } from "./knn/linalg.ts";
export {
  type Exclusion,
  knnDistances,
  knnDistancesExact,
  type ProjectedQueries,
  projectQueries,
} from "./knn/search.ts";

/**
 * What the memory-bank components have in common: fitting a coreset or a random sample of
 * normals' features, and scoring by the distance to the nearest normals.
 *
 * @module
 */
import type { ModelConfig } from "../config.ts";
import {
  buildBank,
  CELL_COORDINATES,
  cellStep,
  type Exclusion,
  knnDistances,
  knnDistancesExact,
  type MemoryBank,
  type ProjectedQueries,
  projectQueries,
  withCellCoordinates,
} from "../knn.ts";
import { Rng } from "../../rng.ts";
import type { BankSettings, FeatureSet } from "./types.ts";

/**
 * A greedy coreset of at most `settings.limit` rows, compared in `projection` principal
 * directions (see `BankProjection`; 0: whole). By default image features are compared in
 * `settings.projection` directions and table rows whole (see {@linkcode pixelProjection} for
 * raw-pixel views). With `settings.cellPositions`, image cells are compared where they lie
 * (`knn/cells.ts`): the coreset then covers every place, not only every pattern.
 */
export function coresetBank(
  f: FeatureSet,
  settings: BankSettings,
  projection = f.grid === 1 ? 0 : settings.projection,
): MemoryBank {
  const step = f.grid > 1 && settings.cellPositions > 0
    ? cellStep(f.data, f.dim, f.grid, settings.cellPositions)
    : 0;
  const rng = new Rng(settings.seed);
  const options = { coreset: true, projection, directions: settings.directions };
  if (step <= 0) return buildBank(f.data, f.dim, settings.limit, rng, options);
  const placed = withCellCoordinates(f.data, f.dim, f.grid, step);
  return {
    ...buildBank(placed, f.dim + CELL_COORDINATES, settings.limit, rng, options),
    cellStep: step,
  };
}

/** Directions raw-pixel views are compared in: at most `pixelProjectionShare` of their width. */
export function pixelProjection(f: FeatureSet, settings: BankSettings): number {
  return Math.min(settings.projection, Math.floor(settings.pixelProjectionShare * f.dim));
}

/** Normal rows the sampled components keep (density's cost is linear in them). */
export const SAMPLED_ROWS = 20000;

/** A random sample of at most SAMPLED_ROWS normal rows, compared whole. */
export function sampleBank(f: FeatureSet, settings: BankSettings): MemoryBank {
  return projectedSampleBank(f, { ...settings, limit: SAMPLED_ROWS, directions: undefined }, 0);
}

/**
 * A random sample of at most `settings.limit` normal rows, compared in `projection` principal
 * directions (or `settings.directions`): a sample keeps the normals' density, which a coreset,
 * covering their extent evenly, does not.
 */
export function projectedSampleBank(
  f: FeatureSet,
  settings: BankSettings,
  projection: number,
): MemoryBank {
  return buildBank(f.data, f.dim, settings.limit, new Rng(settings.seed), {
    coreset: false,
    projection,
    directions: settings.directions,
  });
}

/**
 * Mean distance to the nearest bank rows: `knnK` of them for image cells, `tableKnnK` for table
 * rows, each cell with its place when the bank compares places; with `leaveOut`, sample i
 * without the rows taken from it.
 */
export function knnScore(
  bank: MemoryBank,
  f: FeatureSet,
  config: Pick<ModelConfig, "knnK" | "tableKnnK">,
  leaveOut?: Int32Array,
): Float32Array {
  const k = f.grid === 1 ? config.tableKnnK : config.knnK;
  if (f.exact && !bank.projection && !leaveOut) return knnDistancesExact(bank, f.data, k);
  if (f.grid === 1 && bank.projection && !leaveOut) {
    return knnDistances(bank, tableRowsFor(bank, f.data), k);
  }
  return knnDistances(
    bank,
    bank.cellStep ? withCellCoordinates(f.data, f.dim, f.grid, bank.cellStep) : f.data,
    k,
    leaveOut ? exclusionOf(bank, f, leaveOut) : undefined,
  );
}

/**
 * Table rows [q, dim] as `bank` searches them: for a bank compared in principal directions,
 * projected on them once for every bank that shares both the rows and the directions (`enc` and
 * `enc_kde` read one token array in one set of directions), then kept as long as the rows
 * array (a scoring batch takes a new one, `FeatureBuffers.take`, so a refilled buffer is never
 * read through an old projection).
 * Image cells are projected a block at a time instead: their views each have directions of their
 * own, and a projection of every cell would hold memory for nothing.
 */
export function tableRowsFor(
  bank: MemoryBank,
  rows: Float32Array,
): Float32Array | ProjectedQueries {
  const directions = bank.projection;
  if (!directions) return rows;
  const known = projectedRows.get(rows);
  if (known?.mean === directions.mean && known.basis === directions.basis) return known;
  const made = projectQueries(bank, rows);
  projectedRows.set(rows, made);
  return made;
}

const projectedRows = new WeakMap<Float32Array, ProjectedQueries>();

/**
 * The exclusion that scores sample i of `samples` (an index into the samples the bank was built
 * from, or -1) against the bank without the rows taken from that same sample.
 *
 * @throws {Error} when the bank no longer knows where its rows came from (read from a file).
 */
function exclusionOf(bank: MemoryBank, features: FeatureSet, samples: Int32Array): Exclusion {
  if (!bank.sources) throw new Error("leave-one-out scoring needs a freshly built memory bank");
  const rowsPerSample = features.grid * features.grid;
  return {
    rowsPerSample,
    samples,
    bankSamples: bank.sources.map((row) => Math.floor(row / rowsPerSample)),
  };
}

/** The feature set of component `name` in `evidence`, allocated for n samples on first use. */
export function featureSlot(
  features: Record<string, FeatureSet>,
  name: string,
  n: number,
  dim: number,
  grid: number,
): FeatureSet {
  if (!features[name]) {
    features[name] = { dim, grid, data: new Float32Array(n * grid * grid * dim) };
  }
  return features[name];
}

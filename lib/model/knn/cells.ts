/**
 * Cells compared where they lie: image cells' features with their place on the grid appended,
 * so a memory bank's nearest rows for a cell are normal cells at and near the same place. Meant
 * for categories whose images are turned to one pose (lib/data/pose.ts), where a place means
 * the same part of the object in every image: a screw's thread beside its head is normal, the
 * same texture where its tip should be is not, and only the place tells them apart.
 *
 * @module
 */

/** Values a cell's place adds to its features: its row and its column. */
export const CELL_COORDINATES = 2;

/**
 * Rows [n * grid * grid, dim] of cells in raster order, each followed by its row and column on
 * the grid times `step`: [n * grid * grid, dim + 2].
 */
export function withCellCoordinates(
  data: Float32Array,
  dim: number,
  grid: number,
  step: number,
): Float32Array {
  const cells = grid * grid;
  const rows = data.length / dim;
  if (!Number.isInteger(rows / cells)) {
    throw new Error(`${rows} feature rows are not whole images of ${grid} x ${grid} cells`);
  }
  const width = dim + CELL_COORDINATES;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const cell = r % cells;
    const o = r * width;
    out.set(data.subarray(r * dim, (r + 1) * dim), o);
    out[o + dim] = Math.floor(cell / grid) * step;
    out[o + dim + 1] = (cell % grid) * step;
  }
  return out;
}

/**
 * The distance one cell step along the grid adds, for features whose rows have the typical
 * (root mean square) length of `data`'s: `weight` of that length across the whole grid. Scaling
 * by the features' own length makes one weight mean the same for every view (pixels, stem and
 * encoder tokens are of very different sizes).
 */
export function cellStep(data: Float32Array, dim: number, grid: number, weight: number): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
  const rows = data.length / dim;
  // Rounded to a float32, as checkpoints keep it: a bank scores the same before and after.
  return rows > 0 ? Math.fround(weight * Math.sqrt(sum / rows) / grid) : 0;
}

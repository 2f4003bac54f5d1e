/** Memory banks that compare image cells where they lie (lib/model/knn/cells.ts). */
import assert from "node:assert/strict";
import { useBackend } from "../lib/backend/mod.ts";
import { CELL_COORDINATES, cellStep, withCellCoordinates } from "../lib/model/knn.ts";
import { coresetBank, knnScore } from "../lib/model/evidence/common.ts";
import type { BankSettings, FeatureSet } from "../lib/model/evidence/types.ts";

await useBackend("wasm");

Deno.test("cells: each cell's row and column follow its features, times the step", () => {
  // Two images of 2 x 2 cells, one feature each.
  const data = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const placed = withCellCoordinates(data, 1, 2, 0.5);
  assert.equal(placed.length, 8 * (1 + CELL_COORDINATES));
  assert.deepEqual(
    [...placed.subarray(0, 12)],
    [1, 0, 0, 2, 0, 0.5, 3, 0.5, 0, 4, 0.5, 0.5],
  );
  assert.deepEqual([...placed.subarray(12, 15)], [5, 0, 0]);
  assert.throws(() => withCellCoordinates(data.subarray(0, 6), 1, 2, 1), /whole images/);
});

Deno.test("cells: the step is the weight of the rows' typical length across the grid", () => {
  // Rows of length 3 and 4 (typical length sqrt(12.5)), a grid of 5 cells a side.
  const data = Float32Array.from([3, 0, 0, 4]);
  assert.ok(Math.abs(cellStep(data, 2, 5, 2) - (2 * Math.sqrt(12.5)) / 5) < 1e-6);
  assert.equal(cellStep(new Float32Array(0), 2, 5, 2), 0);
});

/** n images of grid x grid cells: pattern [1, 0] at `odd` cells, [0, 1] elsewhere. */
function images(n: number, grid: number, odd: (cell: number) => boolean): FeatureSet {
  const data = new Float32Array(n * grid * grid * 2);
  for (let r = 0; r < n * grid * grid; r++) data[2 * r + (odd(r % (grid * grid)) ? 0 : 1)] = 1;
  return { dim: 2, grid, data };
}

Deno.test("cells: a normal pattern out of its place stands out only when places count", () => {
  const grid = 4;
  // Normals: the first cell holds the rare pattern. The test image holds it in the last cell.
  const normals = images(3, grid, (cell) => cell === 0);
  const moved = images(1, grid, (cell) => cell === grid * grid - 1);
  const settings: BankSettings = {
    limit: 1000,
    seed: 0,
    projection: 0,
    pixelProjectionShare: 1,
    cellPositions: 0,
  };
  const config = { knnK: 1, tableKnnK: 1 };
  const anywhere = knnScore(coresetBank(normals, settings), moved, config);
  assert.ok(Math.max(...anywhere) < 1e-3, "anywhere: every pattern is a normal one");
  const placedBank = coresetBank(normals, { ...settings, cellPositions: 4 });
  assert.equal(placedBank.dim, 2 + CELL_COORDINATES);
  const placed = knnScore(placedBank, moved, config);
  const last = grid * grid - 1;
  assert.ok(placed[last] > 0.5, `the moved pattern scores ${placed[last]}`);
  // The first cell, now of the common pattern, also stands out; the cells in between do not.
  for (let cell = 1; cell < last; cell++) assert.ok(placed[cell] < 1e-3, `cell ${cell}`);
  // Normals themselves score nothing.
  assert.ok(Math.max(...knnScore(placedBank, normals, config)) < 1e-3);
});

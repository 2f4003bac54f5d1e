import assert from "node:assert/strict";
import { gaussianBlur, pixelMap, upsampleMap } from "../lib/model/maps.ts";

Deno.test("gaussian blur: constants stay, an impulse keeps its mass and spreads symmetrically", () => {
  const size = { width: 21, height: 21 };
  const flat = gaussianBlur(new Float32Array(21 * 21).fill(3), size, 2);
  assert.ok(flat.every((v) => Math.abs(v - 3) < 1e-5));
  const impulse = new Float32Array(21 * 21);
  impulse[10 * 21 + 10] = 1;
  const out = gaussianBlur(impulse, size, 2);
  assert.ok(Math.abs(out.reduce((s, v) => s + v, 0) - 1) < 1e-5);
  assert.ok(Math.abs(out[10 * 21 + 8] - out[10 * 21 + 12]) < 1e-7);
  assert.ok(Math.abs(out[8 * 21 + 10] - out[10 * 21 + 8]) < 1e-7);
  assert.equal(out.indexOf(Math.max(...out)), 10 * 21 + 10);
  // Sigma 0 leaves the map alone (a copy).
  const same = gaussianBlur(impulse, size, 0);
  assert.deepEqual(same, impulse);
  assert.notEqual(same, impulse);
});

Deno.test("pixel map: a hot cell peaks in its own pixels, with no block edges", () => {
  const grid = 4, size = 32;
  const cells = new Float32Array(grid * grid);
  cells[1 * grid + 2] = 1;
  const map = pixelMap(cells, { width: grid, height: grid }, { width: size, height: size });
  const peak = map.indexOf(Math.max(...map));
  const [py, px] = [Math.floor(peak / size), peak % size];
  assert.ok(py >= 8 && py < 16 && px >= 16 && px < 24, `peak at ${py},${px}`);
  // Blurred by half a cell (4 px), so neighbouring pixels differ less than on the plain upsampling.
  const plain = upsampleMap(cells, grid, size);
  const step = (m: Float32Array) => {
    let most = 0;
    for (let i = 1; i < size; i++) {
      most = Math.max(most, Math.abs(m[12 * size + i] - m[12 * size + i - 1]));
    }
    return most;
  };
  assert.ok(step(map) < step(plain), `${step(map)} vs ${step(plain)}`);
});

import assert from "node:assert/strict";
import { asFolder, counted } from "../lib/util/text.ts";

Deno.test("counted: the noun in the number its count needs", () => {
  assert.equal(counted(1, "epoch"), "1 epoch");
  assert.equal(counted(0, "dataset"), "0 datasets");
  assert.equal(counted(3, "run"), "3 runs");
});

Deno.test("asFolder: one trailing slash however the folder was typed", () => {
  assert.equal(asFolder("heatmaps"), "heatmaps/");
  assert.equal(asFolder("heatmaps/"), "heatmaps/");
  assert.equal(asFolder("results/maps//"), "results/maps/");
  assert.equal(asFolder("/"), "/");
});

/** Naming the heat maps `deno task score --maps` writes (`lib/experiment/score_files.ts`). */
import assert from "node:assert/strict";
import { mapFileName } from "../lib/experiment/score_files.ts";

Deno.test("mapFileName: folders joined, never a hidden file", () => {
  assert.equal(mapFileName("data/zipper/test/broken/000.png"), "data_zipper_test_broken_000.png");
  // A relative path up the tree or an absolute one must not become `.._…` or `_…`.
  assert.equal(mapFileName("../shared/screw/test/good/001.png"), "shared_screw_test_good_001.png");
  assert.equal(mapFileName("/work/x/test/a b.jpg"), "work_x_test_a_b.png");
  assert.equal(mapFileName("C:\\imgs\\k.bmp"), "C_imgs_k.png");
});

/**
 * Naming the heat maps `deno task score --maps` writes, and the verdict on each score
 * (`lib/experiment/score_files.ts`).
 */
import assert from "node:assert/strict";
import { categoryOf, mapFileName, verdictOf } from "../lib/experiment/score_files.ts";
import { fitTailScale } from "../lib/model/tail_scale.ts";
import { MadError } from "../lib/errors.ts";

Deno.test("mapFileName: folders joined, never a hidden file", () => {
  assert.equal(mapFileName("data/zipper/test/broken/000.png"), "data_zipper_test_broken_000.png");
  // A relative path up the tree or an absolute one must not become `.._…` or `_…`.
  assert.equal(mapFileName("../shared/screw/test/good/001.png"), "shared_screw_test_good_001.png");
  assert.equal(mapFileName("/work/x/test/a b.jpg"), "work_x_test_a_b.png");
  assert.equal(mapFileName("C:\\imgs\\k.bmp"), "C_imgs_k.png");
});

Deno.test("verdictOf: p-values and flags by threshold or false-alarm rate; old checkpoints", () => {
  const stats = {
    sample: {},
    tokens: {},
    threshold: 2.5,
    normalScores: fitTailScale([0, 1, 2, 3]),
  };
  const byThreshold = verdictOf(stats, "t");
  assert.deepEqual(byThreshold(3), { pValue: 2 / 5, anomaly: true });
  assert.deepEqual(byThreshold(2), { pValue: 3 / 5, anomaly: false });
  const byRate = verdictOf(stats, "t", { falseAlarmRate: 0.45 });
  assert.deepEqual(byRate(3), { pValue: 2 / 5, anomaly: true });
  assert.deepEqual(byRate(2.4), { pValue: (1 + 1.6) / 5, anomaly: false });
  const warnings: string[] = [];
  const never = verdictOf(stats, "t", { falseAlarmRate: 0.1, onWarning: (w) => warnings.push(w) });
  assert.equal(never(99).anomaly, false);
  assert.deepEqual(warnings, [
    "t: a false-alarm rate of 0.1 is below 1/5, the smallest p-value its 4 calibration normals " +
    "give: nothing will be flagged",
  ]);
  // A checkpoint trained before the calibration scores were kept flags by its threshold and has
  // no p-values; a false-alarm rate is refused in one line naming the dataset.
  const { normalScores: _, ...old } = stats;
  assert.deepEqual(verdictOf(old, "t")(3), { anomaly: true });
  assert.throws(
    () => verdictOf(old, "ck.safetensors: table t", { falseAlarmRate: 0.05 }),
    (e: Error) =>
      e instanceof MadError && e.message.startsWith("ck.safetensors: table t: ") &&
      e.message.includes("--false-alarm-rate") && !e.message.includes("\n"),
  );
});

Deno.test("categoryOf: from the path, forced, or a clear refusal", () => {
  assert.equal(categoryOf("/d/screw/test/000.png", ["hazelnut", "screw"]), "screw");
  assert.equal(categoryOf("/d/x.png", ["hazelnut"]), "hazelnut");
  assert.equal(categoryOf("/d/x.png", ["hazelnut", "screw"], "screw"), "screw");
  assert.throws(() => categoryOf("/d/x.png", ["hazelnut", "screw"]), /give --category/);
  assert.throws(
    () => categoryOf("/d/x.png", []),
    (e: unknown) =>
      e instanceof MadError &&
      /x\.png: the checkpoint was trained on no image category/.test(e.message),
  );
});

import assert from "node:assert/strict";
import { defectAurocs } from "../lib/metrics/defects.ts";

Deno.test("defect AUROC: each type against the good images alone", () => {
  // good 0.1 0.2 0.3; "scratch" above every good image; of the two "thread" images one ranks
  // above all good ones and one below them all: 3 pairs won of 6.
  const scores = [0.1, 0.9, 0.2, 0.8, 0.3, 0.05, 0.5];
  const defects = ["good", "scratch", "good", "scratch", "good", "thread", "thread"];
  assert.deepEqual(defectAurocs(scores, defects), [
    { defect: "scratch", count: 2, auroc: 1 },
    { defect: "thread", count: 2, auroc: 0.5 },
  ]);
});

Deno.test("defect AUROC: ties count one half; images of unknown type are left out", () => {
  const result = defectAurocs([0.2, 0.2, 0.7, 0.4, 99], ["good", "a", "b", "good", undefined])!;
  // a: 0.2 against the good 0.2 (a tie, one half) and 0.4 (lost): 0.25.
  assert.deepEqual(result.map((r) => [r.defect, r.auroc]), [["a", 0.25], ["b", 1]]);
});

Deno.test("defect AUROC: null without good images or with fewer than two defect types", () => {
  assert.equal(defectAurocs([0.1, 0.9], ["good", "bad"]), null);
  assert.equal(defectAurocs([0.1, 0.9], ["x", "y"]), null);
  assert.equal(defectAurocs([0.1, 0.9], [undefined, undefined]), null);
});

Deno.test("defect AUROC: refuses scores and types of different lengths", () => {
  assert.throws(() => defectAurocs([0.1], ["good", "a"]), /1 scores but 2 defect types/);
});

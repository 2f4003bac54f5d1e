import assert from "node:assert/strict";
import { COMMAND, defaultAblationOut } from "../scripts/ablate.ts";
import { dataSetId } from "../lib/experiment/data_set.ts";
import { helpText } from "../lib/util/mod.ts";

const NONE = { imageDirs: [], tablePaths: [] };

Deno.test("ablate: tiny and --full runs default to folders of their own", () => {
  assert.equal(defaultAblationOut(true, NONE), "results/ablation");
  assert.equal(defaultAblationOut(false, NONE), "results/ablation-tiny");
  assert.notEqual(defaultAblationOut(false, NONE), defaultAblationOut(true, NONE));
});

Deno.test("ablate: a user's own data gets a folder per data set and mode", () => {
  const own = { imageDirs: ["data/images/dev/screw"], tablePaths: [] };
  const id = dataSetId(own);
  assert.equal(defaultAblationOut(true, own), `results/ablation-${id}`);
  assert.equal(defaultAblationOut(false, own), `results/ablation-tiny-${id}`);
});

Deno.test("ablate --help names both default folders", () => {
  const help = helpText(COMMAND);
  assert.match(help, /results\/ablation with --full/);
  assert.match(help, /results\/ablation-tiny/);
});

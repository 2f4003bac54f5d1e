/**
 * An epoch's order of steps: table steps follow image steps at `tableStepsPerImageStep` (a whole
 * number after each, a fraction spread out), and a run without images takes `tableStepsPerEpoch`.
 */
import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG, validateConfig } from "../lib/model/config.ts";
import { epochPlan } from "../lib/train/batches.ts";
import type { ImageData, TableData } from "../lib/train/training_data.ts";
import { Rng } from "../lib/rng.ts";
import { MadError } from "../lib/errors.ts";

/** Only what `epochPlan` reads: how many training images, and a table's rows and width. */
const images = (count: number) =>
  [{ train: Array.from({ length: count }, () => new Float32Array(0)) }] as unknown as ImageData[];
const table = (rows: number, d: number) =>
  [{ prepared: { train: new Float32Array(rows * d), d } }] as unknown as TableData[];

const train = (overrides: Partial<Config["train"]>): Config["train"] => ({
  ...DEFAULT_CONFIG.train,
  batchSize: 4,
  tableBatchSize: 8,
  ...overrides,
});

/** The plan as a string: `I` for an image step, `T` for a table step. */
function kinds(t: Config["train"], imageCount: number): string {
  const plan = epochPlan(images(imageCount), table(100, 3), t, new Rng(1));
  return plan.map((s) => (s.kind === "image" ? "I" : "T")).join("");
}

Deno.test("one table step after each image step at rate 1", () => {
  assert.equal(kinds(train({ tableStepsPerImageStep: 1 }), 16), "ITITITIT");
});

Deno.test("a fractional rate spreads table steps out", () => {
  assert.equal(kinds(train({ tableStepsPerImageStep: 0.5 }), 24), "IITIITIIT");
  assert.equal(kinds(train({ tableStepsPerImageStep: 2 }), 8), "ITTITT");
  assert.equal(kinds(train({ tableStepsPerImageStep: 0 }), 8), "II");
});

Deno.test("without images an epoch takes tableStepsPerEpoch table steps", () => {
  const plan = epochPlan([], table(100, 3), train({ tableStepsPerEpoch: 5 }), new Rng(1));
  assert.equal(plan.length, 5);
  assert.ok(plan.every((s) => s.kind === "table" && s.indices.length === 8));
});

Deno.test("a negative or missing table rate is refused", () => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    const config = { ...DEFAULT_CONFIG, train: train({ tableStepsPerImageStep: bad }) };
    assert.throws(() => validateConfig(config), MadError);
  }
});

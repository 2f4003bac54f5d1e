/**
 * Weight averaging: which epochs join the mean, the running mean itself, checkpoints that keep
 * the mean as their weights and the latest weights for resuming, and a run that keeps the mean.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { addToAverage, averagingStart, disposeAverage } from "../lib/train/averaging.ts";
import { join } from "node:path";
import {
  decodeCheckpoint,
  disposeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from "../lib/train/checkpoint.ts";
import { train } from "../lib/train/loop.ts";
import { tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import { initParams, type Params } from "../lib/model/madformer.ts";
import { DEFAULT_CONFIG, mergeConfig, validateConfig } from "../lib/model/config.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { madError, TINY, tinyCheckpoint } from "./fixtures.ts";

await useBackend("wasm");

Deno.test("averagingStart: the share of final epochs that are averaged", () => {
  assert.equal(averagingStart({ epochs: 10, averageWeights: 0.7 }), 4);
  assert.equal(averagingStart({ epochs: 10, averageWeights: 0.5 }), 6);
  assert.equal(averagingStart({ epochs: 10, averageWeights: 1 }), 1);
  assert.equal(averagingStart({ epochs: 10, averageWeights: 0 }), 11, "off: never");
  assert.equal(averagingStart({ epochs: 3, averageWeights: 0.7 }), 2);
});

Deno.test("addToAverage: the running mean of the weights, held in its own variables", () => {
  const maps: Params[] = [[1, 2], [3, 4], [5, 9]].map((v) =>
    new Map([["w", tf.variable(tf.tensor1d(v))]])
  );
  let average = addToAverage(null, maps[0]);
  maps[0].get("w")!.assign(tf.tensor1d([100, 100]));
  average = addToAverage(average, maps[1]);
  average = addToAverage(average, maps[2]);
  assert.equal(average.epochs, 3);
  assert.deepEqual(Array.from(average.params.get("w")!.dataSync()), [3, 5]);
  disposeAverage(average);
  for (const m of maps) m.get("w")!.dispose();
});

Deno.test("train.averageWeights outside [0, 1] is refused", () => {
  for (const bad of [-0.1, 1.5, NaN]) {
    madError(
      () => validateConfig(mergeConfig(DEFAULT_CONFIG, { train: { averageWeights: bad } })),
      "train.averageWeights",
    );
  }
});

Deno.test("checkpoint: the mean as weights, the latest weights kept for resuming", () => {
  const ckpt = tinyCheckpoint();
  const latest = initParams(ckpt.config.model, ckpt.tables, 1);
  ckpt.averaging = { epochs: 3, latest };
  const bytes = encodeCheckpoint(ckpt);
  const back = decodeCheckpoint(bytes, "avg.safetensors");
  assert.equal(back.averaging?.epochs, 3);
  for (const [name, p] of latest) {
    assert.deepEqual(back.averaging!.latest.get(name)!.dataSync(), p.dataSync(), name);
    assert.deepEqual(back.params.get(name)!.dataSync(), ckpt.params.get(name)!.dataSync(), name);
  }
  // Scoring does not need the latest weights.
  const scoring = decodeCheckpoint(bytes, "avg.safetensors", { optimizer: false });
  assert.equal(scoring.averaging, undefined);
  for (const c of [back, scoring]) disposeCheckpoint(c);

  // A checkpoint that says it averaged but lost its latest weights is refused by name.
  ckpt.averaging = { epochs: 3, latest: new Map() };
  const damaged = encodeCheckpoint(ckpt);
  madError(() => decodeCheckpoint(damaged, "avg.safetensors"), "avg.safetensors", "latest");
  ckpt.averaging = undefined;
  disposeCheckpoint(ckpt);
  for (const v of latest.values()) v.dispose();
});

Deno.test("checkpoint: runs from before weight averaging resume without it", () => {
  const config = mergeConfig(DEFAULT_CONFIG, TINY);
  const ckpt = tinyCheckpoint({ config });
  delete (ckpt.config.train as Partial<typeof ckpt.config.train>).averageWeights;
  const back = decodeCheckpoint(encodeCheckpoint(ckpt), "old.safetensors");
  assert.equal(back.config.train.averageWeights, 0);
  disposeCheckpoint(back);
  disposeCheckpoint(ckpt);
});

Deno.test("a run keeps the mean of its final epochs' weights and resumes from the latest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-average-" });
  try {
    const data = await writeTinyData(join(dir, "data"));
    // 3 epochs at 0.7: epochs 2 and 3 are averaged.
    const config = tinyConfig({ train: { epochs: 3 } });
    const out = join(dir, "run");
    const first = await train({ config, ...data, out, quiet: true, stopAfterEpochs: 2 });
    const atTwo = await loadCheckpoint(first.last);
    assert.equal(atTwo.averaging?.epochs, 1, "the mean starts at epoch 2");
    const rest = await train({ config, ...data, out, quiet: true, resume: first.last });
    assert.equal(rest.bestEpoch, 3);
    assert.equal(rest.averagedEpochs, 2);
    const best = await loadCheckpoint(rest.best);
    const last = await loadCheckpoint(rest.last);
    for (const [name, mean] of best.params) {
      const two: Float32Array = atTwo.averaging!.latest.get(name)!.dataSync() as Float32Array;
      const three = last.averaging!.latest.get(name)!.dataSync() as Float32Array;
      const got = mean.dataSync();
      for (let i = 0; i < got.length; i += 97) {
        assert.ok(Math.abs(got[i] - (two[i] + three[i]) / 2) < 1e-6, `${name}[${i}]`);
      }
    }
    for (const c of [atTwo, best, last]) disposeCheckpoint(c);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

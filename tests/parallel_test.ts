import assert from "node:assert/strict";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import {
  BENCH_TABLE,
  disposeFixture,
  imagePoolStep,
  stepFixture,
  tablePoolStep,
} from "../lib/bench/step_timing.ts";
import { getWeights, GradientPool, setWeights, shardSizes } from "../lib/train/parallel.ts";
import {
  imageCounts,
  imageGradients,
  imageShard,
  type ShardGradients,
  tableGradients,
} from "../lib/train/step.ts";
import { SMALL_MODEL } from "./fixtures.ts";

await useBackend("wasm");

const TINY = mergeConfig(DEFAULT_CONFIG, {
  model: SMALL_MODEL,
  train: { batchSize: 5, tableBatchSize: 9 },
}, "test config");

Deno.test("shards: near-equal sizes, none empty", () => {
  assert.deepEqual(shardSizes(16, 2), [8, 8]);
  assert.deepEqual(shardSizes(5, 2), [2, 3]);
  assert.deepEqual(shardSizes(7, 3), [2, 2, 3]);
  assert.deepEqual(shardSizes(1, 4), [1]);
});

Deno.test("weights: flattened and assigned back in the same order", () => {
  const a = stepFixture(TINY, 4, 1);
  const b = stepFixture(TINY, 4, 2);
  setWeights(b.params, getWeights(a.params));
  for (const [name, p] of a.params) {
    assert.deepEqual(Array.from(b.params.get(name)!.dataSync()), Array.from(p.dataSync()), name);
  }
  assert.throws(() => setWeights(b.params, new Float32Array(3)), /3 values for/);
  disposeFixture(a);
  disposeFixture(b);
});

Deno.test("shard gradients add up to the whole batch's", () => {
  const f = stepFixture(TINY, 4, 3);
  const data = { ...f.images, tokenMask: f.images.tokenMask.map((_, i) => (i % 3 === 0 ? 1 : 0)) };
  const counts = imageCounts(TINY, data);
  const whole = imageGradients(f.params, TINY, data);
  const parts = [imageShard(data, 0, 2), imageShard(data, 2, 5)].map((s) =>
    imageGradients(f.params, TINY, s, counts)
  );
  assert.ok(Math.abs(parts[0].losses.loss + parts[1].losses.loss - whole.losses.loss) < 1e-5);
  for (const [key, g] of whole.grads) {
    const want = g.dataSync();
    const got = parts[0].grads.get(key)!.add(parts[1].grads.get(key)!).dataSync();
    want.forEach((v, i) => assert.ok(Math.abs(v - got[i]) < 1e-4 * (1 + Math.abs(v)), key));
  }
  disposeFixture(f);
});

Deno.test("gradients over two shards are the one-thread gradients; steps train alike", async () => {
  const f = stepFixture(TINY, 4, 4);
  const pool = await GradientPool.start(2, TINY, [{ name: BENCH_TABLE, features: 4 }]);
  assert.equal(pool.workers, 1);
  const close = (a: ShardGradients, b: ShardGradients, what: string) => {
    assert.ok(Math.abs(a.losses.loss - b.losses.loss) < 1e-5, `${what} loss`);
    assert.deepEqual([...a.grads.keys()], [...b.grads.keys()]);
    for (const [key, g] of a.grads) {
      const want = g.dataSync();
      const got = b.grads.get(key)!.dataSync();
      want.forEach((v, i) =>
        assert.ok(Math.abs(v - got[i]) < 1e-4 * (1 + Math.abs(v)), `${what} ${key}[${i}]`)
      );
    }
    for (const g of [...a.grads.values(), ...b.grads.values()]) g.dispose();
  };
  try {
    const images = {
      ...f.images,
      tokenMask: f.images.tokenMask.map((_, i) => (i % 4 === 1 ? 1 : 0)),
    };
    close(
      imageGradients(f.params, TINY, images),
      await pool.imageGradients(f.params, TINY, images),
      "image",
    );
    const rows = { ...f.rows, mask: f.rows.mask.map((_, i) => (i % 3 === 0 ? 1 : 0)) };
    close(
      tableGradients(f.params, TINY, rows),
      await pool.tableGradients(f.params, TINY, rows),
      "table",
    );
    // Steps as training takes them: the loss falls and Adam counts every step once.
    const losses = [];
    for (let i = 0; i < 8; i++) losses.push(await imagePoolStep(f, pool));
    assert.ok(losses[7] < losses[0], `losses ${losses}`);
    assert.ok(Number.isFinite(await tablePoolStep(f, pool)));
    assert.equal(f.adam.step, 9);
  } finally {
    pool.close();
    disposeFixture(f);
  }
});

Deno.test("a closed pool refuses further steps with a clear error", async () => {
  const f = stepFixture(TINY, 4, 5);
  const pool = await GradientPool.start(2, TINY, [{ name: BENCH_TABLE, features: 4 }]);
  pool.close();
  assert.equal(pool.workers, 0);
  await assert.rejects(() => imagePoolStep(f, pool), /gradient workers closed/);
  await assert.rejects(() => GradientPool.start(0, TINY, []), /shards must be a positive integer/);
  disposeFixture(f);
});

Deno.test("table micro-batches: summed gradients are the one-pass gradients", () => {
  const f = stepFixture(TINY, 4, 6);
  const rows = { ...f.rows, mask: f.rows.mask.map((_, i) => (i % 3 === 0 ? 1 : 0)) };
  const whole = tableGradients(f.params, TINY, rows, undefined, rows.n);
  try {
    // 9 rows in micro-batches of 4, 4 and 1, and of one row each.
    for (const micro of [4, 1]) {
      const parts = tableGradients(f.params, TINY, rows, undefined, micro);
      for (const key of ["loss", "recon", "anomaly"] as const) {
        const want = whole.losses[key];
        assert.ok(Math.abs(parts.losses[key] - want) < 1e-5 * (1 + Math.abs(want)), key);
      }
      assert.deepEqual([...parts.grads.keys()], [...whole.grads.keys()]);
      for (const [key, g] of whole.grads) {
        const want = g.dataSync();
        const got = parts.grads.get(key)!.dataSync();
        want.forEach((v, i) =>
          assert.ok(Math.abs(v - got[i]) < 1e-4 * (1 + Math.abs(v)), `${micro}: ${key}[${i}]`)
        );
      }
      for (const g of parts.grads.values()) g.dispose();
    }
  } finally {
    for (const g of whole.grads.values()) g.dispose();
    disposeFixture(f);
  }
});

Deno.test("a shard failing in this thread is the error a step rejects with", async () => {
  const f = stepFixture(TINY, 4, 7);
  const pool = await GradientPool.start(2, TINY, [{ name: BENCH_TABLE, features: 4 }]);
  try {
    // Rows of another width than the table's: this thread's shard throws while the worker's
    // does too. The step must reject with that error, not an unhandled "workers closed".
    const bad = { ...f.rows, d: 3, mask: f.rows.mask.slice(0, 27) };
    await assert.rejects(() => pool.tableGradients(f.params, TINY, bad));
  } finally {
    pool.close();
    disposeFixture(f);
  }
  // Closing rejected the worker's pending reply: Deno fails the test if that went unhandled.
  await new Promise((r) => setTimeout(r, 50));
});

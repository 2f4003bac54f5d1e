import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { rowMin, rowMinKernelActive } from "../lib/backend/row_min.ts";
import { assembleKernel, kernelModuleSource, KERNELS_DIR } from "../lib/backend/assemble.ts";
import { Rng } from "../lib/rng.ts";

await useBackend("wasm");

Deno.test("rowMin: the SIMD kernel runs on wasm and equals tfjs's min, tails and all", () => {
  assert.ok(rowMinKernelActive());
  const rng = new Rng(5);
  for (const [rows, cols] of [[1, 1], [3, 15], [2, 16], [5, 17], [7, 64], [512, 2000], [4, 333]]) {
    const values = Float32Array.from({ length: rows * cols }, () => 100 * rng.normal());
    // The minimum in the tail, in the last vector, and a row of equal values.
    values[cols - 1] = -1e6;
    if (rows > 1) values[cols + Math.min(cols - 1, 15)] = -Infinity;
    if (rows > 2) values.fill(3.5, 2 * cols, 3 * cols);
    tf.tidy(() => {
      const x = tf.tensor2d(values, [rows, cols]);
      const got = rowMin(x);
      assert.deepEqual(got.shape, [rows, 1]);
      assert.deepEqual(got.dataSync(), x.min(1, true).dataSync(), `${rows}x${cols}`);
    });
  }
});

Deno.test("rowMin: leaves no tensors behind and works inside products", () => {
  const before = tf.memory().numTensors;
  const got = tf.tidy(() => {
    const a = tf.tensor2d([[1, 2], [3, -4]]);
    return rowMin(tf.matMul(a, a));
  });
  assert.deepEqual(Array.from(got.dataSync()), [-6, -9]);
  got.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("rowMin: the embedded kernel is the assembled row_min.wat", async () => {
  const wat = `${KERNELS_DIR}/row_min.wat`;
  const embedded = await Deno.readTextFile(`${KERNELS_DIR}/row_min_wasm.ts`);
  assert.equal(embedded, kernelModuleSource("row_min.wat", await assembleKernel(wat)));
});

Deno.test("rowMin: other backends take tfjs's min", async () => {
  await tf.setBackend("cpu");
  try {
    assert.equal(rowMinKernelActive(), false);
    const got = tf.tidy(() => rowMin(tf.tensor2d([[3, -1, 2], [0, 5, 4]])).dataSync());
    assert.deepEqual(Array.from(got), [-1, 0]);
  } finally {
    await tf.setBackend("wasm");
  }
  assert.ok(rowMinKernelActive());
});

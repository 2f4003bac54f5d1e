import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";

await useBackend("wasm");

Deno.test("identity on wasm: a clone shares its buffer and outlives the original", () => {
  const before = tf.memory().numDataBuffers;
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  const copy = tf.clone(x);
  assert.equal(tf.memory().numDataBuffers, before + 1);
  x.dispose();
  assert.deepEqual(Array.from(copy.dataSync()), [1, 2, 3, 4]);
  copy.dispose();
  assert.equal(tf.memory().numDataBuffers, before);
});

Deno.test("identity on wasm: gradients of saved tensors equal the cpu backend's", async () => {
  const f = (w: tf.Tensor) => {
    const h = tf.matMul(tf.tensor2d([[1, -2, 0.5], [3, 1, -1]]), w as tf.Tensor2D);
    return tf.sigmoid(h).mul(h).square().sum() as tf.Scalar;
  };
  const w = [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]];
  const gradOn = (backend: string) => {
    const { value, grads } = tf.variableGrads(() => f(variable), [variable]);
    const out = {
      backend,
      value: value.dataSync()[0],
      grad: Array.from(grads[variable.name].dataSync()),
    };
    value.dispose();
    grads[variable.name].dispose();
    return out;
  };
  let variable = tf.variable(tf.tensor2d(w));
  const wasm = gradOn("wasm");
  variable.dispose();
  await tf.setBackend("cpu");
  try {
    variable = tf.variable(tf.tensor2d(w));
    const cpu = gradOn("cpu");
    variable.dispose();
    assert.ok(Math.abs(wasm.value - cpu.value) < 1e-5);
    wasm.grad.forEach((g, i) =>
      assert.ok(Math.abs(g - cpu.grad[i]) < 1e-5, `${g} vs ${cpu.grad[i]}`)
    );
  } finally {
    await tf.setBackend("wasm");
  }
});

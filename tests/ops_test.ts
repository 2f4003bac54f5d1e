// The fast-path ops must give the same outputs and gradients as the plain tfjs compositions
// they replace (within 1e-4), on the wasm backend the model runs on and on the cpu reference.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { setSystemBlasEnabled } from "../lib/backend/blas.ts";
import { attention, attentionQkv, gelu, layerNorm, matMul2d } from "../lib/model/ops.ts";
import { Rng } from "../lib/rng.ts";

const TOL = 1e-4;

function random(rng: Rng, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * std), shape);
}

function assertClose(actual: tf.Tensor, expected: tf.Tensor, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    // Relative to the magnitude for large values, absolute near zero.
    worst = Math.max(worst, Math.abs(a[i] - e[i]) / Math.max(1, Math.abs(e[i])));
  }
  assert.ok(worst <= TOL, `${what}: differs by ${worst}`);
}

/**
 * Compares f(inputs) and the gradients of sum(f(inputs) * w) for a random w (so that every
 * output element carries a different weight) against a reference.
 */
function compare(
  name: string,
  fast: (...xs: tf.Tensor[]) => tf.Tensor,
  plain: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  rng: Rng,
): void {
  tf.tidy(() => {
    const yFast = fast(...inputs);
    const yPlain = plain(...inputs);
    assertClose(yFast, yPlain, `${name} value`);
    const w = random(rng, yPlain.shape);
    const gFast = tf.grads((...xs: tf.Tensor[]) => fast(...xs).mul(w).sum())(inputs);
    const gPlain = tf.grads((...xs: tf.Tensor[]) => plain(...xs).mul(w).sum())(inputs);
    gFast.forEach((g, i) => assertClose(g, gPlain[i], `${name} gradient ${i}`));
  });
}

function plainAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number): tf.Tensor {
  // What lib/model/madformer.ts computes without the fast op.
  const [B, N, D] = q.shape;
  const dh = D / heads;
  const split = (t: tf.Tensor) =>
    t.reshape([B, N, heads, dh]).transpose([0, 2, 1, 3]).reshape([B * heads, N, dh]);
  const w = tf.softmax(tf.matMul(split(q.mul(1 / Math.sqrt(dh))), split(k), false, true));
  return tf.matMul(w, split(v)).reshape([B, heads, N, dh]).transpose([0, 2, 1, 3])
    .reshape([B, N, D]);
}

function plainLayerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(g).add(b);
}

/**
 * The wasm backend with its products on the system BLAS (where one loads: then the model's ops
 * are the plain batched ones) and without (the wasm detours), and the cpu reference.
 */
const MODES = ["wasm", "wasm without BLAS", "cpu"] as const;

async function use(mode: (typeof MODES)[number]): Promise<void> {
  await useBackend(mode === "cpu" ? "cpu" : "wasm");
  setSystemBlasEnabled(mode !== "wasm without BLAS");
}

for (const backend of MODES) {
  Deno.test(`ops (${backend}): matMul2d matches tf.matMul`, async () => {
    await use(backend);
    const rng = new Rng(1);
    const inputs = [random(rng, [7, 5]), random(rng, [5, 3])];
    compare(
      "matMul2d",
      (a, b) => matMul2d(a as tf.Tensor2D, b as tf.Tensor2D),
      (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      inputs,
      rng,
    );
    tf.dispose(inputs);
  });

  Deno.test(`ops (${backend}): attention matches split heads + tf.matMul + softmax`, async () => {
    await use(backend);
    const rng = new Rng(2);
    const [B, N, D, H] = [2, 5, 8, 2];
    const inputs = [random(rng, [B, N, D]), random(rng, [B, N, D]), random(rng, [B, N, D])];
    compare(
      "attention",
      (q, k, v) => attention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, H),
      (q, k, v) => plainAttention(q, k, v, H),
      inputs,
      rng,
    );
    const qkv = random(rng, [B, N, 3 * D]);
    compare(
      "attentionQkv",
      (x) => attentionQkv(x as tf.Tensor3D, H),
      (x) => {
        const [q, k, v] = tf.split(x, 3, 2);
        return plainAttention(q, k, v, H);
      },
      [qkv],
      rng,
    );
    tf.dispose([...inputs, qkv]);
  });

  Deno.test(`ops (${backend}): attention at the default model's shapes`, async () => {
    await use(backend);
    const rng = new Rng(3);
    const qkv = random(rng, [2, 65, 3 * 128], 0.5);
    compare(
      "attentionQkv",
      (x) => attentionQkv(x as tf.Tensor3D, 4),
      (x) => {
        const [q, k, v] = tf.split(x, 3, 2);
        return plainAttention(q, k, v, 4);
      },
      [qkv],
      rng,
    );
    qkv.dispose();
  });

  Deno.test(`ops (${backend}): attention for some queries gives those rows of the full`, async () => {
    await use(backend);
    const rng = new Rng(4);
    const [q, k, v] = [0, 1, 2].map(() => random(rng, [2, 9, 8]) as tf.Tensor3D);
    const rows = [0, 3, 8];
    tf.tidy(() => {
      const some = attention(tf.gather(q, rows, 1), k, v, 2);
      assertClose(some, tf.gather(attention(q, k, v, 2), rows, 1), "attention rows");
    });
    tf.dispose([q, k, v]);
  });

  Deno.test(`ops (${backend}): layerNorm matches tf.moments composition`, async () => {
    await use(backend);
    const rng = new Rng(4);
    for (const shape of [[6, 8], [2, 3, 8]]) {
      const inputs = [random(rng, shape, 2), random(rng, [8]).add(1), random(rng, [8])];
      compare(
        `layerNorm ${shape}`,
        (x, g, b) => layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
        plainLayerNorm,
        inputs,
        rng,
      );
      tf.dispose(inputs);
    }
  });

  Deno.test(`ops (${backend}): gelu matches x * sigmoid(1.702 x)`, async () => {
    await use(backend);
    const rng = new Rng(5);
    const inputs = [random(rng, [3, 4, 6], 3)];
    compare("gelu", (x) => gelu(x), (x) => x.mul(tf.sigmoid(x.mul(1.702))), inputs, rng);
    tf.dispose(inputs);
  });

  Deno.test(`ops (${backend}): fast ops work under tf.variableGrads`, async () => {
    await use(backend);
    const rng = new Rng(6);
    const x = random(rng, [2, 4, 8]);
    const g = tf.variable(random(rng, [8]).add(1));
    const b = tf.variable(random(rng, [8]));
    const w = tf.variable(random(rng, [8, 24]));
    const loss = (fast: boolean) => () => {
      const h = fast ? layerNorm(x, g, b) : plainLayerNorm(x, g, b);
      const qkv = (fast ? matMul2d : tf.matMul)(h.reshape([8, 8]) as tf.Tensor2D, w as tf.Tensor2D)
        .reshape([2, 4, 24]) as tf.Tensor3D;
      const [q, k, v] = tf.split(qkv, 3, 2);
      const y = fast ? gelu(attentionQkv(qkv, 2)) : (() => {
        const a = plainAttention(q, k, v, 2);
        return a.mul(tf.sigmoid(a.mul(1.702)));
      })();
      return y.square().sum() as tf.Scalar;
    };
    const fast = tf.variableGrads(loss(true), [g, b, w]);
    const plain = tf.variableGrads(loss(false), [g, b, w]);
    assertClose(fast.value, plain.value, "loss");
    for (const v of [g, b, w]) assertClose(fast.grads[v.name], plain.grads[v.name], v.name);
    tf.dispose([x, g, b, w, fast.value, plain.value, ...Object.values(fast.grads)]);
    tf.dispose(Object.values(plain.grads));
  });
}

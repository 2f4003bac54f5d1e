// Products through the system BLAS must equal tfjs's (cpu backend as the reference), for every
// transpose, batch and broadcast the model and tfjs's gradients use, leak nothing, and hand
// what they do not handle to tfjs-wasm's kernel. Skipped where no BLAS library loads.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { setSystemBlasEnabled, systemBlasInUse } from "../lib/backend/blas.ts";
import { Rng } from "../lib/rng.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { disposeFixture, stepFixture } from "../lib/bench/step_timing.ts";
import { imageGradients, type ShardGradients, tableGradients } from "../lib/train/step.ts";
import { SMALL_MODEL } from "./fixtures.ts";

await useBackend("wasm");
const blas = systemBlasInUse();
const ignore = blas === null;
if (ignore) console.warn("no BLAS library loads here: BLAS tests skipped");

interface Case {
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
}

const CASES: Case[] = [
  { a: [7, 5], b: [5, 3] },
  { a: [5, 7], b: [5, 3], transposeA: true },
  { a: [7, 5], b: [3, 5], transposeB: true },
  { a: [5, 7], b: [3, 5], transposeA: true, transposeB: true },
  { a: [1, 1], b: [1, 1] },
  { a: [4, 6, 5], b: [4, 5, 3] },
  { a: [4, 6, 5], b: [4, 3, 5], transposeB: true },
  { a: [2, 3, 5, 6], b: [2, 3, 5, 4], transposeA: true },
  { a: [1, 6, 5], b: [4, 5, 3] },
  { a: [6, 5], b: [4, 5, 3] },
  { a: [4, 6, 5], b: [5, 3] },
  { a: [65, 130], b: [130, 33] },
];

function values(rng: Rng, shape: number[]): Float32Array {
  const n = shape.reduce((p, d) => p * d, 1);
  return Float32Array.from({ length: n }, () => rng.normal());
}

async function on<T>(backend: "cpu" | "wasm", fn: () => T): Promise<T> {
  await useBackend(backend);
  try {
    return fn();
  } finally {
    await useBackend("wasm");
  }
}

function product(
  c: Case,
  a: Float32Array,
  b: Float32Array,
): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const y = tf.matMul(tf.tensor(a, c.a), tf.tensor(b, c.b), c.transposeA, c.transposeB);
    return { shape: y.shape, data: y.dataSync() as Float32Array };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    assert.ok(err <= 1e-4, `${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

const label = (c: Case) =>
  `[${c.a}]${c.transposeA ? "ᵀ" : ""} @ [${c.b}]${c.transposeB ? "ᵀ" : ""}`;

Deno.test({
  name: "blas: products equal the cpu backend's, for transposes, batches and broadcasts",
  ignore,
  fn: async () => {
    const rng = new Rng(1);
    for (const c of CASES) {
      const a = values(rng, c.a), b = values(rng, c.b);
      const expected = await on("cpu", () => product(c, a, b));
      const before = tf.memory().numTensors;
      const actual = product(c, a, b);
      assert.equal(tf.memory().numTensors, before, `${label(c)}: leaked tensors`);
      assert.deepEqual(actual.shape, expected.shape, `${label(c)}: shape`);
      assertClose(actual.data, expected.data, label(c));
    }
  },
});

Deno.test({
  name: "blas: gradients of a product equal the cpu backend's",
  ignore,
  fn: async () => {
    const rng = new Rng(2);
    // tfjs's gradient of a product does not broadcast batches (on any backend).
    const sameBatch = (c: Case) => c.a.slice(0, -2).join() === c.b.slice(0, -2).join();
    for (const c of CASES.filter(sameBatch)) {
      const a = values(rng, c.a), b = values(rng, c.b);
      const grads = () =>
        tf.tidy(() => {
          const f = (x: tf.Tensor, y: tf.Tensor) =>
            tf.matMul(x, y, c.transposeA, c.transposeB).square().sum();
          return tf.grads(f)([tf.tensor(a, c.a), tf.tensor(b, c.b)]).map((g) =>
            g.dataSync() as Float32Array
          );
        });
      const expected = await on("cpu", grads);
      const actual = grads();
      actual.forEach((g, i) => assertClose(g, expected[i], `${label(c)} gradient ${i}`));
    }
  },
});

Deno.test({
  name: "blas: empty products, and what the kernel leaves to tfjs-wasm",
  ignore,
  fn: () => {
    // An empty inner axis is a product of zeros; an empty outer axis is an empty result.
    const zeros = tf.tidy(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2])).dataSync());
    assert.deepEqual(Array.from(zeros), [0, 0, 0, 0, 0, 0]);
    const empty = tf.tidy(() => tf.matMul(tf.zeros([0, 4]), tf.ones([4, 2])).shape);
    assert.deepEqual(empty, [0, 2]);
    // Inner sizes that do not fit get tfjs's own error.
    assert.throws(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2])), /inner shapes/);
  },
});

Deno.test({
  name: "blas: switched off, products run on tfjs-wasm's kernel and give the same values",
  ignore,
  fn: () => {
    const rng = new Rng(3);
    const c = CASES[6];
    const a = values(rng, c.a), b = values(rng, c.b);
    const on = product(c, a, b);
    setSystemBlasEnabled(false);
    try {
      assert.equal(systemBlasInUse(), null);
      assertClose(product(c, a, b).data, on.data, "tfjs-wasm's product");
    } finally {
      setSystemBlasEnabled(true);
    }
    assert.equal(systemBlasInUse(), blas);
  },
});

Deno.test({
  name: "blas: a model's image and table gradients are those of the wasm detours",
  ignore,
  fn: () => {
    const config = mergeConfig(DEFAULT_CONFIG, {
      model: { ...SMALL_MODEL, layers: 2 },
      train: { batchSize: 4, tableBatchSize: 8 },
    });
    const f = stepFixture(config);
    const run = () => {
      const image = imageGradients(f.params, config, f.images);
      const table = tableGradients(f.params, config, f.rows);
      const read = (g: ShardGradients) =>
        new Map([...g.grads].map(([k, t]) => [k, t.dataSync() as Float32Array]));
      const out = { image: read(image), table: read(table), losses: [image.losses, table.losses] };
      tf.dispose([...image.grads.values(), ...table.grads.values()]);
      return out;
    };
    try {
      const blasRun = run();
      setSystemBlasEnabled(false);
      const wasmRun = run();
      setSystemBlasEnabled(true);
      assert.ok(blasRun.image.size > 10 && blasRun.table.size > 3);
      for (const part of ["image", "table"] as const) {
        for (const [key, g] of wasmRun[part]) assertClose(blasRun[part].get(key)!, g, key);
      }
      assert.ok(Math.abs(blasRun.losses[0].loss - wasmRun.losses[0].loss) < 1e-4);
      assert.ok(Math.abs(blasRun.losses[1].loss - wasmRun.losses[1].loss) < 1e-4);
    } finally {
      setSystemBlasEnabled(true);
      disposeFixture(f);
    }
  },
});

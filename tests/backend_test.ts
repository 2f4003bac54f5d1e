import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { readInto } from "../lib/backend/wasm_memory.ts";
import { MadError } from "../lib/errors.ts";

Deno.test("the default backend is wasm", async () => {
  assert.equal(await useBackend("auto"), "wasm");
});

Deno.test("an unknown backend name is a one-line error", async () => {
  await assert.rejects(
    () => useBackend("gpu" as "wasm"),
    (e: unknown) => e instanceof MadError && /unknown backend 'gpu'/.test(e.message),
  );
});

Deno.test("the tensorflow backend without libtensorflow says how to get it", async () => {
  try {
    await useBackend("tensorflow");
    // A machine with tfjs-node installed: nothing to check.
  } catch (e) {
    assert.ok(e instanceof MadError);
    assert.match(e.message, /tfjs-node-gpu or @tensorflow\/tfjs-node .*README/);
    assert.ok(!e.message.includes("\n"));
  } finally {
    await useBackend("wasm");
  }
});

Deno.test("readInto copies a tensor's values where dataSync would give them, on any backend", async () => {
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    try {
      tf.tidy(() => {
        const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
        // A reshape shares the data, a transpose and a slice make new tensors.
        for (const t of [x.reshape([3, 2]), x.transpose(), x.slice([1, 0], [1, 3])]) {
          const out = new Float32Array(t.size + 3).fill(-1);
          readInto(t, out, 2);
          assert.deepEqual(Array.from(out.subarray(2, 2 + t.size)), Array.from(t.dataSync()));
          assert.deepEqual([out[0], out[1], out[out.length - 1]], [-1, -1, -1]);
        }
      });
    } finally {
      await useBackend("wasm");
    }
  }
});

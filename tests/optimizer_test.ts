// The fused AdamW step (one pass over the wasm backend's memory) must update parameters and
// moments as the tfjs-ops step does, with clipping and weight decay, and leak nothing.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../lib/backend/mod.ts";
import { adamStepFused, adamStepOps, initAdam } from "../lib/train/optimizer.ts";
import type { Params } from "../lib/model/madformer.ts";
import { Rng } from "../lib/rng.ts";

function model(rng: Rng): Params {
  const random = (shape: number[]) =>
    tf.variable(
      tf.tensor(
        Float32Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => rng.normal()),
        shape,
      ),
    );
  // ".w" decays, the others do not.
  return new Map([["enc.0.fc1.w", random([7, 5])], ["enc.0.fc1.b", random([5])], [
    "table.t.value",
    random([3]),
  ]]);
}

function gradsFor(params: Params, rng: Rng, std: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const p of params.values()) {
    out[p.name] = tf.tensor(
      Float32Array.from({ length: p.size }, () => rng.normal() * std),
      p.shape,
    );
  }
  return out;
}

const read = (params: Params) => [...params.values()].map((p) => Array.from(p.dataSync()));

for (const clip of [0, 1]) {
  Deno.test(`adam: the fused step equals the tfjs-ops step (clip ${clip})`, async () => {
    await useBackend("wasm");
    const a = model(new Rng(1)), b = model(new Rng(1));
    const stateA = initAdam(a), stateB = initAdam(b);
    const settings = { lr: 0.01, weightDecay: 0.1, clipNorm: clip };
    const before = tf.memory().numTensors;
    const rng = new Rng(2);
    for (let step = 0; step < 4; step++) {
      // Large gradients, so that clipping takes part when it is on.
      const seed = rng.next();
      const gA = gradsFor(a, new Rng(seed * 1e9), 3), gB = gradsFor(b, new Rng(seed * 1e9), 3);
      assert.ok(adamStepFused(a, gA, stateA, settings));
      adamStepOps(b, gB, stateB, settings);
      tf.dispose([...Object.values(gA), ...Object.values(gB)]);
    }
    assert.equal(tf.memory().numTensors, before, "leaked tensors");
    assert.equal(stateA.step, 4);
    const pairs: [number[][], number[][]][] = [
      [read(a), read(b)],
      [read(stateA.m), read(stateB.m)],
      [read(stateA.v), read(stateB.v)],
    ];
    for (const [x, y] of pairs) {
      x.forEach((row, i) =>
        row.forEach((value, j) =>
          assert.ok(
            Math.abs(value - y[i][j]) <= 1e-6 * Math.max(1, Math.abs(y[i][j])),
            `${value} vs ${y[i][j]}`,
          )
        )
      );
    }
    // Weight decay moved the ".w" parameter away from where the moments alone would.
    assert.notDeepEqual(read(a)[0], read(model(new Rng(1)))[0]);
    tf.dispose([...a.values(), ...b.values(), ...stateA.m.values(), ...stateA.v.values()]);
    tf.dispose([...stateB.m.values(), ...stateB.v.values()]);
  });
}

Deno.test("adam: the fused step declines off the wasm backend, changing nothing", async () => {
  await useBackend("cpu");
  try {
    const params = model(new Rng(3));
    const state = initAdam(params);
    const grads = gradsFor(params, new Rng(4), 1);
    assert.equal(adamStepFused(params, grads, state, { lr: 0.1, weightDecay: 0 }), false);
    assert.equal(state.step, 0);
    tf.dispose([
      ...params.values(),
      ...Object.values(grads),
      ...state.m.values(),
      ...state.v.values(),
    ]);
  } finally {
    await useBackend("wasm");
  }
});

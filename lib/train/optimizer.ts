/**
 * AdamW with its state in plain tensors we own, so that checkpoints can store and restore it
 * exactly (tfjs's own optimisers hide theirs behind async getWeights/setWeights).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "../model/madformer.ts";
import { type WasmBackendInternals, wasmMemory, wasmViews } from "../backend/wasm_memory.ts";

/** Optimiser state: first and second moments per parameter and the step count. */
export interface AdamState {
  step: number;
  m: Map<string, tf.Variable>;
  v: Map<string, tf.Variable>;
}

/** Fresh zeroed state for the given parameters. */
export function initAdam(params: Params): AdamState {
  const m = new Map<string, tf.Variable>();
  const v = new Map<string, tf.Variable>();
  for (const [name, p] of params) {
    m.set(name, tf.variable(tf.zerosLike(p), false));
    v.set(name, tf.variable(tf.zerosLike(p), false));
  }
  return { step: 0, m, v };
}

/** Settings of one update. */
export interface AdamSettings {
  lr: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Clip gradients to this global norm first (0 = off). */
  clipNorm?: number;
}

/**
 * Applies one AdamW update; decay is not applied to biases, norms and embeddings. On the wasm
 * backend it is one pass over each parameter's memory ({@linkcode adamStepFused}); elsewhere
 * tfjs ops ({@linkcode adamStepOps}). Both compute the same update.
 */
export function adamStep(
  params: Params,
  grads: Record<string, tf.Tensor>,
  state: AdamState,
  settings: AdamSettings,
): void {
  if (!adamStepFused(params, grads, state, settings)) adamStepOps(params, grads, state, settings);
}

interface Constants {
  b1: number;
  b2: number;
  eps: number;
  /** Bias corrections 1 - beta^step of this step. */
  c1: number;
  c2: number;
}

/** Counts the step and returns its constants. */
function nextStep(state: AdamState, settings: AdamSettings): Constants {
  const b1 = settings.beta1 ?? 0.9;
  const b2 = settings.beta2 ?? 0.999;
  state.step += 1;
  return {
    b1,
    b2,
    eps: settings.eps ?? 1e-8,
    c1: 1 - Math.pow(b1, state.step),
    c2: 1 - Math.pow(b2, state.step),
  };
}

/** AdamW as tfjs ops, about 16 kernels per parameter. */
export function adamStepOps(
  params: Params,
  grads: Record<string, tf.Tensor>,
  state: AdamState,
  settings: AdamSettings,
): void {
  const { b1, b2, eps, c1, c2 } = nextStep(state, settings);
  tf.tidy(() => {
    let scale = 1;
    if (settings.clipNorm && settings.clipNorm > 0) {
      const norms = Object.values(grads).map((g) => g.square().sum());
      const total = Math.sqrt(tf.addN(norms).dataSync()[0]);
      if (total > settings.clipNorm) scale = settings.clipNorm / total;
    }
    for (const [name, p] of params) {
      // variableGrads keys gradients by variable name, which differs from the map key.
      const g0 = grads[p.name];
      if (!g0) continue;
      const g = scale === 1 ? g0 : g0.mul(scale);
      const m = state.m.get(name)!;
      const v = state.v.get(name)!;
      m.assign(m.mul(b1).add(g.mul(1 - b1)));
      v.assign(v.mul(b2).add(g.square().mul(1 - b2)));
      let update = m.div(c1).div(v.div(c2).sqrt().add(eps));
      if (decays(name)) update = update.add(p.mul(settings.weightDecay));
      p.assign(p.sub(update.mul(settings.lr)));
    }
  });
}

/**
 * AdamW in one pass over the wasm backend's memory: for each parameter, its gradient, moments
 * and value are read where they lie and the new ones written into fresh tensors (tensors are
 * immutable: others may share the old buffers). On tfjs-wasm 16 kernels per parameter took 30 ms
 * of a step for the default model's million parameters, run on one thread while the gradient
 * workers wait. Returns false, having changed nothing, when not on the wasm backend.
 */
export function adamStepFused(
  params: Params,
  grads: Record<string, tf.Tensor>,
  state: AdamState,
  settings: AdamSettings,
): boolean {
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const all = Object.values(grads);
  if (
    tf.getBackend() !== "wasm" || !wasmMemory(backend) || !backend.makeOutput ||
    [...params.values(), ...all].some((t) => t.dtype !== "float32")
  ) return false;
  const work: { name: string; p: tf.Variable; g: tf.Tensor; fresh: tf.Tensor[] }[] = [];
  for (const [name, p] of params) {
    const g = grads[p.name];
    if (!g) continue;
    // Allocate every output first: allocating may move the memory the views below read.
    const fresh = [0, 1, 2].map(() =>
      tf.engine().makeTensorFromTensorInfo(backend.makeOutput!(p.shape, "float32"))
    );
    work.push({ name, p, g, fresh });
  }
  const gradViews = wasmViews(backend, all);
  const views = work.map(({ name, p, g, fresh }) =>
    wasmViews(backend, [p, g, state.m.get(name)!, state.v.get(name)!, ...fresh])
  );
  if (!gradViews || views.some((v) => v === null)) {
    tf.dispose(work.flatMap((w) => w.fresh));
    return false;
  }
  const { b1, b2, eps, c1, c2 } = nextStep(state, settings);
  let scale = 1;
  if (settings.clipNorm && settings.clipNorm > 0) {
    let squares = 0;
    for (const g of gradViews) for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
    const total = Math.sqrt(squares);
    if (total > settings.clipNorm) scale = settings.clipNorm / total;
  }
  const lr = settings.lr;
  work.forEach(({ name, p, fresh }, k) => {
    const [pv, gv, mv, vv, np, nm, nv] = views[k]!;
    const decay = decays(name) ? settings.weightDecay : 0;
    for (let i = 0; i < pv.length; i++) {
      const g = gv[i] * scale;
      const m = b1 * mv[i] + (1 - b1) * g;
      const v = b2 * vv[i] + (1 - b2) * g * g;
      nm[i] = m;
      nv[i] = v;
      np[i] = pv[i] - lr * (m / c1 / (Math.sqrt(v / c2) + eps) + decay * pv[i]);
    }
    p.assign(fresh[0] as tf.Tensor);
    state.m.get(name)!.assign(fresh[1] as tf.Tensor);
    state.v.get(name)!.assign(fresh[2] as tf.Tensor);
    tf.dispose(fresh);
  });
  return true;
}

function decays(name: string): boolean {
  return name.endsWith(".w") && !name.startsWith("table.");
}

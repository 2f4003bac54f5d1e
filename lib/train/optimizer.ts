/**
 * AdamW with its state in plain tensors we own, so that checkpoints can store and restore it
 * exactly (tfjs's own optimisers hide theirs behind async getWeights/setWeights).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "../model/madformer.ts";

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

/** Applies one AdamW update; decay is not applied to biases, norms and embeddings. */
export function adamStep(
  params: Params,
  grads: Record<string, tf.Tensor>,
  state: AdamState,
  settings: AdamSettings,
): void {
  const b1 = settings.beta1 ?? 0.9;
  const b2 = settings.beta2 ?? 0.999;
  const eps = settings.eps ?? 1e-8;
  state.step += 1;
  const c1 = 1 - Math.pow(b1, state.step);
  const c2 = 1 - Math.pow(b2, state.step);
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

function decays(name: string): boolean {
  return name.endsWith(".w") && !name.startsWith("table.");
}

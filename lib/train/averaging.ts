/**
 * Weight averaging over the final epochs of a run (`train.averageWeights`): the running mean of
 * the weights at the end of each of those epochs is the model that validation scores and the
 * checkpoints hold, while the optimiser steps on from the latest weights. The mean of several
 * nearby points of one run sits nearer the middle of the region they share (Izmailov et al.
 * 2018, "Averaging weights leads to wider optima"); for this model it mostly steadies the
 * encoder's tokens, which the neighbour evidence reads.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { newInstance, type Params, paramVariable } from "../model/madformer.ts";
import type { TrainConfig } from "../model/config.ts";

/** The mean of the weights over `epochs` consecutive epochs so far. */
export interface WeightAverage {
  epochs: number;
  params: Params;
}

/** The first epoch whose weights join the mean (`epochs + 1`, never, when averaging is off). */
export function averagingStart(t: Pick<TrainConfig, "epochs" | "averageWeights">): number {
  return t.epochs - Math.round(t.epochs * t.averageWeights) + 1;
}

/**
 * Adds the weights at the end of an epoch to the mean; `average` null starts a new mean (its
 * variables are the caller's to free).
 */
export function addToAverage(average: WeightAverage | null, params: Params): WeightAverage {
  if (!average) {
    const instance = newInstance();
    const copy: Params = new Map();
    for (const [name, p] of params) {
      const value = p.clone();
      copy.set(name, paramVariable(name, value, instance));
      value.dispose();
    }
    return { epochs: 1, params: copy };
  }
  const k = average.epochs + 1;
  for (const [name, p] of params) {
    const mean = average.params.get(name)!;
    const next = tf.tidy(() => mean.add(p.sub(mean).div(k)));
    mean.assign(next);
    next.dispose();
  }
  return { epochs: k, params: average.params };
}

/** Frees the mean's variables. */
export function disposeAverage(average: WeightAverage | null): void {
  for (const v of average?.params.values() ?? []) v.dispose();
}

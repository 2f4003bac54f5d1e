/**
 * A gradient worker (see `parallel.ts`): holds a replica of the model in its own tfjs, takes the
 * current weights and a shard of a batch, and answers with the shard's gradients.
 *
 * Messages in: `{ kind: "init", config, tables }`, then `{ kind: "image" | "table", id, weights,
 * data, counts }`. Out: `{ kind: "ready" }`, `{ kind: "grads", id, losses, grads }` (the
 * gradients of the step's trainable parameters, in order, one flat array) or `{ kind: "error",
 * message }`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../backend/mod.ts";
import type { Config } from "../model/config.ts";
import { initParams, type Params, type TableSpec } from "../model/madformer.ts";
import { readTidy } from "../model/ops.ts";
import {
  type ImageBatchData,
  imageGradients,
  type LossCounts,
  type TableBatchData,
  tableGradients,
} from "./step.ts";
import { setWeights } from "./parallel.ts";

const port = self as unknown as Worker;
let params: Params | null = null;
let config: Config | null = null;

port.onmessage = async (event: MessageEvent) => {
  const message = event.data;
  try {
    if (message.kind === "init") {
      await useBackend("wasm");
      config = message.config as Config;
      params = initParams(config.model, message.tables as TableSpec[], 0);
      port.postMessage({ kind: "ready" });
      return;
    }
    if (!params || !config) throw new Error("gradient worker used before init");
    setWeights(params, message.weights as Float32Array);
    const counts = message.counts as LossCounts;
    const shard = message.kind === "image"
      ? imageGradients(params, config, message.data as ImageBatchData, counts)
      : tableGradients(params, config, message.data as TableBatchData, counts);
    const grads = [...shard.grads.values()];
    const flat = grads.length > 0
      ? readTidy(() => tf.concat(grads.map((g) => g.reshape([-1]))))
      : new Float32Array(0);
    for (const g of grads) g.dispose();
    port.postMessage(
      { kind: "grads", id: message.id, losses: shard.losses, keys: [...shard.grads.keys()], flat },
      [flat.buffer as ArrayBuffer],
    );
  } catch (e) {
    port.postMessage({ kind: "error", message: (e as Error).message ?? String(e) });
  }
};

/**
 * Data-parallel training steps on several cores. The wasm backend runs on one thread, so a
 * step of a batch of 16 uses one core of two; a pool of gradient workers (`grad_worker.ts`, each
 * with its own tfjs and a replica of the model) takes shards of the batch. Each step this thread
 * sends the current weights and a shard to every worker, computes its own shard meanwhile, adds
 * the workers' gradients to its own and applies AdamW once: the replicas never hold state of
 * their own, so checkpoints, resume and the optimiser are as in one thread. The losses are sums
 * over each shard divided by counts of the whole batch (`step.ts`), so the summed gradients are
 * the whole batch's, up to the order of float additions.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Config } from "../model/config.ts";
import type { Params, TableSpec } from "../model/madformer.ts";
import { readTidy } from "../model/ops.ts";
import { MadError } from "../errors.ts";
import { errorFromMessage } from "../model/backend_failure.ts";
import type { AdamState } from "./optimizer.ts";
import {
  applyGradients,
  type ImageBatchData,
  imageCounts,
  imageGradients,
  imageShard,
  type LossCounts,
  type Losses,
  type ShardGradients,
  type TableBatchData,
  tableCounts,
  tableGradients,
  tableShard,
} from "./step.ts";

/** Every parameter, flattened and concatenated in the map's order. */
export function getWeights(params: Params): Float32Array {
  return readTidy(() => tf.concat([...params.values()].map((p) => p.reshape([-1]))));
}

/** Assigns weights laid out as {@linkcode getWeights} gives them. */
export function setWeights(params: Params, flat: Float32Array): void {
  const total = [...params.values()].reduce((s, p) => s + p.size, 0);
  if (flat.length !== total) {
    throw new Error(`weights: ${flat.length} values for ${total} parameters`);
  }
  let offset = 0;
  for (const p of params.values()) {
    tf.tidy(() => p.assign(tf.tensor(flat.subarray(offset, offset + p.size), p.shape)));
    offset += p.size;
  }
}

/** The sizes of `shards` near-equal parts of n rows (no empty ones). */
export function shardSizes(n: number, shards: number): number[] {
  const k = Math.max(1, Math.min(shards, n));
  return Array.from(
    { length: k },
    (_, i) => Math.floor((n * (i + 1)) / k) - Math.floor((n * i) / k),
  );
}

interface Reply {
  losses: Losses;
  keys: string[];
  flat: Float32Array;
}

/** A pool of gradient workers: `shards - 1` workers plus this thread. */
export class GradientPool {
  readonly shards: number;
  #workers: Worker[];
  #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #failure: Error | null = null;

  private constructor(workers: Worker[], shards: number) {
    this.#workers = workers;
    this.shards = shards;
  }

  /** Workers running (shards - 1 until closed). */
  get workers(): number {
    return this.#workers.length;
  }

  /**
   * Starts `shards - 1` workers, each with a replica of the model of `config` and `tables`
   * (weights come with every step). `shards` 1 gives a pool that steps in this thread alone.
   */
  static async start(shards: number, config: Config, tables: TableSpec[]): Promise<GradientPool> {
    if (!Number.isInteger(shards) || shards < 1) {
      throw new MadError(`gradient workers: shards must be a positive integer, got ${shards}`);
    }
    const workers: Worker[] = [];
    const pool = new GradientPool(workers, shards);
    try {
      await Promise.all(Array.from({ length: shards - 1 }, async () => {
        const worker = new Worker(new URL("./grad_worker.ts", import.meta.url), {
          type: "module",
        });
        workers.push(worker);
        await new Promise<void>((resolve, reject) => {
          worker.onmessage = (e) =>
            e.data.kind === "ready"
              ? resolve()
              : reject(new MadError(`gradient worker: ${e.data.message}`));
          worker.onerror = (e) => {
            e.preventDefault();
            reject(new MadError(`gradient worker failed to start: ${e.message}`));
          };
          worker.postMessage({ kind: "init", config, tables });
        });
        worker.onmessage = (e) => pool.#receive(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          pool.#fail(errorFromMessage(`gradient worker crashed: ${e.message}`));
        };
      }));
    } catch (e) {
      pool.close();
      throw e;
    }
    return pool;
  }

  /** The gradients of a whole image batch, its shards computed over the pool. */
  imageGradients(params: Params, config: Config, data: ImageBatchData): Promise<ShardGradients> {
    const counts = imageCounts(config, data);
    return this.#gradients(params, "image", counts, data.n, (from, to) => {
      const shard = imageShard(data, from, to);
      return { shard, local: () => imageGradients(params, config, shard, counts) };
    });
  }

  /** The gradients of a whole table batch over the pool. */
  tableGradients(params: Params, config: Config, data: TableBatchData): Promise<ShardGradients> {
    const counts = tableCounts(config, data);
    return this.#gradients(params, "table", counts, data.n, (from, to) => {
      const shard = tableShard(data, from, to);
      return { shard, local: () => tableGradients(params, config, shard, counts) };
    });
  }

  /** One image step of the whole batch over the pool: gradients of every shard, one AdamW. */
  async imageStep(
    params: Params,
    adam: AdamState,
    config: Config,
    data: ImageBatchData,
    lr: number,
  ): Promise<Losses> {
    const grads = await this.imageGradients(params, config, data);
    return applyGradients(params, adam, config, grads, lr);
  }

  /** One table step of the whole batch over the pool. */
  async tableStep(
    params: Params,
    adam: AdamState,
    config: Config,
    data: TableBatchData,
    lr: number,
  ): Promise<Losses> {
    const grads = await this.tableGradients(params, config, data);
    return applyGradients(params, adam, config, grads, lr);
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
    this.#fail(new MadError("gradient workers closed"));
  }

  async #gradients(
    params: Params,
    kind: "image" | "table",
    counts: LossCounts,
    n: number,
    cut: (
      from: number,
      to: number,
    ) => { shard: ImageBatchData | TableBatchData; local: () => ShardGradients },
  ): Promise<ShardGradients> {
    if (this.#failure) throw this.#failure;
    const sizes = shardSizes(n, this.shards);
    const bounds = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const weights = sizes.length > 1 ? getWeights(params) : null;
    const replies = sizes.slice(1).map((size, i) => {
      const from = bounds[i + 1];
      const { shard } = cut(from, from + size);
      const id = this.#nextId++;
      const copy = weights!.slice();
      const reply = new Promise<Reply>((resolve, reject) =>
        this.#pending.set(id, { resolve, reject })
      );
      this.#workers[i].postMessage({ kind, id, weights: copy, data: shard, counts }, [
        copy.buffer as ArrayBuffer,
      ]);
      return reply;
    });
    // Observed now: should this thread's shard throw (out of memory), a worker's failure or the
    // pool's closing must not surface as an unhandled rejection hiding that error.
    const all = Promise.all(replies);
    all.catch(() => {});
    // This thread's shard runs while the workers run theirs.
    const own = cut(0, sizes[0]).local();
    let answers: Reply[];
    try {
      answers = await all;
    } catch (e) {
      for (const g of own.grads.values()) g.dispose();
      throw e;
    }
    const losses = { ...own.losses };
    for (const answer of answers) {
      losses.loss += answer.losses.loss;
      losses.recon += answer.losses.recon;
      losses.anomaly += answer.losses.anomaly;
      let offset = 0;
      for (const key of answer.keys) {
        const p = params.get(key)!;
        const theirs = tf.tensor(answer.flat.subarray(offset, offset + p.size), p.shape);
        offset += p.size;
        const mine = own.grads.get(key);
        own.grads.set(key, mine ? tf.tidy(() => mine.add(theirs)) : theirs);
        if (mine) {
          mine.dispose();
          theirs.dispose();
        }
      }
    }
    return { grads: own.grads, losses };
  }

  #receive(message: { kind: string; id: number; message?: string } & Partial<Reply>): void {
    if (message.kind === "error") {
      this.#fail(errorFromMessage(`gradient worker: ${message.message}`));
      return;
    }
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    pending?.resolve(message as unknown as Reply);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}

/**
 * Checkpoints: model weights, optimiser state, memory banks and scoring statistics as
 * safetensors tensors; config, tables, dataset splits, normalisation and training progress as
 * JSON in the metadata. Written atomically, versioned, and checked on load.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Config } from "../model/config.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../model/config.ts";
import {
  initParams,
  newInstance,
  type Params,
  paramVariable,
  type TableSpec,
} from "../model/madformer.ts";
import type { MemoryBank } from "../model/knn.ts";
import type { KeyStats } from "../model/detector.ts";
import type { AdamState } from "./optimizer.ts";
import type { DatasetRecord } from "./datasets.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { writeFileAtomic } from "../cli.ts";
import { isNotFound, MadError } from "../errors.ts";

/** Identifies our checkpoints and their layout version. */
export const CHECKPOINT_FORMAT = "madformer-checkpoint";
export const CHECKPOINT_VERSION = 1;

/** Where a run stands, for `--resume`. */
export interface TrainingProgress {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken. */
  step: number;
  /** State of the run's random stream after `epoch`. */
  rngState: number;
  bestMetric: number;
  bestEpoch: number;
}

/** Everything a checkpoint holds. */
export interface Checkpoint {
  config: Config;
  tables: TableSpec[];
  datasets: DatasetRecord[];
  params: Params;
  adam: AdamState | null;
  banks: Map<string, MemoryBank>;
  stats: Record<string, KeyStats>;
  progress: TrainingProgress;
}

/** Serialises a checkpoint to safetensors bytes. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const tensors = new Map<string, NamedTensor>();
  const put = (name: string, t: tf.Tensor) =>
    tensors.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
  for (const [name, p] of ckpt.params) put(`param.${name}`, p);
  if (ckpt.adam) {
    for (const [name, m] of ckpt.adam.m) put(`adam.m.${name}`, m);
    for (const [name, v] of ckpt.adam.v) put(`adam.v.${name}`, v);
  }
  for (const [key, bank] of ckpt.banks) {
    tensors.set(`bank.${key}`, { shape: [bank.dim, bank.rows], data: bank.transposed });
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    config: JSON.stringify(ckpt.config),
    tables: JSON.stringify(ckpt.tables),
    datasets: JSON.stringify(ckpt.datasets),
    stats: JSON.stringify(ckpt.stats),
    progress: JSON.stringify(ckpt.progress),
    adam_step: String(ckpt.adam?.step ?? 0),
  };
  return encodeSafetensors(tensors, metadata);
}

/** Writes a checkpoint atomically (a kill mid-write leaves the previous file intact). */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ckpt));
}

/** Reads and checks a checkpoint; every problem is a one-line error naming the file. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new MadError(
      `${path}: ${isNotFound(e) ? "checkpoint not found" : "cannot read checkpoint"}`,
    );
  }
  return decodeCheckpoint(bytes, path);
}

/** Parses checkpoint bytes (see {@linkcode loadCheckpoint}). */
export function decodeCheckpoint(bytes: Uint8Array, path: string): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const fail = (problem: string): never => {
    throw new MadError(`${path}: ${problem}`);
  };
  if (metadata.format !== CHECKPOINT_FORMAT) fail("not a MADformer checkpoint (no format tag)");
  if (Number(metadata.version) !== CHECKPOINT_VERSION) {
    fail(
      `checkpoint format version ${metadata.version}, this MADformer reads ${CHECKPOINT_VERSION}`,
    );
  }
  const json = <T>(key: string): T => {
    try {
      return JSON.parse(metadata[key]) as T;
    } catch {
      return fail(`metadata '${key}' is missing or not JSON`);
    }
  };
  const config = mergeConfig(DEFAULT_CONFIG, json<unknown>("config"), `${path} (config)`);
  const tables = json<TableSpec[]>("tables");
  // The expected parameter set and shapes come from the config, so a checkpoint from another
  // config or a damaged one is caught here rather than deep inside a forward pass.
  const expected = expectedShapes(config, tables);
  const params: Params = new Map();
  const instance = newInstance();
  for (const [name, shape] of expected) {
    const t = tensors.get(`param.${name}`);
    if (!t) fail(`parameter ${name} is missing`);
    if (t!.shape.join("x") !== shape.join("x")) {
      fail(`parameter ${name} has shape ${t!.shape.join("x")}, expected ${shape.join("x")}`);
    }
    params.set(name, paramVariable(name, tf.tensor(t!.data, t!.shape), instance));
  }
  let adam: AdamState | null = null;
  if (tensors.has(`adam.m.${[...expected.keys()][0]}`)) {
    const m = new Map<string, tf.Variable>();
    const v = new Map<string, tf.Variable>();
    for (const [name, shape] of expected) {
      const mt = tensors.get(`adam.m.${name}`);
      const vt = tensors.get(`adam.v.${name}`);
      if (!mt || !vt) fail(`optimiser state for ${name} is missing`);
      m.set(name, tf.variable(tf.tensor(mt!.data, shape), false));
      v.set(name, tf.variable(tf.tensor(vt!.data, shape), false));
    }
    adam = { step: Number(metadata.adam_step ?? 0), m, v };
  }
  const banks = new Map<string, MemoryBank>();
  for (const [name, t] of tensors) {
    if (!name.startsWith("bank.")) continue;
    banks.set(name.slice(5), { dim: t.shape[0], rows: t.shape[1], transposed: t.data });
  }
  return {
    config,
    tables,
    datasets: json<DatasetRecord[]>("datasets"),
    params,
    adam,
    banks,
    stats: json<Record<string, KeyStats>>("stats"),
    progress: json<TrainingProgress>("progress"),
  };
}

/** Frees the tensors a checkpoint holds. */
export function disposeCheckpoint(ckpt: Checkpoint): void {
  for (const v of ckpt.params.values()) v.dispose();
  if (ckpt.adam) {
    for (const v of ckpt.adam.m.values()) v.dispose();
    for (const v of ckpt.adam.v.values()) v.dispose();
  }
}

/** Parameter shapes a config implies, without keeping any tensors. */
function expectedShapes(config: Config, tables: TableSpec[]): Map<string, number[]> {
  const fresh = initParams(config.model, tables, 0);
  const shapes = new Map([...fresh].map(([n, v]) => [n, [...v.shape]]));
  for (const v of fresh.values()) v.dispose();
  return shapes;
}

/**
 * What a checkpoint stores for scoring one dataset key: its memory banks by evidence component
 * and its fitted statistics. Training reads them to resume; evaluation and scoring to score.
 *
 * @module
 */
import type { Checkpoint } from "./checkpoint.ts";
import type { FittedKey } from "../model/scorer.ts";
import type { MemoryBank } from "../model/knn.ts";
import { MadError } from "../errors.ts";

/** The memory banks a checkpoint stores for a dataset key, by component. */
export function banksOf(ckpt: Checkpoint, key: string): Record<string, MemoryBank> {
  const out: Record<string, MemoryBank> = {};
  for (const [name, bank] of ckpt.banks) {
    const [k, component] = name.split("|");
    if (k === key && component) out[component] = bank;
  }
  return out;
}

/** The fitted scorer a checkpoint stores for a dataset key. */
export function fittedFor(ckpt: Checkpoint, key: string): FittedKey {
  const stats = ckpt.stats[key];
  if (!stats) throw new MadError(`checkpoint has no scoring statistics for ${key}`);
  return { banks: banksOf(ckpt, key), stats };
}

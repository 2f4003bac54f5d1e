/**
 * What a resumed run may change. The checkpoint's config wins, except for the number of epochs;
 * with a config chosen explicitly, its evidence and scoring settings take over too, since every
 * validation rebuilds the banks and refits the statistics from the weights, while a difference in
 * a setting the weights depend on (architecture, training: see `CONFIG_GROUPS`) is refused.
 *
 * @module
 */
import {
  type Config,
  CONFIG_GROUPS,
  type ConfigGroup,
  type ModelConfig,
  type TrainConfig,
} from "../model/config.ts";
import { MadError } from "../errors.ts";

/** The groups of model settings the trained weights depend on: a resumed run keeps them. */
export const FIXED_ON_RESUME: readonly ConfigGroup[] = ["architecture", "training"];

/** The config a resumed run continues with, and a line saying which settings it took over. */
export interface ResumedConfig {
  config: Config;
  /** Names the evidence and scoring settings that changed, or null when none did. */
  note: string | null;
}

/**
 * The config a resumed run continues with: the checkpoint's (`saved`), with `epochs` as the
 * total to reach. With an explicitly chosen `wanted` config its evidence and scoring settings
 * replace the checkpoint's; a difference in an architecture or training setting is refused with
 * a one-line MadError naming the settings. `given` names where each explicitly set training
 * setting came from (`--lr`, `cfg.json: train.lr`); one whose value differs from the
 * checkpoint's is refused the same way, except `epochs` (the epoch to reach) and `shards` (the
 * same gradients up to rounding).
 */
export function resumeConfig(
  saved: Config,
  wanted: Config,
  path: string,
  explicitConfig: boolean,
  epochs: number | undefined,
  given: Partial<Record<keyof TrainConfig, string>> = {},
): ResumedConfig {
  const trainChanged = (Object.keys(given) as Array<keyof TrainConfig>).filter((k) =>
    k !== "epochs" && k !== "shards" &&
    JSON.stringify(saved.train[k]) !== JSON.stringify(wanted.train[k])
  );
  if (trainChanged.length > 0) {
    const values = trainChanged.map((k) =>
      `${given[k]} ${JSON.stringify(wanted.train[k])} (the checkpoint's ${k} is ` +
      `${JSON.stringify(saved.train[k])})`
    );
    throw new MadError(
      `${path}: a resumed run keeps its training settings; refused ${values.join(", ")}; ` +
        `only --epochs may change: leave these out, or start a new run (without --resume)`,
    );
  }
  // The run's own epoch count unless a new one was asked for (to extend the run).
  const total = epochs ?? (explicitConfig ? wanted.train.epochs : saved.train.epochs);
  // `shards` only cuts each batch for parallel gradients: a new value is taken.
  const train = {
    ...saved.train,
    epochs: total,
    shards: given.shards ? wanted.train.shards : saved.train.shards,
  };
  const changed = explicitConfig ? differingKeys(saved.model, wanted.model) : [];
  const fixed = changed.filter((k) => FIXED_ON_RESUME.includes(CONFIG_GROUPS[k]));
  if (fixed.length > 0) {
    throw new MadError(
      `${path}: cannot resume with a different model config (differs in ${fixed.join(", ")})`,
    );
  }
  if (changed.length === 0) return { config: { ...saved, train }, note: null };
  const model = { ...saved.model } as unknown as Record<string, unknown>;
  for (const k of changed) model[k] = structuredClone(wanted.model[k]);
  const values = changed.map((k) =>
    `${k} ${JSON.stringify(saved.model[k])} -> ${JSON.stringify(wanted.model[k])}`
  );
  return {
    config: { ...saved, model: model as unknown as ModelConfig, train },
    note: `resuming with new evidence and scoring settings: ${values.join(", ")} ` +
      `(banks and statistics are refitted at every validation; the best epoch so far was ` +
      `chosen with the old ones)`,
  };
}

/** The model settings whose values differ, in the config's order. */
function differingKeys(a: ModelConfig, b: ModelConfig): Array<keyof ModelConfig> {
  return (Object.keys(a) as Array<keyof ModelConfig>).filter((k) =>
    JSON.stringify(a[k]) !== JSON.stringify(b[k])
  );
}

/**
 * What a resumed run may change: the checkpoint's config wins, except for the number of epochs.
 *
 * @module
 */
import type { Config } from "../model/config.ts";
import { MadError } from "../errors.ts";

/**
 * The config a resumed run continues with: the checkpoint's, with `epochs` as the total to reach.
 * With an explicitly chosen `wanted` config the model configs must agree (see
 * {@linkcode assertCompatible}).
 */
export function resumeConfig(
  saved: Config,
  wanted: Config,
  path: string,
  explicitConfig: boolean,
  epochs: number | undefined,
): Config {
  if (explicitConfig) assertCompatible(saved, wanted, path);
  // The run's own epoch count unless a new one was asked for (to extend the run).
  const total = epochs ?? (explicitConfig ? wanted.train.epochs : saved.train.epochs);
  return { ...saved, train: { ...saved.train, epochs: total } };
}

/** Refuses, naming the keys, a model config that differs from the checkpoint's. */
export function assertCompatible(saved: Config, wanted: Config, path: string): void {
  const a = JSON.stringify(saved.model);
  const b = JSON.stringify(wanted.model);
  if (a !== b) {
    const diff = Object.keys(saved.model).filter((k) =>
      JSON.stringify((saved.model as unknown as Record<string, unknown>)[k]) !==
        JSON.stringify((wanted.model as unknown as Record<string, unknown>)[k])
    );
    throw new MadError(
      `${path}: cannot resume with a different model config (differs in ${diff.join(", ")})`,
    );
  }
}

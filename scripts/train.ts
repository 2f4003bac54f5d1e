/**
 * `deno task train`: trains MADformer on image folders and tables (by default on what
 * `deno task data` prepared), validating every epoch and keeping the best checkpoint.
 *
 * @module
 */
import { join } from "node:path";
import { numberFlag, parseFlags, runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import { backendFailure } from "../lib/backend/failure.ts";
import { type BackendName, useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, loadConfigFile, mergeConfig } from "../lib/model/config.ts";
import { train } from "../lib/train/loop.ts";
import { defaultDataPaths } from "../lib/data/sources.ts";

const USAGE = "usage: deno task train [--images DIR]... [--table FILE]... [--config FILE.json] " +
  "[--epochs N] [--batch-size N] [--lr X] [--seed N] [--shards N] [--resume CKPT] [--out DIR] " +
  "[--backend auto|wasm|cpu|tensorflow] [--quiet]";

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    images: { type: "string", multiple: true },
    table: { type: "string", multiple: true },
    config: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    shards: { type: "string" },
    resume: { type: "string" },
    out: { type: "string" },
    backend: { type: "string", default: "auto" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) return console.log(USAGE);
  // On resume without --config the checkpoint's own config is the base (see train()).
  const base = flags.config ? await loadConfigFile(flags.config) : DEFAULT_CONFIG;
  const train_: Record<string, number> = {};
  const set = (key: string, flag: string, value: string | undefined) => {
    const n = numberFlag(flag, value);
    if (n !== undefined) train_[key] = n;
  };
  set("epochs", "epochs", flags.epochs);
  set("batchSize", "batch-size", flags["batch-size"]);
  set("lr", "lr", flags.lr);
  set("seed", "seed", flags.seed);
  set("shards", "shards", flags.shards);
  const config = mergeConfig(base, { train: train_ }, "command-line flags");

  let imageDirs = flags.images ?? [];
  let tablePaths = flags.table ?? [];
  if (imageDirs.length + tablePaths.length === 0 && !flags.resume) {
    const prepared = defaultDataPaths("data");
    imageDirs = prepared.imagesDirs;
    tablePaths = exists(prepared.thyroidMat) ? [prepared.thyroidMat] : [];
    if (imageDirs.length + tablePaths.length === 0) {
      throw new MadError(
        "no training data: run `deno task data` first, or give --images DIR / --table FILE",
      );
    }
  }
  await useBackend(flags.backend as BackendName);
  const out = flags.out ?? join("results", new Date().toISOString().replace(/[:.]/g, "-"));
  // SIGINT / SIGTERM: finish the current step, checkpoint, and exit 130 / 143.
  let signal: Deno.Signal | null = null;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const listener = () => {
      if (signal) Deno.exit(name === "SIGINT" ? 130 : 143); // a second signal: stop now
      signal = name;
      console.error(`${name}: finishing the current step, then writing a checkpoint`);
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  const data = flags.resume ?? [...imageDirs, ...tablePaths].join(", ");
  const result = await train({
    config,
    imageDirs,
    tablePaths,
    out,
    resume: flags.resume,
    epochs: numberFlag("epochs", flags.epochs),
    explicitConfig: Boolean(flags.config),
    cacheDir: join("data", ".cache", "images"),
    quiet: flags.quiet,
    shouldStop: () => signal !== null,
  }).catch((e) => {
    throw backendFailure(e, `training on ${data}`);
  });
  for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  if (result.stoppedEarly) {
    console.error(
      `stopped by ${signal} after epoch ${result.epochs}; resume with ` +
        `deno task train --resume ${result.last}`,
    );
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  }
  console.log(
    `best epoch ${result.bestEpoch} (validation AUROC ${result.bestMetric.toFixed(4)}): ` +
      `${result.best}`,
  );
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

if (import.meta.main) await runMain(main);

/**
 * `deno task notebooks` (`--help` lists the flags): executes every notebook in `notebooks/`
 * headless (nbconvert with the Deno kernel) and writes one offline HTML report per notebook. Tiny
 * synthetic setup by default; `--full` runs them on `data/`; `--images` and `--table` on a user's
 * own datasets.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import {
  asFolder,
  counted,
  defineCommand,
  helpText,
  parseFlags,
  userFolder,
} from "../lib/util/mod.ts";
import { CHECKPOINT_ENV, namedCheckpoint } from "../lib/notebook/data.ts";
import { runNotebooks } from "../lib/notebook/export.ts";
import { TABLE_FORMATS } from "../lib/data/table_name.ts";
import { checkTrainingSources } from "../lib/train/mod.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import { tinyConfig } from "../lib/experiment/setup.ts";
import { namesData } from "../lib/experiment/data_set.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task notebooks",
  summary: "executes the notebooks in notebooks/ headless (nbconvert with the Deno Jupyter " +
    "kernel, registered on first use) and writes one offline HTML report per notebook.",
  flags: {
    full: {
      type: "boolean",
      default: false,
      description: "the default model on data/ (long) instead of the tiny one on synthetic data",
    },
    only: {
      type: "string",
      multiple: true,
      value: "NAME",
      description: "only notebooks whose file name contains NAME; repeat for more",
      defaultText: "all",
    },
    out: {
      type: "string",
      default: "results/reports",
      value: "DIR",
      description: "folder for the HTML reports",
    },
    work: {
      type: "string",
      default: "results/notebooks",
      value: "DIR",
      description: "folder the notebooks write their data and runs to",
    },
    images: {
      type: "string",
      multiple: true,
      value: "DIR",
      description: "image category folder (MVTec AD or course layout) to run on; repeat for more",
      defaultText: "data/'s categories with --full, else synthetic images",
    },
    table: {
      type: "string",
      multiple: true,
      value: "FILE",
      description: `table (${TABLE_FORMATS}) to run on; repeat for more`,
      defaultText: "data/'s thyroid with --full, else a synthetic table",
    },
  },
  notes: [
    "--images and --table replace the datasets, not the model: with --full the default model " +
    "runs on them, without it the tiny one; in JupyterLab, MADFORMER_IMAGES and MADFORMER_TABLES " +
    "(paths joined by ':') do the same",
  ],
  examples: [
    "deno task notebooks",
    "deno task notebooks --full --only 03_ablation",
    "deno task notebooks --full --images data/images/dev/screw --table data/tables/adbench/44_Wilt.npz --out results/reports-dev",
  ],
});

/** The paths given, each checked to exist, so a typo fails before any notebook starts. */
function existing(flag: string, paths: string[] | undefined): string[] {
  for (const path of paths ?? []) {
    try {
      Deno.statSync(path);
    } catch {
      throw new MadError(`${path}: no such file or folder (given to --${flag})`);
    }
  }
  return paths ?? [];
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const started = performance.now();
  // A checkpoint named for 04 is read from where the task was started (the kernel runs in
  // notebooks/) and passed on absolute; a name that finds no file stops here, before 04 would
  // evaluate some other model under it.
  const checkpoint = namedCheckpoint((name) => Deno.env.get(name), {
    root: userFolder(),
    here: userFolder(),
  });
  if (checkpoint) Deno.env.set(CHECKPOINT_ENV, checkpoint);
  const data = {
    imageDirs: existing("images", flags.images),
    tablePaths: existing("table", flags.table),
  };
  // What training would refuse (a table without labels, a category without train/good) is
  // refused here, before the first notebook runs on it for minutes.
  if (namesData(data)) {
    await checkTrainingSources(data, flags.full ? DEFAULT_CONFIG : tinyConfig());
  }
  const reports = await runNotebooks({
    // The repository's notebooks wherever the task runs from; --out and --work stay relative
    // to the working folder.
    notebooksDir: fileURLToPath(new URL("../notebooks", import.meta.url)),
    outDir: flags.out,
    workDir: flags.work,
    full: flags.full,
    data,
    only: flags.only,
    onProgress: (line) => console.error(line),
  });
  console.log(
    `${counted(reports.length, "report")} in ${asFolder(flags.out)} (${
      ((performance.now() - started) / 1000).toFixed(0)
    } s)`,
  );
  const incomplete = reports.filter((r) => r.lostDisplays > 0);
  if (incomplete.length > 0) {
    // The reports are kept, but a run that says it succeeded would hide what they lack.
    throw new MadError(
      `${incomplete.map((r) => `${r.html} lacks ${r.lostDisplays} displays`).join("; ")}: ` +
        "the Deno kernel lost them in every run; run deno task notebooks --only NAME again",
    );
  }
}

if (import.meta.main) await runMain(main);

/**
 * `deno task notebooks` (`--help` lists the flags): executes every notebook in `notebooks/`
 * headless (nbconvert with the Deno kernel) and writes one offline HTML report per notebook. Tiny
 * synthetic setup by default; `--full` runs them on `data/`.
 *
 * @module
 */
import { runMain } from "../lib/cli.ts";
import { defineCommand, helpText, parseFlags } from "../lib/util/mod.ts";
import { runNotebooks } from "../lib/report/notebook_export.ts";

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
  },
  examples: ["deno task notebooks", "deno task notebooks --full --only 03_ablation"],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const started = performance.now();
  const reports = await runNotebooks({
    notebooksDir: "notebooks",
    outDir: flags.out,
    workDir: flags.work,
    full: flags.full,
    only: flags.only,
    onProgress: (line) => console.error(line),
  });
  console.log(
    `${reports.length} reports in ${flags.out}/ (${
      ((performance.now() - started) / 1000).toFixed(0)
    } s)`,
  );
}

if (import.meta.main) await runMain(main);

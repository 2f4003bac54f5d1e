/**
 * `deno task notebooks [--full] [--only NAME]... [--out results/reports]`: executes every
 * notebook in `notebooks/` headless (nbconvert with the Deno kernel) and writes one offline HTML
 * report per notebook. Tiny synthetic setup by default; `--full` runs them on `data/`.
 *
 * @module
 */
import { parseFlags, runMain } from "../lib/cli.ts";
import { runNotebooks } from "../lib/report/notebook_export.ts";

const USAGE = "usage: deno task notebooks [--full] [--only NAME]... [--out results/reports] " +
  "[--work results/notebooks]";

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    full: { type: "boolean", default: false },
    only: { type: "string", multiple: true },
    out: { type: "string", default: "results/reports" },
    work: { type: "string", default: "results/notebooks" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) return console.log(USAGE);
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

/**
 * `deno task data [--from DIR_OR_URL] [--only NAME] [--url NAME=URL] [--dest DIR]`: fetches
 * the datasets into `data/` (official downloads by default, or a prepared folder / URL base
 * with `--from`) and prints what is there.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Progress, runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import {
  byteProgress,
  copyFromLocal,
  fetchFromBase,
  fetchSources,
  summarizeDataDir,
} from "../lib/data/download.ts";
import {
  defaultDataPaths,
  parseUrlOverrides,
  selectSources,
  sourceNames,
  urlKeys,
} from "../lib/data/sources.ts";
import { datasetFigures } from "../lib/data/inspect.ts";

const USAGE =
  "usage: deno task data [--from DIR_OR_URL] [--only NAME[,NAME]] [--url NAME=URL] [--dest DIR]";

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        from: { type: "string" },
        only: { type: "string", multiple: true },
        url: { type: "string", multiple: true },
        dest: { type: "string", default: "data" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    const message = e instanceof Error ? e.message.split(". ")[0] : String(e);
    throw new MadError(`${message} (${USAGE})`, 2);
  }
}

async function main(): Promise<void> {
  const flags = parse(Deno.args);
  if (flags.help) {
    console.log(USAGE);
    console.log(`sources: ${sourceNames().join(", ")}`);
    console.log(`--url names (or MADFORMER_URL_<NAME>): ${urlKeys().join(", ")}`);
    return;
  }
  const only = flags.only ?? [];
  const dest = flags.dest;
  const sources = selectSources(only); // validates --only before any work
  const overrides = parseUrlOverrides(flags.url ?? []);
  if (flags.from !== undefined) {
    const isUrl = /^https?:\/\//i.test(flags.from);
    console.error(`${isUrl ? "fetching" : "copying"} from ${flags.from} into ${dest}/`);
    let bar: Progress | null = null;
    const onFile = (_rel: string, _bytes: number, done: number, total: number) => {
      bar ??= new Progress("files", total);
      if (done === total) bar.done();
      else bar.tick();
    };
    const copied = isUrl
      ? await fetchFromBase(flags.from, dest, { only, onFile })
      : await copyFromLocal(flags.from, dest, { only, onFile });
    console.error(`${copied.length} files ${isUrl ? "downloaded" : "copied"}`);
  } else {
    await fetchSources(sources, dest, { overrides, progress: byteProgress });
  }
  console.log(`\ndata in ${dest}/:`);
  for (const line of await summarizeDataDir(dest)) console.log(`  ${line}`);
  const paths = defaultDataPaths(dest);
  console.log(
    `training defaults: thyroid ${paths.thyroidMat}; images ${
      paths.imagesDirs.length > 0 ? paths.imagesDirs.join(", ") : "(none)"
    }`,
  );
  console.log("what the loaders see:");
  for (const line of await datasetFigures(paths)) console.log(`  ${line}`);
}

if (import.meta.main) await runMain(main);

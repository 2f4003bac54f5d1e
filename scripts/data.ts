/**
 * `deno task data` (`--help` lists the flags): fetches the datasets into `data/` (official
 * downloads by default, or a prepared folder / URL base with `--from`) and prints what is there.
 *
 * @module
 */
import {
  asFolder,
  checkOutputFolder,
  counted,
  defineCommand,
  helpText,
  isFile,
  parseFlags,
  Progress,
  samePath,
} from "../lib/util/mod.ts";
import { runMain } from "../lib/cli.ts";
import {
  byteProgress,
  copyFromLocal,
  fetchFromBase,
  fetchSources,
  summarizeDataDir,
} from "../lib/data/download.ts";
import {
  type DataPaths,
  defaultDataPaths,
  parseUrlOverrides,
  selectSources,
  sourceNames,
  urlKeySummary,
} from "../lib/data/sources.ts";
import { datasetFigures } from "../lib/data/inspect.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task data",
  summary: "fetches the datasets into data/ (official downloads, resumed and checksummed, or a " +
    "prepared folder or URL base with --from) and prints what the loaders see there.",
  flags: {
    from: {
      type: "string",
      value: "DIR_OR_URL",
      description: "copy a prepared folder, or fetch the same layout under a URL base",
      defaultText: "the official downloads",
    },
    only: {
      type: "string",
      multiple: true,
      value: "NAME[,NAME]",
      description: "only these sources (names below)",
      defaultText: selectSources().map((s) => s.name).join(", "),
    },
    url: {
      type: "string",
      multiple: true,
      value: "NAME=URL",
      description: "download NAME from URL instead (names below; or MADFORMER_URL_<NAME>)",
    },
    dest: {
      type: "string",
      default: "data",
      value: "DIR",
      description: "where the datasets go",
    },
  },
  notes: [
    `sources: ${sourceNames().join(", ")}`,
    `--url names (or MADFORMER_URL_<NAME>): ${urlKeySummary().join(", ")}`,
  ],
  examples: [
    "deno task data",
    "deno task data --only thyroid",
    "deno task data --from ../shared/datasets",
    "deno task data --only adbench,screw   # the dev suite for deno task benchmark",
    "deno task data --only mvtec-more      # the 12 other MVTec AD categories (about 4 GB)",
    "deno task data --only bottle,cable    # or some of them",
    "deno task data --url hazelnut=https://mirror/hazelnut.tar.xz",
  ],
});

/**
 * The line saying what `deno task train` trains on from `dest`. `train` without `--images` or
 * `--table` reads the project's `data/` only, so for `data/` it names those defaults (`training
 * defaults: thyroid data/thyroid/odds/thyroid.mat; images ...`); for another `--dest` it gives the
 * flags that train on what is there (`deno task train --table DIR/... --images DIR/...`).
 */
export function trainingLine(dest: string, paths: DataPaths, hasThyroid: boolean): string {
  const tables = hasThyroid ? [paths.thyroidMat] : [];
  if (samePath(dest, "data")) {
    const images = paths.imagesDirs.length > 0 ? paths.imagesDirs.join(", ") : "(none)";
    return `training defaults: thyroid ${tables[0] ?? "(none)"}; images ${images}`;
  }
  const flags = [
    ...tables.map((t) => `--table ${t}`),
    ...paths.imagesDirs.map((d) => `--images ${d}`),
  ];
  return flags.length === 0
    ? `deno task train reads data/ by default, not ${
      asFolder(dest)
    }: give it --images DIR / --table FILE`
    : `deno task train reads data/ by default, not ${asFolder(dest)}; to train on this: ` +
      `deno task train ${flags.join(" ")}`;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const only = flags.only ?? [];
  const dest = flags.dest;
  const sources = selectSources(only); // validates --only before any work
  const overrides = parseUrlOverrides(flags.url ?? []);
  checkOutputFolder(dest, "--dest");
  if (flags.from !== undefined) {
    const isUrl = /^https?:\/\//i.test(flags.from);
    console.error(`${isUrl ? "fetching" : "copying"} from ${flags.from} into ${asFolder(dest)}`);
    let bar: Progress | null = null;
    const onFile = (_rel: string, _bytes: number, done: number, total: number) => {
      bar ??= new Progress("files", total);
      if (done === total) bar.done();
      else bar.tick();
    };
    const copied = isUrl
      ? await fetchFromBase(flags.from, dest, { only, onFile })
      : await copyFromLocal(flags.from, dest, { only, onFile });
    console.error(`${counted(copied.length, "file")} ${isUrl ? "downloaded" : "copied"}`);
  } else {
    await fetchSources(sources, dest, { overrides, progress: byteProgress });
  }
  console.log(`\ndata in ${asFolder(dest)}:`);
  for (const line of await summarizeDataDir(dest)) console.log(`  ${line}`);
  const paths = defaultDataPaths(dest);
  console.log(trainingLine(dest, paths, isFile(paths.thyroidMat)));
  console.log("what the loaders see:");
  for (const line of await datasetFigures(paths)) console.log(`  ${line}`);
}

if (import.meta.main) await runMain(main);

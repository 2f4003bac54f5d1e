/**
 * `deno task score --checkpoint CKPT (--images DIR_OR_FILE... | --table FILE)` (`--help` lists
 * the flags): scores unseen data and writes a JSON array of `{"id","score","pValue","anomaly"}`;
 * `--false-alarm-rate` flags by p-value instead of the stored threshold, `--maps` writes a heatmap
 * overlay PNG per image, `--explain` the features behind each flagged table row.
 *
 * @module
 */
import { dirname, join } from "node:path";
import {
  asFolder,
  checkNotAnInput,
  checkOutputFile,
  checkOutputFolder,
  defineCommand,
  helpText,
  numberFlag,
  parseFlags,
  positiveIntegerFlag,
  Progress,
  progressReporter,
  usageError,
  writeFileAtomic,
} from "../lib/util/mod.ts";
import { exitOnStop, runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import { CHECKPOINT_FLAG, loadCheckpoint } from "../lib/train/mod.ts";
import {
  mapFileName,
  type ScoredImage,
  type ScoredSample,
  scoreImagePaths,
  scoreTableFileYielding,
  writtenSample,
} from "../lib/experiment/mod.ts";
import { IMAGE_CACHE_FLAG, ImageCache } from "../lib/data/image_cache.ts";
import { scoreMapPng } from "../lib/report/mod.ts";
import { TABLE_FORMATS } from "../lib/data/table_name.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task score",
  summary: 'scores unseen images or table rows with a trained model: a JSON array of {"id", ' +
    '"score", "pValue", "anomaly"} (pValue: the share of calibration normals scoring as high, ' +
    "(1 + n) / (m + 1) with n interpolated between neighbouring calibration scores; " +
    "anomaly: above the threshold chosen on normals, or p-value at or below --false-alarm-rate). " +
    "Give either --images or --table.",
  flags: {
    checkpoint: CHECKPOINT_FLAG,
    images: {
      type: "string",
      multiple: true,
      value: "DIR_OR_FILE",
      description: "image file, or folder of them (searched recursively); repeat for more",
    },
    table: {
      type: "string",
      value: "FILE",
      description: `table of rows to score (${TABLE_FORMATS}), with the trained table's ` +
        "columns (label column optional)",
    },
    json: {
      type: "string",
      value: "FILE",
      description: "write the scores here",
      defaultText: "none (printed on stdout)",
    },
    maps: {
      type: "string",
      value: "DIR",
      description: "also write a heatmap overlay PNG per image here",
    },
    category: {
      type: "string",
      value: "NAME",
      description: "trained image category for images whose path names none; for --table, the " +
        "trained table to score as",
      defaultText: "images: the last folder in each path that names a trained category; a " +
        "table: the trained one of the file's name, or the only one",
    },
    workers: {
      type: "string",
      value: "N",
      description: "image scorers in parallel (same scores as one)",
      defaultText: "one per CPU core",
    },
    "batch-rows": {
      type: "string",
      value: "N",
      description: "table rows scored at a time (bounds memory; the same scores)",
      defaultText: "as many as 32 MB of token features hold",
    },
    "false-alarm-rate": {
      type: "string",
      value: "R",
      description: "flag the samples whose p-value is at or below R (strictly between 0 and 1): " +
        "about that share of normal samples is flagged",
      defaultText: "the threshold chosen at training (by default it flags 1 in 100 calibration " +
        "normals)",
    },
    explain: {
      type: "boolean",
      default: false,
      description: "tables: give each row flagged as an anomaly its features with the largest " +
        "contributions to the score (`features`: [name, score lost were it normal])",
    },
    backend: BACKEND_FLAG,
    cache: IMAGE_CACHE_FLAG,
  },
  examples: [
    "deno task score --checkpoint CKPT --images photos/ --json results/scores.json --maps results/heatmaps/",
    "deno task score --checkpoint CKPT --table new_rows.csv",
    "deno task score --checkpoint CKPT --table new_rows.csv --explain --json results/scores.json",
    "deno task score --checkpoint CKPT --table new_rows.csv --false-alarm-rate 0.05",
  ],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const images = flags.images ?? [];
  if ((images.length > 0) === Boolean(flags.table)) {
    throw usageError(COMMAND, "give either --images or --table");
  }
  if (flags.explain && !flags.table) {
    throw usageError(COMMAND, "--explain explains table rows (images get --maps)");
  }
  if (flags.maps && flags.table) {
    throw usageError(COMMAND, "--maps draws image heat maps; tables get --explain");
  }
  if (flags.json) {
    checkOutputFile(flags.json, "--json");
    checkNotAnInput(flags.json, "--json", [
      { flag: "--checkpoint", path: flags.checkpoint! },
      ...images.map((path) => ({ flag: "--images", path })),
      ...(flags.table ? [{ flag: "--table", path: flags.table }] : []),
    ]);
  }
  if (flags.maps) checkOutputFolder(flags.maps, "--maps");
  const falseAlarmRate = rateFlag(flags["false-alarm-rate"]);
  const onWarning = (message: string) => console.error(`warning: ${message}`);
  await useBackend(flags.backend as BackendName);
  const ckpt = await loadCheckpoint(flags.checkpoint!, { optimizer: false });
  // The scores are written first, then the heat maps: a stop loses no finished score file.
  let scoresWritten = false;
  const scoresAt = `the scores are in ${flags.json ?? "the output above"}`;
  exitOnStop(() =>
    scoresWritten
      ? scoresAt +
        (flags.maps ? `; heat maps written so far stay in ${asFolder(flags.maps)}` : "")
      : "nothing written (the scores are written when all are scored" +
        (flags.json ? `; ${flags.json} is as it was` : "") + ")"
  );
  let results: ScoredSample[];
  // Images to draw heat maps of, after the scores are written: a map that cannot be written, or a
  // stop while they are drawn, loses no score.
  let mapped: ScoredImage[] = [];
  const cache = new ImageCache(flags.cache);
  const unreadable: { path: string; reason: string }[] = [];
  if (flags.table) {
    results = await scoreTableFileYielding(ckpt, flags.table, {
      table: flags.category,
      onProgress: progressReporter("scoring rows"),
      batchRows: positiveIntegerFlag("batch-rows", flags["batch-rows"]),
      explain: flags.explain as boolean,
      onExplain: progressReporter("explaining flagged rows"),
      falseAlarmRate,
      onWarning,
    });
  } else {
    const scored = await scoreImagePaths(ckpt, images, cache, {
      // An unreadable file is left out and named after the rest are written: no lost work.
      onUnreadable: (path, reason) => unreadable.push({ path, reason }),
      category: flags.category,
      workers: workerCount(flags.workers),
      checkpointPath: flags.checkpoint!,
      cacheDir: flags.cache,
      backend: flags.backend,
      onProgress: progressReporter("scoring images"),
      falseAlarmRate,
      onWarning,
    });
    results = scored.map(writtenSample);
    mapped = scored;
  }
  const text = JSON.stringify(results, null, 1) + "\n";
  if (flags.json) {
    await Deno.mkdir(dirname(flags.json), { recursive: true });
    await writeFileAtomic(flags.json, text);
    const flagged = results.filter((r) => r.anomaly).length;
    const rule = falseAlarmRate === undefined
      ? "at or above the threshold"
      : `p-value at most ${falseAlarmRate}`;
    console.error(
      `scored ${results.length}, flagged ${flagged} as anomalies (${rule}); wrote ${flags.json}`,
    );
  } else {
    console.log(text.trimEnd());
  }
  scoresWritten = true;
  if (flags.maps) {
    try {
      await writeMaps(flags.maps, mapped, cache);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      throw e instanceof MadError
        ? new MadError(`${e.message.split("\n")[0]}; ${scoresAt}`, e.exitCode)
        : new MadError(`writing heat maps: ${e.message.split("\n")[0]}; ${scoresAt}`);
    }
  }
  if (unreadable.length > 0) {
    const total = results.length + unreadable.length;
    throw new MadError(
      `${unreadable.length} of ${total} images could not be read and were left out (` +
        `${unreadable[0].reason}${
          unreadable.length > 1 ? `; and ${unreadable.length - 1} more` : ""
        }` +
        `); the other ${results.length} were scored${flags.json ? ` into ${flags.json}` : ""}`,
    );
  }
}

/** Writes a heat map overlay PNG per scored image into `dir`, named by `mapFileName`. */
async function writeMaps(dir: string, scored: ScoredImage[], cache: ImageCache): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const bar = new Progress("writing heatmaps", scored.length);
  const taken = new Set<string>();
  for (const item of scored) {
    if (!item.map) continue;
    const png = await scoreMapPng(cache, item.path, 256, item.map, undefined, item.pose);
    await writeFileAtomic(join(dir, mapFileName(String(item.id), taken)), png);
    bar.tick();
  }
  bar.done();
  console.error(
    `wrote ${taken.size} heat maps to ${asFolder(dir)} (named after each image's id)`,
  );
}

/** `--false-alarm-rate R`: a number strictly between 0 and 1, or none. */
function rateFlag(value: string | undefined): number | undefined {
  const rate = numberFlag("false-alarm-rate", value);
  if (rate !== undefined && !(rate > 0 && rate < 1)) {
    throw new MadError(
      `--false-alarm-rate must lie strictly between 0 and 1 (a share such as 0.05), got '${value}'`,
      2,
    );
  }
  return rate;
}

/** `--workers N` (a positive integer), else one scorer per CPU core. */
function workerCount(value: string | undefined): number {
  return positiveIntegerFlag("workers", value) ?? navigator.hardwareConcurrency;
}

if (import.meta.main) await runMain(main);

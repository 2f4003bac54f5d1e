/**
 * `deno task eval --checkpoint CKPT` (`--help` lists the flags): per-dataset AUROC, AUPR,
 * precision, recall, F1, accuracy, the share of normals flagged (threshold chosen on validation)
 * and F1 at the true anomaly count, on the held-out test part of each dataset; for tables, the
 * features behind the highest-scored test rows.
 *
 * @module
 */
import { dirname } from "node:path";
import { exitOnStop, runMain } from "../lib/cli.ts";
import {
  checkNotAnInput,
  checkOutputFile,
  defineCommand,
  helpText,
  parseFlags,
  progressReporter,
  usageError,
  writeFileAtomic,
} from "../lib/util/mod.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import { CHECKPOINT_FLAG, loadCheckpoint } from "../lib/train/mod.ts";
import {
  componentLines,
  defectLines,
  evaluateCheckpoint,
  evaluationJson,
  featureLines,
  sourceLines,
} from "../lib/experiment/mod.ts";
import { evaluationRows, metricsTable } from "../lib/report/mod.ts";
import { IMAGE_CACHE_FLAG, ImageCache } from "../lib/data/image_cache.ts";
import { TABLE_FORMATS } from "../lib/data/table_name.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task eval",
  summary: "AUROC, AUPR, precision, recall, F1, accuracy and the share of normals flagged " +
    "(threshold from validation), F1 at the true anomaly count and the evidence behind each " +
    "score, on each dataset's test part; " +
    "for tables, the features behind the highest-scored rows.",
  flags: {
    checkpoint: CHECKPOINT_FLAG,
    images: {
      type: "string",
      multiple: true,
      value: "DIR",
      description: "image category folder to evaluate; repeat for more",
      defaultText: "the datasets recorded in the checkpoint",
    },
    table: {
      type: "string",
      multiple: true,
      value: "FILE",
      description: `table (${TABLE_FORMATS}) to evaluate; repeat for more`,
      defaultText: "the datasets recorded in the checkpoint",
    },
    category: {
      type: "string",
      value: "NAME",
      description: "with one --table, the trained table to evaluate it as",
      defaultText: "the trained table of the file's name, or the only one",
    },
    json: {
      type: "string",
      value: "FILE",
      description: "also write the metrics as JSON here",
      defaultText: "none (table on stdout only)",
    },
    backend: BACKEND_FLAG,
    cache: IMAGE_CACHE_FLAG,
  },
  examples: [
    "deno task eval --checkpoint results/mine/best_model_checkpoint.safetensors",
    "deno task eval --checkpoint CKPT --images data/images/mvtec/zipper --json results/eval.json",
  ],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  if (flags.category !== undefined && flags.table?.length !== 1) {
    throw usageError(COMMAND, "--category names the trained table of exactly one --table");
  }
  const inputs = (paths: string[] | undefined, flag: string) =>
    (paths ?? []).map((path) => ({ flag, path }));
  if (flags.json) {
    checkOutputFile(flags.json, "--json");
    checkNotAnInput(flags.json, "--json", [
      { flag: "--checkpoint", path: flags.checkpoint! },
      ...inputs(flags.images, "--images"),
      ...inputs(flags.table, "--table"),
    ]);
  }
  await useBackend(flags.backend as BackendName);
  const ckpt = await loadCheckpoint(flags.checkpoint!, { optimizer: false });
  if (flags.json && !flags.images?.length && !flags.table?.length) {
    // Evaluated on the checkpoint's own datasets: they are inputs too.
    checkNotAnInput(
      flags.json,
      "--json",
      ckpt.datasets.map((d) => ({
        flag: `checkpoint's ${d.modality === "image" ? "image" : "table"}`,
        path: d.source,
      })),
    );
  }
  exitOnStop(
    flags.json
      ? `nothing written (${flags.json} is written when all is scored)`
      : "nothing written",
  );
  const evaluations = await evaluateCheckpoint(ckpt, {
    imageDirs: flags.images,
    tablePaths: flags.table,
    tableName: flags.category,
    cache: new ImageCache(flags.cache),
    onProgress: (line) => console.error(line),
    progressBar: progressReporter,
    explain: true,
  });
  for (const line of sourceLines(evaluations)) console.log(line);
  console.log(metricsTable(evaluationRows(evaluations)));
  console.log("evidence: share of the score (test AUROC alone)");
  for (const line of componentLines(evaluations)) console.log(`  ${line}`);
  const defects = defectLines(evaluations);
  if (defects.length > 0) {
    console.log("by defect type: each type's test AUROC against the good images alone");
  }
  for (const line of defects) console.log(`  ${line}`);
  const features = featureLines(evaluations);
  if (features.length > 0) {
    console.log("by feature: what the score would lose were each feature normal (see --json)");
  }
  for (const line of features) console.log(`  ${line}`);
  if (flags.json) {
    await Deno.mkdir(dirname(flags.json), { recursive: true });
    await writeFileAtomic(flags.json, JSON.stringify(evaluationJson(evaluations), null, 2) + "\n");
    console.error(`wrote ${flags.json}`);
  }
}

if (import.meta.main) await runMain(main);

/**
 * `deno task eval --checkpoint CKPT [--images DIR]... [--table FILE]... [--json FILE]`:
 * per-dataset AUROC, AUPR, precision, recall, F1, accuracy (threshold chosen on validation) and
 * F1 at the true anomaly count, on the held-out test part of each dataset.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { parseFlags, runMain, writeFileAtomic } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import { type BackendName, useBackend } from "../lib/backend/mod.ts";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import { evaluateCheckpoint } from "../lib/train/evaluate.ts";
import { componentLines, evaluationJson, evaluationRows } from "../lib/train/results.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { metricsTable } from "../lib/report/table.ts";

const USAGE = "usage: deno task eval --checkpoint CKPT [--images DIR]... [--table FILE]... " +
  "[--json FILE] [--backend auto|wasm|cpu|tensorflow]";

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    checkpoint: { type: "string" },
    images: { type: "string", multiple: true },
    table: { type: "string", multiple: true },
    json: { type: "string" },
    backend: { type: "string", default: "auto" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) return console.log(USAGE);
  if (!flags.checkpoint) throw new MadError(`--checkpoint is required (${USAGE})`, 2);
  await useBackend(flags.backend as BackendName);
  const ckpt = await loadCheckpoint(flags.checkpoint);
  const evaluations = await evaluateCheckpoint(ckpt, {
    imageDirs: flags.images,
    tablePaths: flags.table,
    cache: new ImageCache(join("data", ".cache", "images")),
    onProgress: (line) => console.error(line),
  });
  console.log(metricsTable(evaluationRows(evaluations)));
  console.log("evidence: share of the score (test AUROC alone)");
  for (const line of componentLines(evaluations)) console.log(`  ${line}`);
  if (flags.json) {
    await Deno.mkdir(dirname(flags.json), { recursive: true });
    await writeFileAtomic(flags.json, JSON.stringify(evaluationJson(evaluations), null, 2) + "\n");
    console.error(`wrote ${flags.json}`);
  }
}

if (import.meta.main) await runMain(main);

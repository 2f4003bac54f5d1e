/**
 * `deno task demo`: the whole MADformer flow (train, evaluate, score with heatmaps, HTML
 * summary) on synthetic data made on the spot, offline, into `results/demo/`.
 *
 * @module
 */
import { parseFlags, runMain } from "../lib/cli.ts";
import { type BackendName, useBackend } from "../lib/backend/mod.ts";
import { runDemo } from "../lib/train/demo.ts";
import { metricsTable } from "../lib/report/table.ts";
import { evaluationRows } from "../lib/train/results.ts";

const USAGE = "usage: deno task demo [--out DIR] [--backend NAME]";

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    out: { type: "string", default: "results/demo" },
    backend: { type: "string", default: "auto" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (flags.help) return console.log(USAGE);
  await useBackend(flags.backend as BackendName);
  const started = performance.now();
  const result = await runDemo(flags.out);
  console.log(metricsTable(evaluationRows(result.evaluations)));
  console.log(
    `done in ${((performance.now() - started) / 1000).toFixed(0)} s: ` +
      `report ${result.report}, heatmaps ${result.maps}/, checkpoint ${result.train.best}`,
  );
}

if (import.meta.main) await runMain(main);

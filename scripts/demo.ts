/**
 * `deno task demo`: the whole MADformer flow (train, evaluate, score with heatmaps, HTML
 * summary) on synthetic data made on the spot, offline, into `results/demo/`.
 *
 * @module
 */
import { runMain } from "../lib/cli.ts";
import { defineCommand, helpText, parseFlags } from "../lib/util/mod.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import { runDemo } from "../lib/demo.ts";
import { evaluationRows, metricsTable } from "../lib/report/mod.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task demo",
  summary: "trains, evaluates and scores on synthetic images and a table made on the spot " +
    "(offline, about a minute on 2 cores), then writes an HTML report with heatmaps.",
  flags: {
    out: {
      type: "string",
      default: "results/demo",
      value: "DIR",
      description: "folder for the data, run, report and heatmaps",
    },
    backend: BACKEND_FLAG,
  },
  examples: ["deno task demo", "deno task demo --out /tmp/demo --backend cpu"],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  await useBackend(flags.backend as BackendName);
  const started = performance.now();
  const result = await runDemo(flags.out);
  console.log(metricsTable(evaluationRows(result.evaluations)));
  console.log(
    `done in ${((performance.now() - started) / 1000).toFixed(0)} s: ` +
      `report ${result.report}, heatmaps ${result.maps}/, metrics ${result.metrics}, ` +
      `scores ${result.scores}, checkpoint ${result.train.best}`,
  );
}

if (import.meta.main) await runMain(main);

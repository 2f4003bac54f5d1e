/**
 * The whole flow on data the project makes itself (offline): synthetic textured images with
 * planted defects and masks, a synthetic table with planted outliers; train, evaluate, score
 * with heatmaps, and write an HTML summary.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "./model/config.ts";
import { demoConfig } from "./experiment/setup.ts";
import { writeSyntheticImages, writeSyntheticTableCsv } from "./data/synthetic.ts";
import { ImageCache } from "./data/image_cache.ts";
import { train, type TrainResult } from "./train/loop.ts";
import { loadCheckpoint } from "./train/checkpoint.ts";
import { type DatasetEvaluation, evaluateCheckpoint } from "./experiment/evaluate_checkpoint.ts";
import { evaluationJson } from "./experiment/results.ts";
import { scoreImagePaths, writtenSample } from "./experiment/score_files.ts";
import { writeFileAtomic } from "./util/files.ts";
import { htmlReport } from "./report/html.ts";
import {
  componentSections,
  curveSections,
  defectSections,
  distributionSections,
  featureSections,
  heatmapSections,
  metricsHtml,
  trainingSection,
} from "./report/evaluation.ts";
import { scoreMapPng } from "./report/heatmap.ts";

/** What the demo produced. */
export interface DemoResult {
  train: TrainResult;
  evaluations: DatasetEvaluation[];
  report: string;
  maps: string;
  /** The test metrics (`evaluationJson`) and every scored test image, as JSON files. */
  metrics: string;
  scores: string;
}

/** Runs the demo into `out` (data, run, maps, report.html, metrics.json, scores.json). */
export async function runDemo(
  out: string,
  options: { config?: Config; quiet?: boolean; nTrain?: number; tableRows?: number } = {},
): Promise<DemoResult> {
  const config = options.config ?? demoConfig();
  const dataDir = join(out, "data");
  const say = (line: string) => options.quiet || console.error(line);
  say(`writing synthetic data to ${dataDir}/`);
  await writeSyntheticImages(join(dataDir, "images"), {
    seed: 1,
    size: config.model.imageSize,
    nTrain: options.nTrain ?? 60,
    nTestGood: 12,
    nTestBad: 12,
  });
  const tablePath = join(dataDir, "table.csv");
  await writeSyntheticTableCsv(tablePath, { seed: 1, n: options.tableRows ?? 1200, d: 8 });

  const run = join(out, "run");
  await Deno.remove(run, { recursive: true }).catch(() => {});
  const trained = await train({
    config,
    imageDirs: [join(dataDir, "images")],
    tablePaths: [tablePath],
    out: run,
    quiet: options.quiet,
  });

  const ckpt = await loadCheckpoint(trained.best);
  const cache = new ImageCache();
  const evaluations = await evaluateCheckpoint(ckpt, { cache, onProgress: say, explain: true });
  const metrics = join(out, "metrics.json");
  await writeFileAtomic(metrics, JSON.stringify(evaluationJson(evaluations), null, 2) + "\n");

  // Score the test folders as unseen data, with heatmaps.
  const maps = join(out, "maps");
  await Deno.mkdir(maps, { recursive: true });
  const scored = await scoreImagePaths(
    ckpt,
    evaluations.filter((e) => e.modality === "image").map((e) =>
      join(dataDir, "images", e.name, "test")
    ),
    cache,
  );
  for (const item of scored) {
    if (!item.map) continue;
    const png = await scoreMapPng(cache, item.path, 128, item.map, undefined, item.pose);
    const name = [item.category, ...String(item.id).split("/").slice(-2)].join("_")
      .replace(/\.png$/, "");
    await writeFileAtomic(join(maps, `${name}.png`), png);
  }
  const scores = join(out, "scores.json");
  await writeFileAtomic(scores, JSON.stringify(scored.map(writtenSample), null, 1));

  const report = join(out, "report.html");
  const html = htmlReport({
    title: "MADformer demo (synthetic data)",
    sections: [
      { heading: "Test metrics", html: metricsHtml(evaluations) },
      trainingSection(trained.rows),
      ...curveSections(evaluations),
      ...componentSections(evaluations),
      ...defectSections(evaluations),
      ...featureSections(evaluations),
      ...distributionSections(evaluations),
      ...(await heatmapSections(evaluations, cache, 2)),
    ],
  });
  await writeFileAtomic(report, html);
  return { train: trained, evaluations, report, maps, metrics, scores };
}

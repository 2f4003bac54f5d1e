import assert from "node:assert/strict";
import { benchmarkHtml, summarizeBenchmark } from "../lib/benchmark/mod.ts";
import type { BenchmarkDataset } from "../lib/benchmark/discover.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import {
  MVTEC_ATTRIBUTION,
  mvtecAttributionHtml,
  mvtecCategories,
} from "../lib/report/attribution.ts";

Deno.test("MVTec AD credit: the README's licence and citation, for MVTec categories only", () => {
  assert.match(MVTEC_ATTRIBUTION, /MVTec AD/);
  assert.match(MVTEC_ATTRIBUTION, /CC BY-NC-SA 4\.0/);
  assert.match(MVTEC_ATTRIBUTION, /Bergmann, Fauser, Sattlegger, Steger/);
  assert.match(MVTEC_ATTRIBUTION, /CVPR 2019/);
  assert.deepEqual(
    mvtecCategories([
      "data/images/course/hazelnut",
      "/abs/data/images/mvtec/zipper/",
      "data/images/dev/screw",
      "results/notebooks/tiny/data/images/dots",
      "my/photos",
    ]),
    ["hazelnut", "zipper", "screw"],
  );
  assert.equal(mvtecAttributionHtml(["synthetic/dots", "synthetic/weave"]), "");
  const credit = mvtecAttributionHtml(["data/images/course/zipper"]);
  assert.match(credit, /^<p[^>]*>zipper: MVTec AD images/);
  assert.ok(!credit.includes("\n"));
});

function summaryOn(datasets: BenchmarkDataset[]) {
  return summarizeBenchmark([], datasets, {
    settings: { images: "data/images/mvtec", seeds: 1, joint: "none", quick: true, epochs: 1 },
    config: DEFAULT_CONFIG,
    seeds: [0],
    skipped: [],
  });
}

Deno.test("the benchmark report credits MVTec AD when it shows results on its categories", () => {
  const zipper = { name: "zipper", modality: "image" as const, source: "data/images/mvtec/zipper" };
  const own = { name: "bolts", modality: "image" as const, source: "photos/bolts" };
  assert.match(
    benchmarkHtml(summaryOn([zipper, own])),
    /zipper: MVTec AD images.*CC BY-NC-SA 4\.0/,
  );
  assert.doesNotMatch(benchmarkHtml(summaryOn([own])), /MVTec AD images/);
});

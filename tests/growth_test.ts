/**
 * The bench's growth section: its flags, the datasets they give, the data it writes, and the
 * table, Markdown and figure it reports (never how fast anything is).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DEFAULT_GROWTH,
  growthCases,
  growthFigure,
  growthMarkdown,
  growthPlan,
  type GrowthRow,
  growthRows,
  sizeList,
  writeGrowthData,
} from "../lib/bench/growth.ts";
import { parseFlags } from "../lib/util/flags.ts";
import { COMMAND } from "../scripts/bench.ts";
import { readLabelledCsv } from "../lib/data/table.ts";
import { listImagesToScore } from "../lib/data/images.ts";
import { checkMadError } from "./fixtures.ts";

/** The growth flags as `deno task bench` parses them from `args`. */
function flagsOf(args: string[]) {
  return parseFlags(args, COMMAND);
}

Deno.test("growth flags: the defaults give rows, features and images series", () => {
  const flags = flagsOf(["--growth-only"]);
  assert.equal(flags["growth-only"], true);
  assert.equal(flags.growth, undefined);
  const plan = growthPlan(flags);
  assert.equal(plan.epochs, 1);
  assert.deepEqual(
    plan.cases.map((c) => [c.series, c.size, c.features]),
    [
      ["rows", 1000, 6],
      ["rows", 10000, 6],
      ["rows", 100000, 6],
      ["features", DEFAULT_GROWTH.featureRows, 6],
      ["features", DEFAULT_GROWTH.featureRows, 50],
      ["features", DEFAULT_GROWTH.featureRows, 500],
      ["images", 100, undefined],
      ["images", 1000, undefined],
    ],
  );
});

Deno.test("growth flags: sizes, 'none' leaves a series out, epochs", () => {
  const plan = growthPlan(flagsOf([
    "--growth",
    "--growth-rows",
    "500, 5000",
    "--growth-features",
    "none",
    "--growth-feature-rows",
    "300",
    "--growth-images",
    "20",
    "--growth-epochs",
    "2",
  ]));
  assert.equal(plan.epochs, 2);
  assert.deepEqual(plan.cases, [
    { series: "rows", size: 500, features: 6 },
    { series: "rows", size: 5000, features: 6 },
    { series: "images", size: 20 },
  ]);
  assert.deepEqual(sizeList("x", ""), []);
  assert.deepEqual(sizeList("x", "1,2"), [1, 2]);
});

Deno.test("growth flags: malformed values are one-line errors naming the flag", () => {
  const cases: Array<[string[], string[]]> = [
    [["--growth-rows", "10k"], ["--growth-rows", "10k"]],
    [["--growth-features", "0"], ["--growth-features"]],
    [["--growth-epochs", "1,2"], ["--growth-epochs", "one positive integer"]],
    [["--growth-feature-rows", "none"], ["--growth-feature-rows"]],
    [["--growth-images", "5"], ["--growth-images", "at least 10"]],
    [
      ["--growth-rows", "none", "--growth-features", "none", "--growth-images", "none"],
      ["no datasets"],
    ],
  ];
  for (const [args, parts] of cases) {
    assert.throws(() => growthPlan(flagsOf(args)), (e: unknown) => {
      checkMadError(e, parts);
      return true;
    });
  }
  assert.throws(() => growthCases({ ...DEFAULT_GROWTH, images: [9] }));
});

Deno.test("growth data: a labelled table, an MVTec folder of the requested size", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const csv = await writeGrowthData({ series: "features", size: 40, features: 3 }, dir);
    const table = readLabelledCsv(csv);
    assert.equal(table.n, 40);
    assert.equal(table.d, 3);
    const folder = await writeGrowthData({ series: "images", size: 20 }, dir);
    assert.equal((await listImagesToScore(join(folder, "weave"))).length, 20);
    assert.equal((await listImagesToScore(join(folder, "weave", "train"))).length, 16);
    assert.equal((await listImagesToScore(join(folder, "weave", "test"))).length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const cost = (seconds: number | null, gb: number | null, note?: string) => ({
  seconds,
  peakRssBytes: gb === null ? null : gb * 1024 ** 3,
  ...(note ? { note } : {}),
});

const ROWS: GrowthRow[] = [
  {
    series: "rows",
    size: 1000,
    features: 6,
    label: "1,000 x 6",
    train: cost(40, 0.7),
    evaluate: cost(3, 0.7),
    score: cost(1, 0.2),
    auroc: 0.95,
  },
  {
    series: "rows",
    size: 100000,
    features: 6,
    label: "100,000 x 6",
    train: cost(60, 0.9),
    evaluate: cost(6, 0.8),
    score: cost(4, 0.7),
    auroc: 0.93,
  },
  {
    series: "images",
    size: 100,
    label: "100 images",
    train: cost(null, 3, "failed: error: out of memory"),
    evaluate: cost(null, null, "no checkpoint"),
    score: cost(null, null, "no checkpoint"),
    auroc: null,
  },
];

Deno.test("growth report: each size beside the first of its series, notes for failures", () => {
  const table = growthRows(ROWS);
  assert.equal(table[0]["train x"], "1");
  assert.equal(table[1]["train x"], "1.5");
  assert.equal(table[1]["score x"], "4.0");
  assert.equal(table[1]["peak x"], "1.3"); // 0.9 GB over 0.7 GB
  assert.equal(table[1]["score GB"], "0.70");
  assert.equal(table[2]["train s"], "—");
  assert.equal(table[2].AUROC, "—");
  const md = growthMarkdown(ROWS, 1);
  const lines = md.split("\n");
  assert.ok(lines[0].includes("1 epoch;"), lines[0]);
  assert.match(lines[2], /^\| series \| size \| train s \|/);
  assert.match(lines[3], /^\| --- \| --- \| ---: \|/);
  assert.match(lines[5], /^\| table rows \(6 features\) \| 100,000 x 6 \| 60\.0 \| 0\.90 \|/);
  assert.ok(md.includes("- 100 images train: failed: error: out of memory"), md);
});

Deno.test("growth figure: time and memory per series, one legend entry per task", () => {
  const figure = growthFigure(ROWS);
  // Two series x three tasks x (time, memory).
  assert.equal(figure.data.length, 12);
  assert.equal(figure.data.filter((t) => t.showlegend).length, 3);
  const time = figure.data.find((t) => t.xaxis === "x" && t.name === "score")!;
  assert.deepEqual(time.x, [1000, 100000]);
  assert.deepEqual(time.y, [1, 4]);
  const memory = figure.data.find((t) => t.xaxis === "x3" && t.name === "train")!;
  (memory.y as number[]).forEach((gb, i) => assert.ok(Math.abs(gb - [0.7, 0.9][i]) < 1e-9));
  assert.equal((figure.layout.grid as { columns: number }).columns, 2);
  assert.equal((figure.layout.xaxis4 as { title: { text: string } }).title.text, "image files");
});

/**
 * `deno task benchmark` (lib/benchmark/): discovery of image categories and tables, the
 * baselines on a toy table whose answer is known, raw patches, the summary's means and winners,
 * and a tiny end-to-end benchmark that writes its JSON and HTML and, run again, reuses every run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBackend } from "../lib/backend/mod.ts";
import { tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import {
  applyZScore,
  type BaselineRun,
  benchmarkRows,
  type BenchmarkSummary,
  discoverBenchmark,
  duration,
  fitIsolationForest,
  fitKnn,
  fitZScore,
  ISOLATION_FOREST,
  KNN,
  type ModelRun,
  ONE_CLASS_SVM,
  PROJECT,
  PROJECT_JOINT,
  RAW_PATCH_KNN,
  rawPatches,
  runBenchmark,
  summarizeBenchmark,
  tableBaselines,
  tableCandidates,
} from "../lib/benchmark/mod.ts";
import { externalResources } from "../lib/notebook/export.ts";
import type { EvaluationEntry } from "../lib/experiment/results.ts";
import { evaluationEntry, gaussianRows } from "./fixtures.ts";

await useBackend("wasm");

/** A labelled CSV: a Gaussian blob of normals (feature scales 1..d x 10) and far outliers. */
async function toyCsv(path: string, normals = 300, outliers: number[][] = [[40, -40, 40, 40]]) {
  const d = outliers[0].length;
  const rows = gaussianRows(normals, d, 7);
  const lines = [[...Array(d).keys()].map((j) => `f${j}`).join(",") + ",label"];
  for (let i = 0; i < normals; i++) {
    lines.push(
      [...rows.subarray(i * d, (i + 1) * d)].map((v, j) => v * 10 * (j + 1)).join(",") +
        ",0",
    );
  }
  for (const o of outliers) lines.push(o.map((v, j) => v * 10 * (j + 1)).join(",") + ",1");
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

Deno.test("baselines: a row far from a Gaussian blob gets the top score", () => {
  const d = 4;
  const train = gaussianRows(400, d, 1);
  const test = new Float32Array([...gaussianRows(50, d, 2), 8, -8, 8, 8]);
  const stats = fitZScore(train, d);
  const z = (rows: Float32Array) => applyZScore(rows, d, stats);
  for (const fit of [fitIsolationForest, fitKnn]) {
    const scores = fit(z(train), d, 0)(z(test));
    assert.equal(scores.length, 51);
    const top = scores.indexOf(Math.max(...scores));
    assert.equal(top, 50, `${fit.name}: the outlier is not the top score`);
  }
});

Deno.test("tableBaselines: on the training split, z-scored on its normals; AUROC 1 for the outlier", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "toy.csv");
    await toyCsv(path);
    const results = tableBaselines(path, "toy", {
      protocol: "half-normals",
      seed: 0,
      valShare: 0.1,
    });
    assert.deepEqual(results.map((r) => r.method), [ISOLATION_FOREST, KNN, ONE_CLASS_SVM]);
    for (const r of results) {
      assert.equal(r.entry.anomalies, 1);
      // Half the 300 normals are tested, with the one anomaly.
      assert.equal(r.entry.n, 151);
      assert.equal(r.entry.auroc, 1, `${r.method}`);
      assert.equal(r.entry.f1_at_true_count, 1, `${r.method}`);
      assert.ok(Number.isFinite(r.entry.threshold));
      assert.ok(r.fitSeconds >= 0 && r.scoreSeconds >= 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rawPatches: non-overlapping 8x8 RGB patches in row-major patch order", () => {
  const size = 16;
  const image = new Float32Array(size * size * 3).map((_, i) => i);
  const patches = rawPatches(image, size, 8);
  assert.equal(patches.length, 4 * 8 * 8 * 3);
  const dim = 192;
  // Patch 1 (top right) starts at pixel (0, 8); its second row at pixel (1, 8).
  assert.equal(patches[dim], (0 * size + 8) * 3);
  assert.equal(patches[dim + 24], (1 * size + 8) * 3);
  // Patch 2 (bottom left) starts at pixel (8, 0).
  assert.equal(patches[2 * dim], (8 * size + 0) * 3);
});

Deno.test("discovery: tables by ending and split folders; unusable ones skipped with a reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await toyCsv(join(dir, "toy.csv"));
    await Deno.writeTextFile(join(dir, "unlabelled.csv"), "a,b\n1,2\n3,4\n");
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a table\n");
    await Deno.writeTextFile(join(dir, "broken.npz"), "not a zip\n");
    await Deno.mkdir(join(dir, "split"));
    await Deno.writeTextFile(join(dir, "split", "train-set.csv"), "a,b\n1,2\n2,3\n3,1\n2,2\n");
    await Deno.writeTextFile(
      join(dir, "split", "test-set.csv"),
      "a,b,label\n1,2,0\n9,9,1\n2,1,0\n",
    );
    const candidates = (await tableCandidates(dir)).map((p) => p.slice(dir.length + 1));
    assert.deepEqual(candidates, ["broken.npz", "split", "toy.csv", "unlabelled.csv"]);
    const found = await discoverBenchmark({ tablesDir: dir });
    assert.deepEqual(found.datasets.map((d) => [d.name, d.modality]), [
      ["split", "table"],
      ["toy", "table"],
    ]);
    assert.deepEqual(found.datasets[1].size, { train: 300, test: 301, anomalies: 1 });
    const skipped = found.skipped.map((s) => s.source.slice(dir.length + 1));
    assert.deepEqual(skipped, ["broken.npz", "unlabelled.csv"]);
    assert.match(found.skipped[1].reason, /no 'label' column \(columns: a, b\)/);
    // The skip line names the file; its reason does not name it again.
    for (const s of found.skipped) assert.ok(!s.reason.startsWith(s.source), s.reason);
    await assert.rejects(() => discoverBenchmark({}), /give --images DIR and\/or --tables DIR/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function entry(name: string, modality: "image" | "table", auroc: number): EvaluationEntry {
  return evaluationEntry(name, modality, auroc, { knn: { weight: 1, auroc } });
}

Deno.test("summary: mean ± std over seeds, winners, mean rows only for methods covering a group", () => {
  const config = tinyConfig();
  const model = (seed: number, a: number, t: number): ModelRun => ({
    kind: "model",
    setting: "per-dataset",
    seed,
    key: { config, sources: [] },
    train: { seconds: 2, epochs: 1, bestEpoch: 1, bestValAuroc: 1 },
    evaluations: [
      { id: "image:a", scoreSeconds: 1, entry: entry("a", "image", a) },
      {
        id: "table:t",
        scoreSeconds: 1,
        entry: {
          ...entry("t", "table", t),
          transformer: { components: ["enc", "enc_kde"], auroc: t },
        },
      },
    ],
  });
  const baseline = (seed: number, t: number): BaselineRun => ({
    kind: "baselines",
    seed,
    id: "table:t",
    key: { source: "t", split: { protocol: "half-normals", seed, valShare: 0.1 } },
    results: [{ method: KNN, fitSeconds: 0, scoreSeconds: 0, entry: entry("t", "table", t) }],
  });
  const summary = summarizeBenchmark(
    [model(0, 0.8, 0.6), model(1, 0.9, 0.7), baseline(0, 0.9), baseline(1, 0.8)],
    [
      { name: "a", modality: "image", source: "a" },
      { name: "t", modality: "table", source: "t" },
    ],
    {
      settings: { seeds: 2, joint: "none", quick: false, epochs: 1 },
      config,
      seeds: [0, 1],
      skipped: [],
    },
  );
  assert.deepEqual(summary.methods, [PROJECT, KNN]);
  const [a, t] = summary.datasets;
  assert.ok(Math.abs(a.methods[PROJECT].auroc.mean - 0.85) < 1e-12);
  assert.ok(Math.abs(a.methods[PROJECT].auroc.std - Math.sqrt(0.005)) < 1e-12);
  // The image dataset has MADformer alone: no one to beat, no winner.
  assert.equal(a.winner, "");
  assert.equal(t.winner, KNN);
  assert.equal(t.methods[PROJECT].components?.knn.weight.mean, 1);
  // The Transformer's readings together, where the evaluation reported them (tables), over seeds.
  assert.deepEqual(t.methods[PROJECT].transformer?.components, ["enc", "enc_kde"]);
  assert.ok(Math.abs(t.methods[PROJECT].transformer!.auroc.mean - 0.65) < 1e-12);
  assert.equal(a.methods[PROJECT].transformer, undefined);
  const all = summary.means.find((m) => m.group === "all")!;
  // Per seed: (0.8 + 0.6) / 2 and (0.9 + 0.7) / 2; kNN covers the table only.
  assert.ok(Math.abs(all.methods[PROJECT].auroc.mean - 0.75) < 1e-12);
  assert.equal(all.methods[KNN], undefined);
  const tables = summary.means.find((m) => m.group === "tables")!;
  assert.equal(tables.winner, KNN);
  const rows = benchmarkRows(summary);
  assert.deepEqual(rows.map((r) => r.name), [
    "a",
    "t",
    "mean (all, 2)",
    "mean (images, 1)",
    "mean (tables, 1)",
  ]);
  assert.equal(rows[1][KNN], "0.8500 ± 0.0707");
  assert.equal(duration(12.34), "12.3 s");
  assert.equal(duration(0.07), "70 ms");
  assert.equal(duration(0.00006), "0.06 ms");
  assert.equal(duration(185), "3m 05s");
  assert.equal(duration(3720), "1h 02m");
});

Deno.test("a tiny benchmark writes its JSON and HTML; run again, it reuses every run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = await writeTinyData(join(dir, "data"));
    const tables = join(dir, "tables");
    await Deno.mkdir(tables);
    await Deno.rename(data.tablePaths[0], join(tables, "table.csv"));
    const discovered = await discoverBenchmark({
      imagesDir: join(data.imageDirs[0], "dots"),
      tablesDir: tables,
    });
    assert.deepEqual(discovered.datasets.map((d) => d.name), ["dots", "table"]);
    const out = join(dir, "out");
    const run = async () => {
      const lines: string[] = [];
      const started = performance.now();
      const summary = await runBenchmark({
        data: discovered,
        config: tinyConfig({ train: { epochs: 1 } }),
        seeds: 1,
        out,
        joint: "both",
        settings: { quick: true },
        quiet: true,
        log: (line) => lines.push(line),
      });
      return { summary, lines, seconds: (performance.now() - started) / 1000 };
    };
    const first = await run();
    // Per seed: baselines and a model per dataset, then the joint model.
    assert.equal(first.lines.length, 5, first.lines.join("\n"));
    assert.match(first.lines[0], /^\[1\/5\] baselines dots seed 0: .* m?s, AUROC raw-patch kNN/);
    // No time is guessed for runs of a kind none of which has finished (a table's from an
    // image model's); the joint model is timed as the per-dataset models summed.
    assert.match(
      first.lines[1],
      /^\[2\/5\] model dots seed 0: .*elapsed .*, ETA once a run of each kind has finished \(3 runs left\)$/,
    );
    assert.match(first.lines[2], /, ETA once a run of each kind has finished \(2 runs left\)$/);
    assert.match(first.lines[3], /, ETA ~[^p]*$/);
    assert.match(first.lines[4], /^\[5\/5\] joint model \(2 datasets\) seed 0: /);
    const json = JSON.parse(
      await Deno.readTextFile(join(out, "benchmark.json")),
    ) as BenchmarkSummary;
    assert.deepEqual(json.methods, [
      PROJECT,
      PROJECT_JOINT,
      ISOLATION_FOREST,
      KNN,
      ONE_CLASS_SVM,
      RAW_PATCH_KNN,
    ]);
    const [dots, table] = json.datasets;
    assert.deepEqual(Object.keys(dots.methods), [PROJECT, PROJECT_JOINT, RAW_PATCH_KNN]);
    assert.deepEqual(Object.keys(table.methods), [
      PROJECT,
      PROJECT_JOINT,
      ISOLATION_FOREST,
      KNN,
      ONE_CLASS_SVM,
    ]);
    for (const d of json.datasets) {
      for (const m of Object.values(d.methods)) {
        for (const v of [m.auroc, m.aupr, m.f1_at_true_count]) {
          assert.ok(v.n === 1 && v.mean >= 0 && v.mean <= 1);
        }
        assert.ok(m.train_seconds.mean >= 0 && m.score_seconds.mean >= 0);
      }
      assert.ok(d.winner);
      assert.ok(Object.keys(d.methods[PROJECT].components ?? {}).length > 0);
    }
    // The synthetic images have masks: pixel metrics for the model and the raw-patch kNN.
    assert.ok(dots.methods[PROJECT].pixel_auroc && dots.methods[RAW_PATCH_KNN].pixel_auroc);
    // and several planted defect types: the model's AUROC for each.
    assert.ok(Object.keys(dots.methods[PROJECT].defects ?? {}).length >= 2);
    assert.ok(json.joint && json.joint.train_seconds.n === 1);
    const html = await Deno.readTextFile(join(out, "report.html"));
    assert.ok(html.includes("MADformer benchmark") && html.includes("Plotly.newPlot"));
    // With no peers file, the model is counted against the best of the three table baselines.
    assert.match(
      html,
      /Of the three table baselines: MADformer is at or above the best of them on \d of 1 tables/,
    );
    assert.ok(html.includes("Evidence shares") && html.includes("Pixel AUROC and PRO"));
    assert.ok(html.includes("AUROC by defect type"));
    // One seed: the joint model's time with no spread ("± 0 ms" would claim one).
    assert.match(html, /The joint model trained \d+ epochs on all datasets in [^<(]+\.<\/p>/);
    assert.ok(!html.includes("per seed (±"));
    assert.deepEqual(externalResources(html), []);

    const files = [...Deno.readDirSync(join(out, "runs"))].map((e) => e.name).sort();
    assert.equal(files.length, 5);
    const mtimes = files.map((f) => Deno.statSync(join(out, "runs", f)).mtime?.getTime());
    const second = await run();
    assert.equal(second.lines.length, 5);
    for (const line of second.lines) assert.match(line, /: reused .*\.json$/);
    assert.deepEqual(
      files.map((f) => Deno.statSync(join(out, "runs", f)).mtime?.getTime()),
      mtimes,
    );
    assert.ok(second.seconds < first.seconds, `${second.seconds} s vs ${first.seconds} s`);
    assert.deepEqual(second.summary.datasets, first.summary.datasets);

    // A run killed mid-way left no run file, but its work folder with a stale lock: redone.
    await Deno.remove(join(out, "runs", "joint_seed0.json"));
    await Deno.writeTextFile(join(out, "work", "joint_seed0", ".lock"), "999999999");
    const third = await run();
    assert.equal(third.lines.filter((l) => l.includes(": reused ")).length, 4);
    assert.match(third.lines[4], /^\[5\/5\] joint model \(2 datasets\) seed 0: [^r]/);
    assert.ok(await Deno.stat(join(out, "runs", "joint_seed0.json")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * End to end on tiny synthetic data: `train`, `eval` and `score` as a user runs them, and
 * resuming a run giving the same result as an uninterrupted one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import { train } from "../lib/train/loop.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { runScript, tinyTrainRun } from "./fixtures.ts";
import { writeSyntheticImages } from "../lib/data/synthetic.ts";
import sharp from "sharp";
import { mapLegendRgb } from "../lib/report/heatmap.ts";

await useBackend("wasm");

Deno.test("train, eval and score run end to end on the command line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer e2e " });
  try {
    const { data, out, args } = await tinyTrainRun(dir, 2);
    const trained = await runScript("train.ts", [...args, "--quiet"]);
    assert.equal(trained.code, 0, trained.stderr);
    const ckpt = join(out, "best_model_checkpoint.safetensors");
    await Deno.stat(ckpt);
    await Deno.stat(join(out, "last_checkpoint.safetensors"));
    const lines = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n");
    assert.equal(lines.length, 2);
    const row = JSON.parse(lines[0]);
    for (const key of ["epoch", "loss", "val_auroc", "seconds"]) assert.ok(key in row, key);
    // After the last epoch every dataset is calibrated on all its normals, tables in folds.
    const log = await Deno.readTextFile(join(out, "train.log"));
    assert.match(log, /calibrated .*table:table on \d+ normals in 5 folds \(validation AUROC/);

    // Without data flags, eval scores the datasets recorded in the checkpoint.
    const jsonPath = join(dir, "eval.json");
    const evaluated = await runScript("eval.ts", ["--checkpoint", ckpt, "--json", jsonPath]);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const report = JSON.parse(await Deno.readTextFile(jsonPath));
    const names = report.datasets.map((d: { name: string }) => d.name).sort();
    assert.deepEqual(names, ["dots", "table", "weave"]);
    for (const d of report.datasets) {
      for (
        const key of [
          "n",
          "anomalies",
          "auroc",
          "aupr",
          "precision",
          "recall",
          "f1",
          "accuracy",
          "false_alarm_rate",
          "threshold",
          "f1_at_true_count",
        ]
      ) {
        assert.equal(typeof d[key], "number", `${d.name}.${key}`);
      }
      assert.ok(d.auroc >= 0 && d.auroc <= 1);
      // The evidence behind the score: shares summing to 1, each with its own test AUROC.
      const components = Object.values(d.components) as { weight: number; auroc: number }[];
      assert.ok(components.length > 0, `${d.name}: no components`);
      const total = components.reduce((sum, c) => sum + c.weight, 0);
      assert.ok(Math.abs(total - 1) < 1e-6, `${d.name}: shares sum to ${total}`);
      for (const c of components) assert.ok(c.auroc >= 0 && c.auroc <= 1);
      // Images say how their maps became the score, with the validation AUROC of each choice;
      // tables have no maps.
      if (d.modality === "image") {
        assert.ok(["max", "smoothed_max"].includes(d.image_score));
        const { max, smoothed_max } = d.image_score_validation;
        assert.ok(d.image_score === "max" ? max >= smoothed_max : smoothed_max > max);
      } else assert.equal(d.image_score, undefined);
    }
    assert.match(evaluated.stdout, /evidence: share of the score/);
    // The table's test part is the held-out half of the normals plus all anomalies.
    const table = report.datasets.find((d: { name: string }) => d.name === "table");
    assert.equal(table.anomalies, 20);
    // Synthetic images have masks, so pixel metrics are reported; the maps find the planted
    // defects even after two epochs of a tiny model, since the pixel views need no training.
    for (const name of ["weave", "dots"]) {
      const images = report.datasets.find((d: { name: string }) => d.name === name);
      assert.ok(images.pixel_auroc >= 0.9, `${name}: pixel AUROC ${images.pixel_auroc}`);
      assert.ok(images.pro >= 0 && images.pro <= 1, `${name}: PRO ${images.pro}`);
      // Several planted defect types: each type's AUROC against the good images alone.
      const defects = Object.values(images.defects) as { count: number; auroc: number }[];
      assert.ok(defects.length >= 2, `${name}: ${defects.length} defect types`);
      assert.equal(defects.reduce((n, d) => n + d.count, 0), images.anomalies);
      for (const d of defects) assert.ok(d.auroc >= 0 && d.auroc <= 1);
    }
    assert.equal(table.defects, undefined);
    assert.match(evaluated.stdout, /by defect type/);
    // Tables are explained by their features: the highest-scored test rows, highest first,
    // each with its top features, and the check on synthetic anomalies.
    assert.ok(table.features.rows.length >= 1 && table.features.rows.length <= 20);
    const shown = table.features.rows as { score: number; top: [string, number][] }[];
    shown.forEach((r, i) => {
      assert.ok(i === 0 || r.score <= shown[i - 1].score);
      assert.ok(r.top.length >= 1 && r.top.every((t, j) => j === 0 || t[1] <= r.top[j - 1][1]));
    });
    assert.ok(table.features.check.rows >= 10);
    assert.ok(table.features.check.auroc >= 0 && table.features.check.auroc <= 1);
    assert.match(evaluated.stdout, /by feature: .*\n.*highest-scored test rows/);
    const weave = report.datasets.find((d: { name: string }) => d.name === "weave");
    assert.equal(weave.features, undefined);

    const scoresPath = join(dir, "scores.json");
    const maps = join(dir, "maps");
    const testDir = join(data.imageDirs[0], "weave", "test");
    const scored = await runScript("score.ts", [
      "--checkpoint",
      ckpt,
      "--images",
      testDir,
      "--json",
      scoresPath,
      "--maps",
      maps,
    ]);
    assert.equal(scored.code, 0, scored.stderr);
    const items = JSON.parse(await Deno.readTextFile(scoresPath));
    assert.equal(items.length, 12);
    for (const item of items) {
      assert.ok(String(item.id).startsWith(testDir), item.id);
      assert.equal(typeof item.score, "number");
      assert.equal(typeof item.anomaly, "boolean");
      assert.ok(item.pValue > 0 && item.pValue <= 1, `${item.pValue}`);
    }
    assert.equal([...Deno.readDirSync(maps)].length, 12);
    // Each map is the 256 px image under its map, with the colour bar that says what the colours
    // mean to its right.
    for (const entry of Deno.readDirSync(maps)) {
      const meta = await sharp(join(maps, entry.name)).metadata();
      assert.deepEqual([meta.width, meta.height], [256 + mapLegendRgb(256).width, 256], entry.name);
    }
    // --false-alarm-rate R flags exactly the images whose p-value is at most R; a rate outside
    // (0, 1) is refused in one line before anything is scored.
    const byRate = await runScript("score.ts", [
      "--checkpoint",
      ckpt,
      "--images",
      testDir,
      "--false-alarm-rate",
      "0.3",
    ]);
    assert.equal(byRate.code, 0, byRate.stderr);
    const rated = JSON.parse(byRate.stdout) as {
      score: number;
      pValue: number;
      anomaly: boolean;
    }[];
    assert.deepEqual(rated.map((r) => r.score), items.map((r: { score: number }) => r.score));
    for (const r of rated) assert.equal(r.anomaly, r.pValue <= 0.3);
    const badRate = await runScript("score.ts", [
      "--checkpoint",
      ckpt,
      "--images",
      testDir,
      "--false-alarm-rate",
      "5",
    ]);
    assert.equal(badRate.code, 2);
    assert.match(badRate.stderr, /--false-alarm-rate must lie strictly between 0 and 1 .*got '5'/);
    // An unreadable file among them is left out: the rest are scored and written, and the run
    // ends with one error line naming it (exit 1).
    const withBad = join(dir, "with_bad");
    await Deno.mkdir(withBad);
    for (const entry of Deno.readDirSync(join(testDir, "good"))) {
      await Deno.copyFile(join(testDir, "good", entry.name), join(withBad, entry.name));
    }
    await Deno.writeFile(join(withBad, "zz_broken.png"), new Uint8Array([137, 80, 78, 71, 1, 2]));
    const partial = join(dir, "partial.json");
    const leftOut = await runScript("score.ts", [
      "--checkpoint",
      ckpt,
      "--images",
      withBad,
      "--category",
      "weave",
      "--json",
      partial,
    ]);
    assert.equal(leftOut.code, 1, leftOut.stderr);
    const lastLine = leftOut.stderr.trim().split("\n").at(-1)!;
    assert.match(lastLine, /^error: 1 of \d+ images could not be read .*zz_broken\.png/);
    const written = JSON.parse(await Deno.readTextFile(partial)) as { id: string }[];
    assert.equal(written.length, [...Deno.readDirSync(withBad)].length - 1);
    assert.ok(written.every((w) => !w.id.includes("zz_broken")));

    // A CSV to score needs no label column; ids are row indices from 0.
    const csv = join(dir, "unlabelled.csv");
    const text = await Deno.readTextFile(data.tablePaths[0]);
    const rows = text.trim().split("\n").slice(0, 6).map((l) =>
      l.split(",").slice(0, -1).join(",")
    );
    await Deno.writeTextFile(csv, rows.join("\n") + "\n");
    const tableScores = await runScript("score.ts", ["--checkpoint", ckpt, "--table", csv]);
    assert.equal(tableScores.code, 0, tableScores.stderr);
    const parsed = JSON.parse(tableScores.stdout);
    assert.deepEqual(parsed.map((r: { id: number }) => r.id), [0, 1, 2, 3, 4]);
    // --explain names the features behind each flagged row's score, and only those rows'.
    const explained = await runScript("score.ts", [
      "--checkpoint",
      ckpt,
      "--table",
      data.tablePaths[0],
      "--explain",
    ]);
    assert.equal(explained.code, 0, explained.stderr);
    const withFeatures = JSON.parse(explained.stdout) as {
      anomaly: boolean;
      features?: [string, number][];
    }[];
    assert.ok(withFeatures.some((r) => r.anomaly));
    for (const r of withFeatures) assert.equal(r.features !== undefined, r.anomaly);

    // Parallel scorers (workers loading the checkpoint themselves) give the same scores, in order.
    const many = join(dir, "many");
    await writeSyntheticImages(many, { seed: 9, size: 32, categories: ["weave"], nTrain: 50 });
    const runWith = (workers: number) =>
      runScript("score.ts", [
        "--checkpoint",
        ckpt,
        "--images",
        join(many, "weave", "train", "good"),
        "--workers",
        String(workers),
      ]);
    const scoreWith = async (workers: number) => {
      const run = await runWith(workers);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as Array<{ id: string; score: number }>;
    };
    const alone = await scoreWith(1);
    const parallel = await scoreWith(2);
    assert.equal(alone.length, 50);
    assert.deepEqual(parallel.map((r) => r.id), alone.map((r) => r.id));
    parallel.forEach((r, i) => assert.ok(Math.abs(r.score - alone[i].score) < 1e-5, r.id));

    // A broken file among them stops the parallel run with one line naming it.
    const broken = join(many, "weave", "train", "good", "zz_broken.png");
    await Deno.writeFile(broken, new TextEncoder().encode("not a png at all"));
    const failed = await runWith(2);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /zz_broken\.png: not a readable image/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Stopping after epoch 1 resumes before the weights are averaged (tinyConfig's 3 epochs average
// the last 2), after epoch 2 in the middle of the average: both end where a straight run ends.
for (const stop of [1, 2]) {
  Deno.test(`resuming a run after epoch ${stop} of 3 ends with the same metrics as an uninterrupted run`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-resume-" });
    try {
      const data = await writeTinyData(join(dir, "data"));
      const config = tinyConfig({ train: { epochs: 3 } });
      const straight = await train({ config, ...data, out: join(dir, "straight"), quiet: true });
      const first = await train({
        config,
        ...data,
        out: join(dir, "resumed"),
        quiet: true,
        stopAfterEpochs: stop,
      });
      assert.equal(first.epochs, stop);
      const rest = await train({
        config,
        ...data,
        out: join(dir, "resumed"),
        quiet: true,
        resume: first.last,
      });
      assert.equal(rest.epochs, 3);
      const a = straight.rows.at(-1)!;
      const b = rest.rows.at(-1)!;
      assert.ok(Math.abs(a.loss - b.loss) < 1e-6, `loss ${a.loss} vs ${b.loss}`);
      assert.ok(Math.abs(a.val_auroc - b.val_auroc) < 1e-6, `val ${a.val_auroc} vs ${b.val_auroc}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/**
 * Evaluation of datasets it cannot rank (QA sweep 6, bugs 2, 3 and 10): a test part of a single
 * class, masks with no anomalous pixel, and a table scored under another name than its file's.
 * Each is reported with what it can measure and one warning line, and never costs the other
 * datasets their evaluation.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import sharp from "sharp";
import { writeSyntheticImages, writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { tinyConfig } from "../lib/experiment/setup.ts";
import { train } from "../lib/train/loop.ts";
import { disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { evaluateCheckpoint } from "../lib/experiment/evaluate_checkpoint.ts";
import { evaluationJson, sourceLines } from "../lib/experiment/results.ts";
import {
  componentSections,
  curveSections,
  defectSections,
  distributionSections,
  evaluationRows,
  metricsHtml,
} from "../lib/report/evaluation.ts";
import { metricsTable } from "../lib/report/table.ts";
import { discoverBenchmark } from "../lib/benchmark/discover.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { inTempDir, runCli } from "./fixtures.ts";

/** Overwrites every mask PNG under `dir/ground_truth` with an all-black one of the same size. */
async function emptyMasks(dir: string, size: number): Promise<number> {
  let count = 0;
  const truth = join(dir, "ground_truth");
  for await (const defect of Deno.readDir(truth)) {
    for await (const file of Deno.readDir(join(truth, defect.name))) {
      const raw = new Uint8Array(size * size);
      await sharp(raw, { raw: { width: size, height: size, channels: 1 } })
        .png().toFile(join(truth, defect.name, file.name));
      count++;
    }
  }
  return count;
}

Deno.test("eval: one-class test parts, empty masks and a renamed table are all reported", async () => {
  await inTempDir(async (dir) => {
    const size = 32;
    // weave: both classes; dots (another folder): test/good only.
    const both = join(dir, "images");
    const goodOnly = join(dir, "good_only");
    const common = { seed: 1, size, nTrain: 8, nTestGood: 3 };
    await writeSyntheticImages(both, { ...common, categories: ["weave"], nTestBad: 3 });
    await writeSyntheticImages(goodOnly, { ...common, categories: ["dots"], nTestBad: 0 });
    const base = join(dir, "base.csv");
    const noanom = join(dir, "noanom.csv");
    // A copy of noanom.csv, scored under a trained table's name.
    const other = join(dir, "other.csv");
    await writeSyntheticTableCsv(base, { seed: 1, n: 300, d: 4, anomalyShare: 0.1 });
    await writeSyntheticTableCsv(noanom, { seed: 2, n: 200, d: 4, anomalyShare: 0 });
    const run = await train({
      config: tinyConfig({ train: { epochs: 1 } }),
      imageDirs: [both, goodOnly],
      tablePaths: [base, noanom],
      out: join(dir, "run"),
      quiet: true,
    });
    // Masks that mark nothing (a 0/1 export read as all 0, or masks never drawn).
    assert.equal(await emptyMasks(join(both, "weave"), size), 3);
    const ckpt = await loadCheckpoint(run.best);
    try {
      const lines: string[] = [];
      const evaluations = await evaluateCheckpoint(ckpt, {
        cache: new ImageCache(),
        onProgress: (line) => lines.push(line),
      });
      const by = Object.fromEntries(evaluations.map((e) => [e.name, e]));
      assert.deepEqual(Object.keys(by).sort(), ["base", "dots", "noanom", "weave"]);
      // The masks were emptied after training, which the category's digest notices.
      assert.ok(lines.some((l) => /^warning: \S+images: not what category weave/.test(l)));
      const warnings = lines.filter((l) =>
        l.startsWith("warning:") && !l.includes("its contents differ")
      );
      assert.equal(warnings.length, 3, lines.join("\n"));
      for (const line of warnings) assert.ok(!line.includes("\n"));

      // Both classes: every metric; the empty masks cost the pixel metrics only.
      assert.equal(typeof by.weave.metrics.auroc, "number");
      assert.equal(typeof by.base.metrics.auroc, "number");
      assert.equal(by.weave.pixel, undefined);
      assert.ok(
        warnings.some((l) =>
          l.includes("image category weave") && l.includes("masks are all empty") &&
          l.includes("no pixel AUROC")
        ),
        warnings.join("\n"),
      );

      // Only normals: the false-alarm rate is measured, the rankings are null, the reason kept.
      for (const [name, source] of [["dots", goodOnly], ["noanom", noanom]]) {
        const e = by[name];
        assert.equal(e.metrics.auroc, null, name);
        assert.equal(e.metrics.aupr, null, name);
        assert.equal(e.metrics.f1, null, name);
        assert.equal(e.metrics.anomalies, 0, name);
        assert.equal(typeof e.metrics.false_alarm_rate, "number", name);
        assert.equal(e.unmeasured, "the test part has only normal samples");
        assert.ok(e.components.every((c) => c.auroc === null), name);
        assert.ok(
          warnings.some((l) => l.includes(` ${name} (${source})`) && l.includes("only normal")),
          `${name}: ${warnings.join("\n")}`,
        );
      }

      // JSON: null for what cannot be measured, the source of each dataset.
      const json = JSON.parse(JSON.stringify(evaluationJson(evaluations)));
      const entry = json.datasets.find((d: { name: string }) => d.name === "noanom");
      assert.equal(entry.auroc, null);
      assert.equal(entry.source, noanom);
      assert.equal(entry.unmeasured, "the test part has only normal samples");
      assert.equal(json.datasets.find((d: { name: string }) => d.name === "dots").source, goodOnly);

      // Tables and reports: "n/a", never "null" or a crash.
      const table = metricsTable(evaluationRows(evaluations));
      assert.ok(table.includes("n/a") && !table.includes("null"), table);
      assert.ok(!metricsHtml(evaluations).includes("null"));
      const curves = curveSections(evaluations);
      assert.equal(curves.length, 2);
      // Said once, under the last figure.
      assert.equal(curves[0].caption, undefined);
      assert.match(curves[1].caption!, /No curve for dots \(the test part has only normal/);
      assert.ok(curves[1].caption!.includes("noanom"));
      componentSections(evaluations);
      defectSections(evaluations);
      distributionSections(evaluations);
      assert.equal(curveSections([by.dots])[0].figure, undefined);

      // Another file of the same columns, scored as table base: the result says which file.
      await Deno.copyFile(noanom, other);
      const [scored] = await evaluateCheckpoint(ckpt, {
        cache: new ImageCache(),
        tablePaths: [other],
        tableName: "base",
      });
      assert.equal(scored.name, "base");
      assert.equal(scored.source, other);
      assert.deepEqual(sourceLines([scored]), [`${other}: scored as table base`]);
      assert.equal(evaluationJson([scored]).datasets[0].source, other);
      assert.deepEqual(sourceLines(evaluations), []);
    } finally {
      disposeCheckpoint(ckpt);
    }

    // The command: exit 0, the JSON written, one warning line, the renamed file said.
    const json = join(dir, "eval.json");
    const cli = await runCli("eval.ts", [
      "--checkpoint",
      run.best,
      "--table",
      other,
      "--category",
      "noanom",
      "--json",
      json,
    ], dir);
    assert.equal(cli.code, 0, cli.stderr);
    const written = JSON.parse(await Deno.readTextFile(json));
    assert.equal(written.datasets[0].name, "noanom");
    assert.equal(written.datasets[0].source, other);
    assert.equal(written.datasets[0].auroc, null);
    const cliWarnings = cli.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    assert.equal(cliWarnings.length, 1, cli.stderr);
    assert.match(cliWarnings[0], /table noanom \(.*other\.csv\): the test part has only normal/);
  });
});

Deno.test("discoverBenchmark: an image category whose test part has one class is skipped, as such a table", async () => {
  await inTempDir(async (dir) => {
    const files: Record<string, string> = {
      "ok/train/good/000.png": "png",
      "ok/test/good/000.png": "png",
      "ok/test/crack/000.png": "png",
      "onlygood/train/good/000.png": "png",
      "onlygood/test/good/000.png": "png",
      "nodefect/train/good/000.png": "png",
      "nodefect/test/crack/000.png": "png",
      "notest/train/good/000.png": "png",
    };
    for (const [rel, text] of Object.entries(files)) {
      await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, rel), text);
    }
    const found = await discoverBenchmark({ imagesDir: dir });
    assert.deepEqual(found.datasets.map((d) => d.name), ["ok"]);
    const reasons = Object.fromEntries<string>(
      found.skipped.map((s) => [basename(s.source), s.reason]),
    );
    assert.deepEqual(Object.keys(reasons).sort(), ["nodefect", "notest", "onlygood"]);
    for (const reason of Object.values(reasons)) {
      assert.match(reason, /^needs both normal and anomalous test images/);
    }
    assert.match(reasons.onlygood, /only good ones, 1/);
    assert.match(reasons.nodefect, /only defects, 1/);
    assert.match(reasons.notest, /holds none/);
  });
});

/**
 * Components validation gives weight 0 (`enc` on some ADBench tables, e.g. 15_Hepatitis): the
 * evaluation still measures each alone and marks it, while the combined score, and an image's
 * maps, are those of the production scoring, which does not compute them at all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { initParams } from "../lib/model/madformer.ts";
import { fitImageKey, scoreKey } from "../lib/model/scorer.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { datasetKey, prepareTable } from "../lib/train/datasets.ts";
import { fittedFor } from "../lib/train/fitted.ts";
import { evaluateCheckpoint } from "../lib/experiment/evaluate_checkpoint.ts";
import { componentLines, evaluationJson } from "../lib/experiment/results.ts";
import { componentSections } from "../lib/report/evaluation.ts";
import { auroc } from "../lib/metrics/ranking.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { Rng } from "../lib/rng.ts";
import { inTempDir, SMALL_MODEL, trainTinyTable } from "./fixtures.ts";

await useBackend("wasm");

Deno.test("a table component of weight 0 is measured alone in eval, the combined score unchanged", async () => {
  await inTempDir(async (dir) => {
    const table = join(dir, "base.csv");
    await writeSyntheticTableCsv(table, { seed: 3, n: 300, d: 4, anomalyShare: 0.1 });
    const ckpt = await loadCheckpoint(await trainTinyTable(table, join(dir, "run")));
    try {
      const record = ckpt.datasets.find((d) => d.modality === "table")!;
      const key = datasetKey(record);
      const fitted = ckpt.stats[key];
      // The fixture: validation's weights with `enc` at 0 (the others as fitted, renormalised;
      // `knn` alone should nothing else be left).
      const fittedWeights = fitted.weights!;
      assert.ok("enc" in fittedWeights, JSON.stringify(fittedWeights));
      const rest = Object.entries(fittedWeights).filter(([c]) => c !== "enc");
      const total = rest.reduce((s, [, w]) => s + w, 0);
      const weights: Record<string, number> = Object.fromEntries(
        rest.map(([c, w]) => [c, total > 0 ? w / total : c === "knn" ? 1 : 0]),
      );
      weights.enc = 0;
      ckpt.stats[key] = { ...fitted, weights };

      const [evaluation] = await evaluateCheckpoint(ckpt, { cache: new ImageCache() });
      const enc = evaluation.components.find((c) => c.name === "enc");
      assert.ok(enc, "enc is reported: " + JSON.stringify(evaluation.components));
      assert.equal(enc.weight, 0);
      assert.equal(enc.droppedByValidation, true);
      assert.equal(typeof enc.auroc, "number");
      // Counted components are not marked, and their shares still sum to 1.
      const counted = evaluation.components.filter((c) => c.weight > 0);
      assert.ok(counted.every((c) => !c.droppedByValidation));
      assert.ok(Math.abs(counted.reduce((s, c) => s + c.weight, 0) - 1) < 1e-9);

      // The combined score is the one production scoring gives, which never computes `enc`.
      const prepared = prepareTable(
        record.source,
        record.split,
        record.normalisation,
        record.name,
        {},
        record.columns,
        () => {},
      );
      const samples = {
        modality: "table" as const,
        table: record.name,
        rows: prepared.test,
        d: prepared.d,
      };
      const production = scoreKey(ckpt.params, ckpt.config.model, fittedFor(ckpt, key), samples);
      assert.equal(production.parts.enc, undefined);
      assert.deepEqual(evaluation.scores, production.scores);
      assert.equal(evaluation.metrics.auroc, auroc(production.scores, prepared.testLabels));

      // `enc` alone reads the same whether it counts or not: its evidence is the weights' no more.
      ckpt.stats[key] = { ...fitted, weights: { ...weights, enc: 1 } };
      const [counting] = await evaluateCheckpoint(ckpt, { cache: new ImageCache() });
      const encCounting = counting.components.find((c) => c.name === "enc")!;
      assert.ok(encCounting.weight > 0 && !encCounting.droppedByValidation);
      assert.equal(encCounting.auroc, enc.auroc);

      // Marked in the line `eval` prints and in its JSON.
      const line = componentLines([evaluation])[0];
      assert.ok(
        line.includes(`enc 0.00 (${enc.auroc!.toFixed(3)}, weight 0 by validation)`),
        line,
      );
      const json = evaluationJson([evaluation]).datasets[0].components;
      assert.deepEqual(json.enc, { weight: 0, auroc: enc.auroc, dropped_by_validation: true });
      // And in the evaluation report's (and notebook 04's) caption of the evidence figure.
      assert.match(
        componentSections([evaluation])[0].caption!,
        /Weight 0 by validation: enc \(measured for this report, not counted in the score\)/,
      );
    } finally {
      disposeCheckpoint(ckpt);
    }
  });
});

Deno.test("image views of weight 0: measured alone on request, the scores and maps unchanged", () => {
  const config = mergeConfig(DEFAULT_CONFIG, { model: SMALL_MODEL }).model;
  const rng = new Rng(7);
  const image = () => Float32Array.from({ length: 32 * 32 * 3 }, () => rng.next());
  const params = initParams(config, [], 0);
  const { fitted } = fitImageKey(params, config, [0, 1, 2, 3, 4, 5].map(image), [image()], 0, 11);
  // Every view of the finer grid (4 px cells) at weight 0: maps of the counted views alone are
  // on the coarser grid, which a map that also read the others would not be.
  const views = Object.keys(fitted.stats.weights!);
  const dropped = views.filter((c) => /4$|^knn0$/.test(c));
  assert.ok(dropped.length > 0 && dropped.length < views.length, views.join(","));
  const weights = Object.fromEntries(
    views.map((c) => [c, dropped.includes(c) ? 0 : 1 / (views.length - dropped.length)]),
  );
  const key = { ...fitted, stats: { ...fitted.stats, weights } };
  const images = { modality: "image" as const, images: [image(), image(), image()] };
  const production = scoreKey(params, config, key, images);
  const reported = scoreKey(params, config, key, images, { everyComponent: true });
  assert.deepEqual(reported.scores, production.scores);
  assert.equal(reported.grid, production.grid);
  assert.deepEqual(reported.maps, production.maps);
  assert.deepEqual(
    Object.keys(production.parts).sort(),
    views.filter((c) => !dropped.includes(c)).sort(),
  );
  assert.deepEqual(Object.keys(reported.parts).sort(), [...views].sort());
  for (const c of Object.keys(production.parts)) {
    assert.deepEqual(reported.parts[c], production.parts[c]);
  }
});

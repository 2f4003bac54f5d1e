import assert from "node:assert/strict";
import { join } from "node:path";
import { useBackend } from "../lib/backend/mod.ts";
import {
  ABLATION_VARIANTS,
  type AblationRun,
  evidenceVariants,
  IMAGES_MEAN,
  meanStd,
  runAblation,
  runFileName,
  selectVariants,
  summarizeAblation,
  variantConfig,
  variantData,
} from "../lib/experiment/ablation.ts";
import { tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import { ablationFigure, ablationRows, formatMeanStd } from "../lib/report/ablation_tables.ts";
import { MadError } from "../lib/errors.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import { activeComponents, componentOf, type Modality } from "../lib/model/evidence/mod.ts";

Deno.test("ablation grid: every variant makes a valid config, names are unique", () => {
  const base = tinyConfig();
  const names = ABLATION_VARIANTS.map((v) => v.name);
  assert.equal(new Set(names).size, names.length);
  for (const v of ABLATION_VARIANTS) variantConfig(base, v, 0);
  const noMod = variantConfig(base, selectVariants(["no_modality_embedding"])[0], 2);
  assert.equal(noMod.model.modalityEmbedding, false);
  assert.equal(noMod.train.seed, base.train.seed + 2);
  assert.equal(base.model.modalityEmbedding, true, "base config is not modified");
});

// The evidence each variant scores with on the default model, per modality it trains on.
const VIEWS = ["knn0", "pix4", "con4", "con8", "std4", "std8"];
const TABLE = ["knn", "dens", "iso"];
const FULL = { image: [...VIEWS, "enc"], table: TABLE };
const PRE_ENCODER = { image: VIEWS, table: TABLE };
const EXPECTED_EVIDENCE: Record<string, Partial<Record<Modality, string[]>>> = {
  full: FULL,
  no_modality_embedding: FULL,
  no_position_embedding: FULL,
  separate_encoders: FULL,
  reconstruction_only: { image: ["recon"], table: ["recon"] },
  knn_only: { image: VIEWS, table: ["knn"] },
  density_only: { table: ["dens"] },
  isolation_only: { table: ["iso"] },
  encoder_only: { image: ["enc"], table: ["enc"] },
  anomaly_head_only: { image: ["patch", "cls"], table: ["cls"] },
  no_reconstruction_head: FULL,
  no_knn_head: { image: ["enc"], table: ["dens", "iso"] },
  no_density_head: { image: FULL.image, table: ["knn", "iso"] },
  no_isolation_head: { image: FULL.image, table: ["knn", "dens"] },
  no_encoder_evidence: PRE_ENCODER,
  no_anomaly_head: FULL,
  heads_in_image_score: { image: ["recon", ...FULL.image, "patch", "cls"], table: FULL.table },
  heads_in_table_score: { image: FULL.image, table: ["recon", ...FULL.table, "cls"] },
  table_validation_weights: FULL,
  classic_forest: FULL,
  no_log_scale: FULL,
  images_only: { image: FULL.image },
  table_only: { table: FULL.table },
};

function variantEvidence(name: string): Partial<Record<Modality, string[]>> {
  const variant = selectVariants([name])[0];
  const model = variantConfig(DEFAULT_CONFIG, variant, 0).model;
  const modalities: Modality[] = variant.data === "joint"
    ? ["image", "table"]
    : [variant.data === "images" ? "image" : "table"];
  return Object.fromEntries(modalities.map((m) => [m, activeComponents(model, m)]));
}

Deno.test("ablation grid: every variant scores with the evidence expected of it", () => {
  assert.deepEqual(
    ABLATION_VARIANTS.map((v) => v.name).sort(),
    Object.keys(EXPECTED_EVIDENCE).sort(),
  );
  for (const v of ABLATION_VARIANTS) {
    assert.deepEqual(variantEvidence(v.name), EXPECTED_EVIDENCE[v.name], v.name);
  }
});

Deno.test("ablation grid: each *_only variant keeps exactly the evidence of its switch", () => {
  const only = evidenceVariants("only");
  assert.deepEqual(only.map((v) => v.name), [
    "reconstruction_only",
    "knn_only",
    "density_only",
    "isolation_only",
    "encoder_only",
    "anomaly_head_only",
  ]);
  // encoder_only keeps the heads whose losses train the encoder; their evidence does not count.
  const kept: Record<string, string[]> = {
    encoder_only: ["reconstructionHead", "anomalyHead", "tableEncoderEvidence"],
  };
  for (const v of only) {
    const named = Object.entries(v.overrides.model!).filter(([k, on]) =>
      on && !(kept[v.name] ?? []).includes(k)
    ).map(([k]) => k);
    assert.equal(named.length, 1, v.name);
    const evidence = Object.values(variantEvidence(v.name)).flat();
    assert.ok(evidence.length > 0, v.name);
    for (const c of evidence) assert.equal(componentOf(c)?.switch.key, named[0], `${v.name}: ${c}`);
    if (v.name !== "isolation_only") assert.ok(!evidence.includes("iso"), v.name);
  }
  // Each no_* variant drops exactly the evidence of its switch.
  for (const v of evidenceVariants("without")) {
    const [key] = Object.keys(v.overrides.model!);
    const evidence = Object.values(variantEvidence(v.name)).flat();
    assert.ok(evidence.every((c) => componentOf(c)?.switch.key !== key), v.name);
  }
});

Deno.test("selectVariants keeps grid order and names unknown variants", () => {
  assert.deepEqual(selectVariants(["table_only", "full"]).map((v) => v.name), [
    "full",
    "table_only",
  ]);
  assert.equal(selectVariants().length, ABLATION_VARIANTS.length);
  assert.throws(() => selectVariants(["nope"]), (e: unknown) => {
    assert.ok(e instanceof MadError);
    assert.match(e.message, /unknown ablation variant 'nope' \(known: full, /);
    return true;
  });
});

Deno.test("variantData selects the modality and refuses a missing one", () => {
  const data = { imageDirs: ["img"], tablePaths: ["t.csv"] };
  const [images, table] = selectVariants(["images_only", "table_only"]);
  assert.deepEqual(variantData(images, data), { imageDirs: ["img"], tablePaths: [] });
  assert.deepEqual(variantData(table, data), { imageDirs: [], tablePaths: ["t.csv"] });
  assert.throws(() => variantData(table, { imageDirs: ["img"], tablePaths: [] }), MadError);
});

Deno.test("meanStd uses the sample standard deviation and skips NaN", () => {
  const m = meanStd([0.5, 0.7, NaN]);
  assert.equal(m.n, 2);
  assert.ok(Math.abs(m.mean - 0.6) < 1e-12);
  assert.ok(Math.abs(m.std - Math.sqrt(0.02)) < 1e-12);
  assert.equal(meanStd([0.9]).std, 0);
  assert.ok(Number.isNaN(meanStd([]).mean));
});

function fakeRun(variant: string, seed: number, aurocs: Record<string, number>): AblationRun {
  return {
    variant,
    description: variant,
    data: "joint",
    seed,
    config: tinyConfig(),
    train: { bestEpoch: 1, bestValAuroc: 0.5, epochs: 1, seconds: 0 },
    evalSeconds: 0,
    datasets: Object.entries(aurocs).map(([name, auroc]) => ({
      name,
      modality: name === "table" ? "table" : "image",
      auroc,
    })) as AblationRun["datasets"],
  };
}

Deno.test("summarizeAblation: mean ± std per dataset plus the image mean", () => {
  const summary = summarizeAblation([
    fakeRun("full", 0, { a: 0.8, b: 0.6, table: 0.9 }),
    fakeRun("full", 1, { a: 1.0, b: 0.8, table: 0.7 }),
    fakeRun("table_only", 0, { table: 0.95 }),
  ], [0, 1]);
  assert.deepEqual(summary.datasets, ["a", "b", "table", IMAGES_MEAN]);
  const full = summary.variants[0];
  assert.ok(Math.abs(full.auroc.a.mean - 0.9) < 1e-12);
  assert.ok(Math.abs(full.auroc[IMAGES_MEAN].mean - 0.8) < 1e-12);
  assert.equal(summary.variants[1].auroc.a, undefined);
  const rows = ablationRows(summary);
  assert.equal(rows[0]["a AUROC"], "0.9000 ± 0.1414");
  assert.equal(rows[1]["a AUROC"], "-");
  assert.equal(formatMeanStd(undefined), "-");
  const figure = ablationFigure(summary);
  assert.equal(figure.data.length, 4);
  assert.deepEqual(figure.data[0].x, ["full", "table_only"]);
  assert.deepEqual((figure.data[0].y as unknown[])[1], null);
});

Deno.test({
  name: "runAblation trains the tiny grid, writes run files and summary, reuses finished runs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await useBackend("auto");
    const dir = await Deno.makeTempDir({ prefix: "madformer-ablation-" });
    try {
      const data = await writeTinyData(join(dir, "data"));
      const out = join(dir, "out");
      const variants = selectVariants(["full", "table_only"]);
      const base = tinyConfig({ train: { epochs: 1 } });
      const seen: string[] = [];
      const summary = await runAblation({
        variants,
        seeds: 2,
        base,
        data,
        out,
        quiet: true,
        onResult: (run, done, total) => seen.push(`${run.variant}:${run.seed}:${done}/${total}`),
      });
      assert.deepEqual(seen, ["full:0:1/4", "full:1:2/4", "table_only:0:3/4", "table_only:1:4/4"]);
      for (const v of ["full", "table_only"]) {
        for (const k of [0, 1]) {
          const run = JSON.parse(await Deno.readTextFile(join(out, runFileName(v, k))));
          assert.equal(run.variant, v);
          assert.equal(run.seed, k);
          assert.equal(run.config.train.seed, base.train.seed + k);
          for (const d of run.datasets) assert.ok(d.auroc >= 0 && d.auroc <= 1, d.name);
        }
      }
      const onDisk = JSON.parse(await Deno.readTextFile(join(out, "summary.json")));
      assert.deepEqual(onDisk, JSON.parse(JSON.stringify(summary)));
      assert.equal(summary.variants.length, 2);
      assert.equal(summary.variants[0].auroc.table.n, 2);
      assert.deepEqual(Object.keys(summary.variants[1].auroc), ["table"]);
      // Checkpoints are dropped by default; logs stay.
      const runDir = join(out, "runs", "full_seed0");
      const files = [...Deno.readDirSync(runDir)].map((e) => e.name);
      assert.ok(files.includes("metrics.jsonl"));
      assert.ok(!files.some((f) => f.endsWith(".safetensors")));

      // A second call with the same config reuses every run file.
      const started = performance.now();
      const again = await runAblation({ variants, seeds: 2, base, data, out, quiet: true });
      assert.deepEqual(again, summary);
      assert.ok(performance.now() - started < 2000, "finished runs are not retrained");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

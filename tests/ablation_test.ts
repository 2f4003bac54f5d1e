import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { useBackend } from "../lib/backend/mod.ts";
import {
  ABLATION_VARIANTS,
  type AblationRun,
  compareToReference,
  ENCODER_STUDY,
  evidenceVariants,
  exceedsSpread,
  IMAGES_MEAN,
  meanStd,
  readAblationRun,
  runAblation,
  runFileName,
  runnableVariants,
  selectVariants,
  summarizeAblation,
  variantConfig,
  variantData,
} from "../lib/experiment/ablation.ts";
import { experiment, tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import {
  ablationDifferenceRows,
  ablationFigure,
  ablationRows,
  ablationScoreFigure,
  ablationScoreRows,
  exceedingDifferences,
  formatMeanStd,
  headlineDatasets,
} from "../lib/report/ablation_tables.ts";
import { MadError } from "../lib/errors.ts";
import { madErrorAsync } from "./fixtures.ts";
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
const TRANSFORMER = { image: ["enc"], table: ["enc", "enc_kde"] };
const FULL = { image: [...VIEWS, "enc"], table: [...TABLE, ...TRANSFORMER.table] };
const PRE_ENCODER = { image: VIEWS, table: TABLE };
const EXPECTED_EVIDENCE: Record<string, Partial<Record<Modality, string[]>>> = {
  full: FULL,
  no_modality_embedding: FULL,
  no_position_embedding: FULL,
  separate_encoders: FULL,
  shared_blocks: FULL,
  modality_mlps: FULL,
  reconstruction_only: { image: ["recon"], table: ["recon"] },
  knn_only: { image: VIEWS, table: ["knn"] },
  density_only: { table: ["dens"] },
  isolation_only: { table: ["iso"] },
  encoder_only: TRANSFORMER,
  anomaly_head_only: { image: ["patch", "cls"], table: ["cls"] },
  no_reconstruction_head: FULL,
  no_knn_head: { image: ["enc"], table: ["dens", "iso", ...TRANSFORMER.table] },
  no_density_head: { image: FULL.image, table: ["knn", "iso", ...TRANSFORMER.table] },
  no_isolation_head: { image: FULL.image, table: ["knn", "dens", ...TRANSFORMER.table] },
  no_encoder_evidence: PRE_ENCODER,
  no_anomaly_head: FULL,
  heads_in_image_score: { image: ["recon", ...FULL.image, "patch", "cls"], table: FULL.table },
  heads_in_table_score: { image: FULL.image, table: ["recon", ...FULL.table, "cls"] },
  table_validation_weights: FULL,
  table_equal_weights: FULL,
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

Deno.test("runnableVariants leaves out the variants of a modality not given", () => {
  const tablesOnly = runnableVariants(ABLATION_VARIANTS, { imageDirs: [], tablePaths: ["t.csv"] });
  assert.ok(tablesOnly.leftOut.length > 0);
  assert.ok(tablesOnly.leftOut.every((v) => v.data === "images"));
  assert.ok(tablesOnly.runnable.some((v) => v.name === "full"));
  assert.equal(tablesOnly.runnable.length + tablesOnly.leftOut.length, ABLATION_VARIANTS.length);
  const imagesOnly = runnableVariants(ABLATION_VARIANTS, { imageDirs: ["d"], tablePaths: [] });
  assert.ok(imagesOnly.leftOut.every((v) => v.data === "table"));
  assert.ok(imagesOnly.leftOut.some((v) => v.name === "density_only"));
  // Each left-out variant is one variantData refuses, and no runnable one is.
  for (const v of imagesOnly.leftOut) {
    assert.throws(() => variantData(v, { imageDirs: ["d"], tablePaths: [] }));
  }
  for (const v of imagesOnly.runnable) variantData(v, { imageDirs: ["d"], tablePaths: [] });
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

function fakeRun(
  variant: string,
  seed: number,
  aurocs: Record<string, number>,
  enc?: Record<string, number>,
): AblationRun {
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
      components: enc && name in enc
        ? { knn: { weight: 0.5, auroc: 0.5 }, enc: { weight: 0.5, auroc: enc[name] } }
        : { knn: { weight: 1, auroc: 0.5 } },
    })) as unknown as AblationRun["datasets"],
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
  // One seed has no spread: the mean alone, not "± 0.0000"; two equal seeds do show 0.
  assert.equal(formatMeanStd({ mean: 0.9, std: 0, n: 1 }), "0.9000");
  assert.equal(formatMeanStd({ mean: 0.9, std: 0, n: 2 }), "0.9000 ± 0.0000");
  const figure = ablationFigure(summary);
  assert.equal(figure.data.length, 4);
  assert.deepEqual(figure.data[0].x, ["full", "table_only"]);
  assert.deepEqual((figure.data[0].y as unknown[])[1], null);
});

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} != ${b}`);

// Three seeds of full and no_modality_embedding with enc alone, knn_only without enc.
function encoderRuns(): AblationRun[] {
  return [
    fakeRun("full", 0, { a: 0.9, b: 0.7, table: 0.90 }, { a: 0.80, b: 0.60, table: 0.85 }),
    fakeRun("full", 1, { a: 0.9, b: 0.8, table: 0.92 }, { a: 0.82, b: 0.70, table: 0.87 }),
    fakeRun("full", 2, { a: 0.9, b: 0.9, table: 0.94 }, { a: 0.84, b: 0.80, table: 0.89 }),
    fakeRun("no_modality_embedding", 0, { a: 0.9, b: 0.8, table: 0.91 }, {
      a: 0.70,
      b: 0.70,
      table: 0.80,
    }),
    fakeRun("no_modality_embedding", 1, { a: 0.9, b: 0.8, table: 0.93 }, {
      a: 0.72,
      b: 0.70,
      table: 0.86,
    }),
    fakeRun("no_modality_embedding", 2, { a: 0.9, b: 0.8, table: 0.95 }, {
      a: 0.74,
      b: 0.70,
      table: 0.92,
    }),
    fakeRun("knn_only", 0, { a: 0.8, b: 0.8, table: 0.9 }),
    fakeRun("knn_only", 1, { a: 0.8, b: 0.8, table: 0.9 }),
  ];
}

Deno.test("summarizeAblation keeps each component's AUROC alone, enc absent without it", () => {
  const summary = summarizeAblation(encoderRuns(), [0, 1, 2]);
  assert.deepEqual(summary.datasets, ["a", "b", "table", IMAGES_MEAN]);
  assert.deepEqual(summary.modalities, {
    a: "image",
    b: "image",
    table: "table",
    [IMAGES_MEAN]: "image",
  });
  const [full, noMod, knn] = summary.variants;
  // enc alone on a over seeds: 0.80, 0.82, 0.84 -> mean 0.82, sample std 0.02.
  close(full.components.enc.a.mean, 0.82, "full enc a mean");
  close(full.components.enc.a.std, 0.02, "full enc a std");
  assert.equal(full.components.enc.a.n, 3);
  // images (mean) per run: (0.80+0.60)/2, (0.82+0.70)/2, (0.84+0.80)/2 = 0.70, 0.76, 0.82.
  close(full.components.enc[IMAGES_MEAN].mean, 0.76, "full enc images mean");
  close(full.components.enc[IMAGES_MEAN].std, 0.06, "full enc images std");
  close(noMod.components.enc.table.mean, 0.86, "no_mod enc table mean");
  close(noMod.components.enc.table.std, 0.06, "no_mod enc table std");
  // The combined score is summarised as before.
  close(full.auroc.table.mean, 0.92, "full combined table");
  close(full.auroc.table.std, 0.02, "full combined table std");
  // knn_only never scored with enc: its enc entries are absent, its knn ones present.
  assert.equal(knn.components.enc, undefined);
  assert.equal(knn.components.knn.a.n, 2);
  const rows = ablationScoreRows(summary, { datasets: headlineDatasets(summary) });
  assert.deepEqual(Object.keys(rows[0]), [
    "name",
    "data",
    `${IMAGES_MEAN} combined`,
    `${IMAGES_MEAN} enc alone`,
    "table combined",
    "table enc alone",
    "seeds",
  ]);
  assert.equal(rows[0]["table enc alone"], "0.8700 ± 0.0200");
  assert.equal(rows[2]["table enc alone"], "-");
  assert.equal(rows[2]["table combined"], "0.9000 ± 0.0000");
  assert.equal(rows[0].seeds, 3);
  const figure = ablationScoreFigure(summary);
  assert.deepEqual(figure.data.map((t) => t.name), ["combined score", "enc alone"]);
  const x = figure.data[1].x as string[][];
  assert.deepEqual(x[0], [IMAGES_MEAN, IMAGES_MEAN, IMAGES_MEAN, "table", "table", "table"]);
  assert.deepEqual(x[1], [
    "full",
    "no_modality_embedding",
    "knn_only",
    "full",
    "no_modality_embedding",
    "knn_only",
  ]);
  const y = figure.data[1].y as (number | null)[];
  close(y[3]!, 0.87, "figure enc full table");
  assert.equal(y[5], null);
  const errors = (figure.data[1].error_y as { array: (number | null)[] }).array;
  close(errors[0]!, 0.06, "figure enc error bar");
  assert.deepEqual(JSON.parse(JSON.stringify(figure)), figure);
});

Deno.test("the ablation's enc alone counts seeds whose validation gave enc weight 0, and says so", () => {
  // full: enc had weight 0 on the table in seeds 0 and 1, and on image category a in seed 2.
  const runs = encoderRuns();
  const drop = (run: AblationRun, dataset: string) => {
    const enc = run.datasets.find((d) => d.name === dataset)!.components.enc;
    Object.assign(enc, { weight: 0, dropped_by_validation: true });
  };
  drop(runs[0], "table");
  drop(runs[1], "table");
  drop(runs[2], "a");
  const summary = summarizeAblation(runs, [0, 1, 2]);
  const [full, noMod, knn] = summary.variants;
  // Measured in every seed all the same: the AUROC alone is summarised as before.
  close(full.components.enc.table.mean, 0.87, "full enc table mean");
  assert.equal(full.components.enc.table.n, 3);
  assert.deepEqual(full.dropped, { enc: { table: 2, a: 1, [IMAGES_MEAN]: 1 } });
  assert.equal(noMod.dropped, undefined);
  assert.equal(knn.dropped, undefined);
  const rows = ablationScoreRows(summary, { datasets: headlineDatasets(summary) });
  assert.equal(rows[0]["table enc alone"], "0.8700 ± 0.0200 (weight 0 in 2 of 3 seeds)");
  assert.equal(rows[0][`${IMAGES_MEAN} enc alone`], "0.7600 ± 0.0600 (weight 0 in 1 of 3 seeds)");
  assert.equal(rows[0]["table combined"], "0.9200 ± 0.0200");
  assert.equal(rows[1]["table enc alone"], "0.8600 ± 0.0600");
  assert.equal(rows[2]["table enc alone"], "-");
  const long = ablationScoreRows(summary, { datasets: ["a"], byDataset: true });
  assert.equal(long[0]["enc alone"], "0.8200 ± 0.0200 (weight 0 in 1 of 3 seeds)");
  // One seed: a mark without a count.
  const one = summarizeAblation(runs.filter((r) => r.seed === 0), [0]);
  assert.equal(
    ablationScoreRows(one, { datasets: ["table"] })[0]["table enc alone"],
    "0.8500 (weight 0)",
  );
});

Deno.test("exceedsSpread: |difference of means| > the larger std, at least two seeds a side", () => {
  const full = meanStd([0.80, 0.82, 0.84]); // mean 0.82, std 0.02
  const lower = meanStd([0.70, 0.72, 0.74]); // mean 0.72, std 0.02: 0.10 > 0.02
  const r = exceedsSpread(full, lower);
  close(r.difference, -0.10, "difference");
  close(r.spread, 0.02, "spread");
  assert.equal(r.exceeds, true);
  // mean 0.86, std 0.06: the difference 0.04 is within the larger std 0.06.
  const wide = exceedsSpread(full, meanStd([0.80, 0.86, 0.92]));
  close(wide.difference, 0.04, "difference");
  close(wide.spread, 0.06, "spread is the larger std");
  assert.equal(wide.exceeds, false);
  // One seed: no spread to hold it against.
  assert.equal(exceedsSpread(full, meanStd([0.5])).exceeds, null);
});

Deno.test("compareToReference sets every variant against full, per dataset and score", () => {
  const summary = summarizeAblation(encoderRuns(), [0, 1, 2]);
  const diffs = compareToReference(summary);
  const find = (variant: string, dataset: string, score: string) =>
    diffs.find((d) => d.variant === variant && d.dataset === dataset && d.score === score);
  assert.ok(diffs.every((d) => d.variant !== "full"));
  // enc alone on a: 0.72 vs 0.82 with both stds 0.02 -> exceeds.
  const encA = find("no_modality_embedding", "a", "enc")!;
  close(encA.difference, -0.10, "enc a");
  assert.equal(encA.exceeds, true);
  // enc alone on table: 0.86 ± 0.06 vs 0.87 ± 0.02 -> within the spread.
  const encTable = find("no_modality_embedding", "table", "enc")!;
  close(encTable.difference, -0.01, "enc table");
  close(encTable.spread, 0.06, "enc table spread");
  assert.equal(encTable.exceeds, false);
  // Combined on table: 0.93 ± 0.02 vs 0.92 ± 0.02 -> within.
  assert.equal(find("no_modality_embedding", "table", "combined")!.exceeds, false);
  // knn_only has no enc: only its combined score is compared; two seeds suffice for the rule.
  assert.equal(find("knn_only", "a", "enc"), undefined);
  assert.equal(find("knn_only", "a", "combined")!.exceeds, true);
  assert.deepEqual(compareToReference(summary, { reference: "nope" }), []);

  const rows = ablationDifferenceRows(diffs, { datasets: ["a", "table"] });
  assert.deepEqual(rows.map((r) => `${r.name}/${r.dataset}`), [
    "no_modality_embedding/a",
    "no_modality_embedding/table",
    "knn_only/a",
    "knn_only/table",
  ]);
  assert.deepEqual(rows[0], {
    name: "no_modality_embedding",
    dataset: "a",
    "Δ combined": "+0.0000",
    "combined spread": "0.0000",
    "combined exceeds": "no",
    "Δ enc alone": "-0.1000",
    "enc spread": "0.0200",
    "enc exceeds": "yes",
  });
  assert.equal(rows[2]["Δ enc alone"], "-");
  assert.equal(rows[2]["enc exceeds"], "-");
  assert.deepEqual(exceedingDifferences(diffs, { datasets: ["a", "table"] }), [
    "no_modality_embedding, a, enc alone: -0.1000 (spread 0.0200)",
    "knn_only, a, combined: -0.1000 (spread 0.0000)",
  ]);
  const long = ablationScoreRows(summary, { datasets: ["table"], byDataset: true });
  assert.deepEqual(long[0], {
    name: "full",
    dataset: "table",
    combined: "0.9200 ± 0.0200",
    "enc alone": "0.8700 ± 0.0200",
    seeds: 3,
  });
  assert.equal(long[2]["enc alone"], "-");
  // Datasets follow the order asked for.
  assert.deepEqual(
    ablationDifferenceRows(diffs, { datasets: ["table", "a"] }).map((r) => r.dataset),
    ["table", "a", "table", "a"],
  );
  // One seed: no spread is shown, where 0.0000 would claim one.
  const seed0 = encoderRuns().filter((r) => r.seed === 0);
  const oneSeed = ablationDifferenceRows(compareToReference(summarizeAblation(seed0, [0])));
  assert.ok(oneSeed.length > 0);
  for (const row of oneSeed) {
    assert.equal(row["combined spread"], "-");
    assert.equal(row["combined exceeds"], "-");
  }
});

Deno.test("ENCODER_STUDY names grid variants, full first", () => {
  assert.deepEqual(selectVariants([...ENCODER_STUDY]).map((v) => v.name), [...ENCODER_STUDY]);
  assert.equal(ENCODER_STUDY[0], "full");
});

Deno.test({
  name: "a run file from before components is read and reused: combined kept, enc absent",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-ablation-old-" });
    try {
      const base = tinyConfig({ train: { epochs: 1 } });
      const [full] = selectVariants(["full"]);
      const old = {
        variant: "full",
        description: full.description,
        data: "joint",
        seed: 0,
        config: variantConfig(base, full, 0),
        train: { bestEpoch: 1, bestValAuroc: 0.7, epochs: 1, seconds: 1 },
        evalSeconds: 1,
        // What run files held before the evaluation's components were kept: no `components`.
        datasets: [
          { name: "a", modality: "image", n: 10, anomalies: 5, auroc: 0.8 },
          { name: "table", modality: "table", n: 10, anomalies: 5, auroc: 0.9 },
        ],
      };
      await Deno.writeTextFile(join(dir, runFileName("full", 0)), JSON.stringify(old));
      const run = await readAblationRun(join(dir, runFileName("full", 0)));
      assert.ok(run);
      assert.deepEqual(run.datasets.map((d) => d.components), [{}, {}]);
      assert.equal(await readAblationRun(join(dir, "missing.json")), null);

      // runAblation reuses it (same config), so nothing trains.
      const summary = await runAblation({
        variants: [full],
        seeds: 1,
        base,
        data: { imageDirs: ["unused"], tablePaths: [] },
        out: dir,
        quiet: true,
      });
      close(summary.variants[0].auroc.table.mean, 0.9, "combined");
      assert.deepEqual(summary.variants[0].components, {});
      assert.deepEqual(ablationScoreRows(summary)[0]["table enc alone"], "-");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
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
      // Each run keeps the evaluation's components, so enc alone is summarised too, for the image
      // categories and the table.
      const encoded = summary.variants[0].components.enc;
      assert.ok("table" in encoded && Object.keys(encoded).length > 1);
      for (const m of Object.values(encoded)) assert.equal(m.n, 2);
      for (const m of Object.values(summary.variants[0].components.enc)) {
        assert.ok(m.mean >= 0 && m.mean <= 1);
      }
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

      // The same config on other data is refused in one line, the run file left as it was.
      const file = join(out, runFileName("full", 0));
      const before = await Deno.readTextFile(file);
      assert.deepEqual(
        JSON.parse(before).sources,
        [...data.imageDirs, ...data.tablePaths].map((p) => resolve(p)),
      );
      await madErrorAsync(
        () =>
          runAblation({
            variants: selectVariants(["full"]),
            seeds: 1,
            base,
            data: { imageDirs: [], tablePaths: data.tablePaths },
            out,
            quiet: true,
          }),
        file,
        "holds a run on",
        "give another output folder",
      );
      assert.equal(await Deno.readTextFile(file), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("experiment runs on the data given, with the tiny or the default model", async () => {
  const data = { imageDirs: ["photos/bottle"], tablePaths: ["rows.npz"] };
  const tiny = await experiment({ full: false, workDir: "unused", data });
  assert.deepEqual([tiny.imageDirs, tiny.tablePaths], [data.imageDirs, data.tablePaths]);
  assert.deepEqual(tiny.config, tinyConfig());
  const full = await experiment({ full: true, dataDir: "missing", workDir: "unused", data });
  assert.equal(full.full, true);
  assert.deepEqual(full.config, DEFAULT_CONFIG);
  assert.deepEqual(full.tablePaths, data.tablePaths);
  // Without data, --full reads deno task data's folder and names it when it is empty.
  await assert.rejects(
    () => experiment({ full: true, dataDir: "missing", workDir: "unused" }),
    (e: Error) => e instanceof MadError && /missing: no datasets found/.test(e.message),
  );
});

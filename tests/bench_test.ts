// Smoke tests of the bench's pieces on a tiny model: they check what the bench computes and
// reports, never how fast anything is.
import assert from "node:assert/strict";
import { referenceBlas } from "../lib/bench/torch.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import {
  disposeFixture,
  imageTrainStep,
  median,
  stepFixture,
  tableTrainStep,
  timeSteps,
} from "../lib/bench/step_timing.ts";
import { torchArgs } from "../lib/bench/torch.ts";
import { peakRss, RssTracker } from "../lib/bench/memory.ts";
import { type BenchResult, checkTargets, stepRatio, summary } from "../lib/bench/result.ts";
import { SMALL_MODEL } from "./fixtures.ts";

const TINY = mergeConfig(DEFAULT_CONFIG, {
  model: SMALL_MODEL,
  train: { batchSize: 2, tableBatchSize: 8 },
}, "test config");

Deno.test("bench step: image and table steps train the model", async () => {
  await useBackend("wasm");
  const f = stepFixture(TINY, 4, 1);
  const before = f.params.get("head.recon.w")!.dataSync().slice();
  const first = imageTrainStep(f);
  assert.ok(Number.isFinite(first));
  assert.equal(f.adam.step, 1);
  const after = f.params.get("head.recon.w")!.dataSync();
  assert.ok(after.some((v, i) => v !== before[i]), "AdamW changed the parameters");
  const timing = await timeSteps(() => tableTrainStep(f), 2, 1);
  assert.equal(timing.ms.length, 2);
  assert.ok(Number.isFinite(timing.lastLoss));
  assert.equal(f.adam.step, 4);
  disposeFixture(f);
});

Deno.test("bench step: repeated image steps lower the loss on a fixed batch", async () => {
  await useBackend("wasm");
  const f = stepFixture(TINY, 4, 2);
  const losses = Array.from({ length: 12 }, () => imageTrainStep(f));
  assert.ok(median(losses.slice(-3)) < median(losses.slice(0, 3)), `losses ${losses}`);
  disposeFixture(f);
});

Deno.test("bench: median, torch flags, memory readings", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const args = torchArgs(
    { ...DEFAULT_CONFIG.model, batch: DEFAULT_CONFIG.train.batchSize },
    5,
    2,
  );
  assert.ok(args.includes("--stem=4,2") && args.includes("--stem-channels=48"));
  assert.ok(args.includes("--steps=5") && args.includes("--threads=2"));
  // The reference stem reads the contrast channels exactly when ours does.
  assert.equal(args.includes("--stem-contrast"), DEFAULT_CONFIG.model.stemContrast);
  assert.ok(
    torchArgs({ ...DEFAULT_CONFIG.model, stemContrast: true, batch: 2 }, 1, 1)
      .includes("--stem-contrast"),
  );
  const tracker = new RssTracker();
  tracker.sample();
  assert.ok(tracker.peak > 0);
  const hwm = peakRss();
  if (hwm !== null) assert.ok(hwm >= Deno.memoryUsage().rss * 0.5);
});

Deno.test("bench report: ratio, targets and summary", () => {
  assert.equal(stepRatio(300, { available: false, reason: "x" }), null);
  const torch = {
    available: true as const,
    python: "p",
    torch: "2",
    threads: 2,
    stepMs: 200,
    blas: ["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"],
  };
  assert.equal(stepRatio(300, torch), 1.5);
  const partial: Omit<BenchResult, "targets"> = {
    date: "2025-01-01T00:00:00Z",
    machine: {
      cpus: 2,
      loadAverage: [1, 1, 1],
      deno: "2.9.6",
      backend: "wasm",
      rowMinKernel: true,
      blas: "libopenblas.so.0",
    },
    model: { imageSize: 128, tokens: 64, width: 128, layers: 4, heads: 4 },
    step: {
      batch: 16,
      steps: 3,
      shards: 2,
      imageStepMs: 300,
      tableStepMs: 100,
      oneThreadImageStepMs: 550,
      oneThreadTableStepMs: 180,
      tableBatch: 128,
      tokensPerSecond: 3466,
      imagesPerSecond: 53,
      peakRssBytes: 1024 ** 3,
    },
    torch: { ...torch, ratio: 1.5 },
    scoring: {
      checkpoint: "c",
      images: 10,
      imageSeconds: 0.5,
      imagesPerSecond: 20,
      workers: 2,
      startupSeconds: 1.5,
      imagesPerSecondOneThread: 11,
      categories: [
        { name: "a", images: 5, imagesPerSecond: 25, imagesPerSecondOneThread: 12 },
        { name: "b", images: 5, imagesPerSecond: 16.7, imagesPerSecondOneThread: 10 },
      ],
      imagePixels: 256,
      rows: 100,
      rowSeconds: 1,
      rowsPerSecond: 100,
    },
    fullTrain: { seconds: null, peakRssBytes: 5 * 1024 ** 3, note: "--skip-train" },
  };
  const targets = checkTargets(partial);
  assert.equal(targets.step_vs_pytorch.met, true);
  assert.equal(targets.scoring_images_per_s.met, false);
  assert.equal(targets.training_rss.met, false, "the larger RSS counts");
  const text = summary({ ...partial, targets });
  assert.match(text, /BLAS libblas\.so\.3\) same step: 200 ms; ours \/ PyTorch = 1\.50/);
  assert.match(text, /slow reference BLAS/);
  assert.match(text, /\(2 shards; 550 ms in one thread\)/);
  assert.match(text, /backend wasm \(SIMD row-minimum kernel\)/);
  assert.equal(
    referenceBlas(["/x/openblas-pthread/libblas.so.3", "/x/libopenblasp-r0.3.so"]),
    false,
  );
  assert.match(text, /scoring_images_per_s: 20\.0 .* NOT met/);
  assert.match(text, /a 25\.0 \/ 12\.0, b 16\.7 \/ 10\.0 images\/s/);
  assert.match(text, /workers started in 1\.5 s, not counted/);
  // The note as bench --skip-train writes it, in one pair of brackets.
  assert.match(text, /default train: not measured \(--skip-train\)(\n|$)/);
  const missing = checkTargets({
    ...partial,
    torch: { available: false, reason: "no torch", ratio: null },
    scoring: null,
  });
  assert.equal(missing.step_vs_pytorch.met, null);
  assert.equal(missing.scoring_images_per_s.met, null);
});

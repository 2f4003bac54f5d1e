/**
 * What a resumed run may change (lib/train/resume.ts): evidence and scoring settings from an
 * explicit config take over, a setting the weights depend on is refused naming it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import { train } from "../lib/train/loop.ts";
import { resumeConfig } from "../lib/train/resume.ts";
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "../lib/train/checkpoint.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { MadError } from "../lib/errors.ts";
import type { ConfigOverrides } from "../lib/model/config.ts";

await useBackend("wasm");

Deno.test("resumeConfig: without an explicit config the checkpoint's config is kept", () => {
  const saved = tinyConfig({ train: { epochs: 3 } });
  const wanted = tinyConfig({ model: { width: 64, thresholdQuantile: 0.9 }, train: { lr: 1 } });
  const { config, note } = resumeConfig(saved, wanted, "ckpt", false, 5);
  assert.deepEqual(config, { ...saved, train: { ...saved.train, epochs: 5 } });
  assert.equal(note, null);
});

Deno.test("resumeConfig: evidence and scoring settings take the new values, with a note", () => {
  const saved = tinyConfig();
  const wanted = tinyConfig({ model: { thresholdQuantile: 0.9, knnK: 3 }, train: { lr: 1 } });
  const { config, note } = resumeConfig(saved, wanted, "ckpt", true, undefined);
  assert.deepEqual(config.model, { ...saved.model, thresholdQuantile: 0.9, knnK: 3 });
  // The training settings stay the checkpoint's, but for the epochs.
  assert.deepEqual(config.train, { ...saved.train, epochs: wanted.train.epochs });
  assert.ok(note && !note.includes("\n"));
  assert.match(note, /knnK 1 -> 3, thresholdQuantile 0\.99 -> 0\.9/);
  // Nothing changed: the checkpoint's own model config, no note.
  const same = resumeConfig(saved, saved, "ckpt", true, undefined);
  assert.equal(same.config.model, saved.model);
  assert.equal(same.note, null);
});

Deno.test("resumeConfig: an architecture or training difference is refused naming only it", () => {
  const saved = tinyConfig();
  for (
    const [model, key] of [
      [{ width: saved.model.width * 2, thresholdQuantile: 0.9 }, "width"],
      [{ maskRatio: 0.5, knnK: 3 }, "maskRatio"],
      [{ tableLogSkewed: !saved.model.tableLogSkewed }, "tableLogSkewed"],
    ] as const
  ) {
    assert.throws(
      () => resumeConfig(saved, tinyConfig({ model }), "ckpt", true, undefined),
      (e: unknown) => {
        assert.ok(e instanceof MadError);
        assert.equal(
          e.message,
          `ckpt: cannot resume with a different model config (differs in ${key})`,
        );
        return true;
      },
    );
  }
});

Deno.test("resume: a new scoring setting is used, the weights train on as before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-resume-scoring-" });
  try {
    const data = await writeTinyData(join(dir, "data"));
    const config = tinyConfig({ train: { epochs: 2 } });
    const straight = await train({ config, ...data, out: join(dir, "straight"), quiet: true });
    const out = join(dir, "resumed");
    const first = await train({ config, ...data, out, quiet: true, stopAfterEpochs: 1 });
    const wider = config.model.width * 2;
    /** Resumes the first run for 2 epochs under an explicit config with these model settings. */
    const resumeWith = (model: ConfigOverrides["model"], shouldStop?: () => boolean) =>
      train({
        config: tinyConfig({ model, train: { epochs: 2 } }),
        ...data,
        out,
        quiet: true,
        resume: first.last,
        explicitConfig: true,
        shouldStop,
      });

    // A setting the weights depend on: refused in one line naming it.
    await assert.rejects(
      () => resumeWith({ width: wider }),
      (e: unknown) => {
        assert.ok(e instanceof MadError);
        assert.equal(
          e.message,
          `${first.last}: cannot resume with a different model config (differs in width)`,
        );
        return true;
      },
    );

    // Stopped before its first validation, a resumed run's banks and statistics are still the
    // checkpoint's: its interrupted checkpoint keeps the settings they were fitted with.
    // (The first poll is before the epoch's first step; the second, after it.)
    let polls = 0;
    const stopped = await resumeWith({ thresholdQuantile: 0.9 }, () => ++polls > 1);
    assert.ok(stopped.stoppedEarly);
    const interrupted = await loadCheckpoint(join(out, "interrupted_checkpoint.safetensors"));
    try {
      assert.deepEqual(interrupted.config.model, config.model);
    } finally {
      disposeCheckpoint(interrupted);
    }

    // A scoring setting: taken over, said in the log, and the weights train on as they would have.
    const rest = await resumeWith({ thresholdQuantile: 0.9 });
    assert.equal(rest.epochs, 2);
    const a = straight.rows.at(-1)!;
    const b = rest.rows.at(-1)!;
    assert.ok(Math.abs(a.loss - b.loss) < 1e-6, `loss ${a.loss} vs ${b.loss}`);
    const ckpt = await loadCheckpoint(rest.last);
    try {
      assert.equal(ckpt.config.model.thresholdQuantile, 0.9);
      assert.deepEqual(ckpt.config.model, { ...config.model, thresholdQuantile: 0.9 });
    } finally {
      disposeCheckpoint(ckpt);
    }
    const log = await Deno.readTextFile(join(out, "train.log"));
    assert.match(
      log,
      /resuming with new evidence and scoring settings: thresholdQuantile 0\.99 -> 0\.9/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A tiny table in `dir` and a 2-epoch run on it in `dir/C` (no weight averaging). */
async function twoEpochRun(dir: string) {
  const table = join(dir, "t.csv");
  await writeSyntheticTableCsv(table, { seed: 1, n: 80, d: 3 });
  const config = tinyConfig({ train: { epochs: 2, averageWeights: 0 } });
  const base = { config, imageDirs: [], tablePaths: [], quiet: true };
  const first = await train({ ...base, tablePaths: [table], out: join(dir, "C") });
  return { first, base };
}

Deno.test("resume: --epochs not above the epochs done is refused naming the checkpoints; no folder made", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-resume-epochs-" });
  try {
    const { first, base } = await twoEpochRun(dir);
    const out = join(dir, "D");
    const resume = (epochs: number) => train({ ...base, out, resume: first.last, epochs });
    await assert.rejects(() => resume(1), (e: unknown) => {
      assert.ok(e instanceof MadError);
      assert.equal(
        e.message,
        `${first.last}: has 2 epochs done already; --epochs 1 is the epoch to reach and must be ` +
          `above 2 to train on (the checkpoints of those 2 are in ${join(dir, "C")})`,
      );
      return true;
    });
    // Equal, with the run calibrated: nothing to do, and its checkpoints are named.
    await assert.rejects(() => resume(2), (e: unknown) => {
      assert.ok(e instanceof MadError);
      assert.match(e.message, /: nothing to train: all 2 epochs are done and calibrated; /);
      assert.ok(e.message.includes(`(best: ${first.best})`), e.message);
      return true;
    });
    assert.equal(await Deno.stat(out).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resume into another folder: the run's best so far and its metrics history are there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-resume-copy-" });
  try {
    const { first, base } = await twoEpochRun(dir);
    // No later epoch can beat a validation AUROC above 1, so only the copy can put `best` in D.
    const ckpt = await loadCheckpoint(first.last);
    const bestEpoch = ckpt.progress.bestEpoch;
    ckpt.progress.bestMetric = 2;
    await saveCheckpoint(first.last, ckpt);
    disposeCheckpoint(ckpt);
    const out = join(dir, "D");
    const rest = await train({ ...base, out, resume: first.last, epochs: 3 });
    assert.equal(rest.epochs, 3);
    assert.equal(rest.best, join(out, "best_model_checkpoint.safetensors"));
    const best = await loadCheckpoint(rest.best);
    try {
      assert.equal(best.progress.epoch, bestEpoch);
    } finally {
      disposeCheckpoint(best);
    }
    assert.match(
      await Deno.readTextFile(join(out, "train.log")),
      new RegExp(`best checkpoint so far \\(epoch ${bestEpoch}\\) copied from ${first.best}`),
    );
    // D's metrics.jsonl holds C's epochs 1-2 as C wrote them, then D's own epoch 3.
    const lines = async (folder: string) =>
      (await Deno.readTextFile(join(folder, "metrics.jsonl"))).trim().split("\n");
    const before = await lines(join(dir, "C"));
    const after = await lines(out);
    assert.deepEqual(after.map((l) => JSON.parse(l).epoch), [1, 2, 3]);
    assert.deepEqual(after.slice(0, 2), before);
    assert.match(
      await Deno.readTextFile(join(out, "train.log")),
      new RegExp(`metrics of 2 earlier epochs copied from ${join(dir, "C", "metrics.jsonl")}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

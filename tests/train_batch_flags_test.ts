/**
 * `train --table-batch-size N` sets the rows of a table training batch (`--batch-size` counts
 * images only); a bad value is a one-line error, and a batch-size flag given for a modality the
 * run has none of gets one warning line naming the flag that applies.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBackend } from "../lib/backend/mod.ts";
import { tinyConfig } from "../lib/experiment/setup.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { batchSizeNotes } from "../lib/train/loop.ts";
import { errorLine, exists, inTempDir, runCli } from "./fixtures.ts";

await useBackend("wasm");

/** The first epoch's training loss in a run folder's metrics.jsonl. */
async function firstLoss(run: string): Promise<number> {
  const line = (await Deno.readTextFile(join(run, "metrics.jsonl"))).split("\n")[0];
  return (JSON.parse(line) as { loss: number }).loss;
}

async function tableBatchSize(run: string): Promise<number> {
  const ckpt = await loadCheckpoint(join(run, "last_checkpoint.safetensors"));
  try {
    return ckpt.config.train.tableBatchSize;
  } finally {
    disposeCheckpoint(ckpt);
  }
}

Deno.test("train: --table-batch-size sets a table run's batches; --batch-size there warns naming it", async () => {
  await inTempDir(async (dir) => {
    const table = join(dir, "t.csv");
    await writeSyntheticTableCsv(table, { seed: 1, n: 400, d: 6 });
    const config = join(dir, "config.json");
    // A whole config sets train.batchSize too: a config file's value passes without a warning.
    await Deno.writeTextFile(config, JSON.stringify(tinyConfig({ train: { epochs: 1 } })));
    const train = (out: string, ...flags: string[]) =>
      runCli(
        "train.ts",
        ["--table", table, "--config", config, "--out", out, "--quiet", ...flags],
        dir,
      );

    const flagged = await train(join(dir, "flagged"), "--batch-size", "4");
    assert.equal(flagged.code, 0, flagged.stderr);
    const warnings = flagged.stderr.split("\n").filter((l) => l.startsWith("warning: "));
    assert.deepEqual(warnings, [
      "warning: --batch-size 4 applies to images (images per training batch) and this run has " +
      "none: the rows of a table batch are set by --table-batch-size (train.tableBatchSize, now " +
      "128)",
    ]);
    assert.match(
      await Deno.readTextFile(join(dir, "flagged", "train.log")),
      /--batch-size 4 applies/,
    );
    assert.equal(await tableBatchSize(join(dir, "flagged")), 128);

    const rows = await train(join(dir, "rows"), "--table-batch-size", "8");
    assert.equal(rows.code, 0, rows.stderr);
    assert.ok(!rows.stderr.includes("warning: --"), rows.stderr);
    assert.equal(await tableBatchSize(join(dir, "rows")), 8);
    // Batches of 8 rows train otherwise than batches of 128.
    assert.notEqual(await firstLoss(join(dir, "rows")), await firstLoss(join(dir, "flagged")));

    for (const bad of ["0", "-3", "2.5", "abc", ""]) {
      const out = join(dir, `bad${bad}`);
      const r = await train(out, `--table-batch-size=${bad}`);
      assert.equal(r.code, 2, r.stderr);
      assert.match(errorLine(r.stderr), /^error: --table-batch-size must be a /);
      assert.ok(!(await exists(out)), "nothing written");
    }
  }, "madformer-table-batch-");
});

Deno.test("batchSizeNotes: only a flag given for a modality the run has none of", () => {
  const config = tinyConfig();
  const some = [{}];
  const flags = { batchSize: "--batch-size", tableBatchSize: "--table-batch-size" };
  assert.deepEqual(batchSizeNotes(flags, config, { images: some, tables: some }), []);
  assert.deepEqual(batchSizeNotes(undefined, config, { images: [], tables: some }), []);
  const fromFile = { batchSize: "c.json: train.batchSize", tableBatchSize: "c.json: train.x" };
  assert.deepEqual(batchSizeNotes(fromFile, config, { images: [], tables: [] }), []);
  const [tables] = batchSizeNotes(flags, config, { images: [], tables: some });
  assert.match(tables, /^--batch-size 16 applies to images .* --table-batch-size/);
  const [images, ...more] = batchSizeNotes(flags, config, { images: some, tables: [] });
  assert.match(images, /^--table-batch-size 128 applies to tables .* --batch-size/);
  assert.deepEqual(more, []);
});

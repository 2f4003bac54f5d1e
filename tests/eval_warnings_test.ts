import assert from "node:assert/strict";
import { join } from "node:path";
import { sourceDigest } from "../lib/data/source_digest.ts";
import {
  changedDataWarning,
  unmatchedMasks,
  untrainedCategoryNote,
} from "../lib/experiment/evaluate_checkpoint.ts";
import type { Checkpoint } from "../lib/train/checkpoint.ts";
import type { ImageSample } from "../lib/data/types.ts";
import type { DatasetRecord } from "../lib/train/datasets.ts";

Deno.test("changedDataWarning: only when a kept digest differs; a whole table's split named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_changed_" });
  try {
    const path = join(dir, "t.csv");
    await Deno.writeTextFile(path, "x,label\n1,0\n2,1\n");
    const record: DatasetRecord = {
      name: "t",
      modality: "table",
      source: path,
      split: { protocol: "half-normals", seed: 0, valShare: 0.1 },
      digest: sourceDigest(path)!,
    };
    assert.equal(changedDataWarning(record, path), null);
    assert.equal(changedDataWarning({ ...record, digest: undefined }, path), null);
    assert.equal(changedDataWarning(undefined, path), null);
    await Deno.writeTextFile(path, "x,label\n3,0\n2,1\n");
    const line = changedDataWarning(record, path)!;
    assert.match(
      line,
      /t\.csv: not what table t was trained on \(its contents differ\); the split/,
    );
    assert.ok(!line.includes("\n"));
    const given = changedDataWarning(
      { ...record, split: { ...record.split, protocol: "given" } },
      path,
    )!;
    assert.ok(!given.includes("split"), given);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unmatchedMasks: masks named otherwise than <image>_mask.png are named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_masks_" });
  try {
    const test: ImageSample[] = [
      { path: join(dir, "test", "good", "000.png"), category: "c", label: 0, defect: "good" },
      { path: join(dir, "test", "crack", "000.png"), category: "c", label: 1, defect: "crack" },
    ];
    assert.equal(unmatchedMasks(test), null); // no ground_truth/ at all
    await Deno.mkdir(join(dir, "ground_truth", "crack"), { recursive: true });
    assert.equal(unmatchedMasks(test), null); // an empty one
    await Deno.writeFile(join(dir, "ground_truth", "crack", "000.png"), new Uint8Array(4));
    const line = unmatchedMasks(test)!;
    assert.match(line, /holds masks \(e\.g\. crack\/000\.png\)/);
    assert.match(line, /ground_truth\/crack\/000_mask\.png for test\/crack\/000\.png/);
    assert.equal(unmatchedMasks(test.slice(0, 1)), null); // no defect images
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("untrainedCategoryNote: a category the checkpoint never saw is named, with what it knows", () => {
  const image = (name: string) => ({ name, modality: "image" });
  const prepared = {
    record: { name: "bottle_new", source: "/data/bottle_new" },
    train: new Array(8),
    val: new Array(2),
  } as unknown as Parameters<typeof untrainedCategoryNote>[1];
  const known = {
    datasets: [image("bottle"), { name: "t", modality: "table" }],
  } as unknown as Checkpoint;
  assert.equal(
    untrainedCategoryNote(known, prepared),
    "/data/bottle_new: image category bottle_new is not one the checkpoint was trained on " +
      "(bottle); its memory banks are fitted now on its 10 training images",
  );
  const tablesOnly = { datasets: [{ name: "t", modality: "table" }] } as unknown as Checkpoint;
  assert.match(
    untrainedCategoryNote(tablesOnly, prepared),
    /trained on no images, so its image layers are untrained/,
  );
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { describeData, prepareTrainingData } from "../lib/train/training_data.ts";
import { sourceDigest } from "../lib/data/source_digest.ts";
import { TINY } from "./fixtures.ts";
import { writeSyntheticImages } from "../lib/data/synthetic.ts";

Deno.test("training data: digests kept, and a table with no anomalies to test said so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_training_data_" });
  try {
    const rows = (label: (i: number) => number) =>
      Array.from({ length: 40 }, (_, i) => `${i % 7},${(i * 3) % 11},${label(i)}`).join("\n");
    const mixed = join(dir, "mixed.csv");
    const normal = join(dir, "normal.csv");
    await Deno.writeTextFile(mixed, `a,b,label\n${rows((i) => (i % 5 === 0 ? 1 : 0))}\n`);
    await Deno.writeTextFile(normal, `a,b,label\n${rows(() => 0)}\n`);
    const data = await prepareTrainingData(
      { imageDirs: [], tablePaths: [mixed, normal], cacheDir: join(dir, "cache"), quiet: true },
      mergeConfig(DEFAULT_CONFIG, TINY),
    );
    assert.deepEqual(data.records.map((r) => r.digest), [
      sourceDigest(mixed),
      sourceDigest(normal),
    ]);
    const line = describeData(data);
    assert.match(line, /mixed \d+\/\d+, /);
    assert.ok(!/mixed [^,]*no anomalies/.test(line), line);
    assert.match(line, /normal \d+\/\d+ \(no anomalies to test: eval gives no AUROC\)/);
    // An image category is said the same of.
    await writeSyntheticImages(join(dir, "images"), {
      seed: 1,
      size: 32,
      categories: ["weave"],
      nTrain: 8,
      nTestGood: 3,
      nTestBad: 0,
    });
    const images = await prepareTrainingData(
      {
        imageDirs: [join(dir, "images", "weave")],
        tablePaths: [],
        cacheDir: join(dir, "cache"),
        quiet: true,
      },
      mergeConfig(DEFAULT_CONFIG, TINY),
    );
    assert.match(
      describeData(images),
      /weave \d+\/\d+ \(no anomalies to test: eval gives no AUROC\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

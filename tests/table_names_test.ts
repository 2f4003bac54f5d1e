/**
 * Table names: a folder is named after itself, a file after its stem, both made safe as
 * parameter keys; checkpoints that stored a course folder as `thyroid-course` still evaluate.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MadError } from "../lib/errors.ts";
import { safeTableName, seedOfSplitFolder, tableNameOf } from "../lib/data/table_name.ts";
import { courseThyroid } from "../lib/data/split.ts";
import { readTableSource } from "../lib/train/datasets.ts";
import { train } from "../lib/train/loop.ts";
import { type Checkpoint, disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { evaluateCheckpoint, tableRecordFor } from "../lib/experiment/evaluate_checkpoint.ts";
import { decodeSafetensors, encodeSafetensors } from "../lib/train/safetensors.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { demoConfig } from "../lib/experiment/setup.ts";
import { makeSyntheticTable } from "../lib/data/synthetic.ts";

Deno.test("safeTableName keeps letters (of any script), digits, _ and -, and replaces the rest", () => {
  const cases: [string, string][] = [
    ["7_Cardiotocography", "7_Cardiotocography"],
    ["thyroid-course", "thyroid-course"],
    ["my data.v2", "my_data_v2"],
    ["a|b:c", "a_b_c"],
    ["  spaced  ", "spaced"],
    ["tab\u00e9le", "tab\u00e9le"],
    ["...", "table"],
    ["", "table"],
  ];
  for (const [raw, safe] of cases) assert.equal(safeTableName(raw), safe, raw);
});

Deno.test("tableNameOf: folders by their own name, files by their stem", () => {
  assert.equal(tableNameOf("/data/thyroid/course", true), "course");
  assert.equal(tableNameOf("/data/thyroid/course/", true), "course");
  assert.equal(tableNameOf("/x/My Split.v1", true), "My_Split_v1");
  assert.equal(tableNameOf("/x/12_fault.npz", false), "12_fault");
  assert.equal(tableNameOf("/x/thyroid.mat", false), "thyroid");
  assert.equal(tableNameOf("/x/ann-train.data", false), "thyroid");
  assert.equal(tableNameOf("/x/rows.2024.csv", false), "rows_2024");
  assert.equal(tableNameOf(".", true), safeTableName(Deno.cwd().split("/").pop()!));
});

Deno.test("tableNameOf: a seed's split folder (s0, seed2) is named after the folder it sits in", () => {
  assert.equal(tableNameOf("/splits/12_fault/s0", true), "12_fault");
  assert.equal(tableNameOf("/splits/12_fault/seed2/", true), "12_fault");
  assert.equal(tableNameOf("/splits/12_fault/S10", true), "12_fault");
  // Not a seed: the folder's own name, as before.
  assert.equal(tableNameOf("/splits/12_fault/s0a", true), "s0a");
  assert.equal(tableNameOf("/x/s0.csv", false), "s0");
  assert.equal(seedOfSplitFolder("s3"), 3);
  assert.equal(seedOfSplitFolder("seed12"), 12);
  assert.equal(seedOfSplitFolder("split"), null);
  assert.equal(seedOfSplitFolder("s"), null);
});

async function writeCourseFolder(dir: string, seed = 1): Promise<void> {
  const t = makeSyntheticTable({ seed, n: 160, d: 4 });
  const rows = (r: number) => t.columns.map((_, j) => t.values[r * t.d + j]).join(",");
  const normals = [...t.labels!.keys()].filter((r) => t.labels![r] === 0);
  const train = normals.slice(0, 60);
  const test = [...t.labels!.keys()].filter((r) => !train.includes(r));
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "train-set.csv"),
    [t.columns.join(","), ...train.map(rows)].join("\n") + "\n",
  );
  await Deno.writeTextFile(
    join(dir, "test-set.csv"),
    [[...t.columns, "label"].join(","), ...test.map((r) => `${rows(r)},${t.labels![r]}`)]
      .join("\n") + "\n",
  );
}

Deno.test("a table folder is named after the folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_names_" });
  try {
    const folder = join(dir, "7_Cardio split.v2");
    await writeCourseFolder(folder);
    const source = readTableSource(folder);
    assert.equal(source.table.name, "7_Cardio_split_v2");
    assert.equal(source.trainOnly!.name, "7_Cardio_split_v2");
    assert.equal(courseThyroid(folder).test.name, "7_Cardio_split_v2");
    assert.equal(courseThyroid(folder, "given").train.name, "given");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const TINY_TABLE_CONFIG = demoConfig({
  model: { imageSize: 32, stem: [2, 2, 2], stemChannels: [8, 16], width: 16, layers: 1, heads: 2 },
  train: { epochs: 1, batchSize: 4, tableStepsPerEpoch: 2 },
});

Deno.test("two tables of the same name are refused before training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_names_twice_" });
  try {
    await writeCourseFolder(join(dir, "a", "course"));
    await writeCourseFolder(join(dir, "b", "course"), 2);
    await assert.rejects(
      () =>
        train({
          config: TINY_TABLE_CONFIG,
          imageDirs: [],
          tablePaths: [join(dir, "a", "course"), join(dir, "b", "course")],
          out: join(dir, "run"),
          quiet: true,
        }),
      (e: unknown) => {
        assert.ok(e instanceof MadError, String(e));
        assert.ok(!e.message.includes("\n"));
        assert.match(e.message, /b\/course: table name 'course' is also that of .*a\/course/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Renames table `from` to `to` in checkpoint bytes, as an older version would have named it. */
function renameTable(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(bytes, "x");
  const rename = (s: string) =>
    s.replaceAll(`table.${from}.`, `table.${to}.`).replaceAll(`table:${from}`, `table:${to}`);
  const renamed = new Map([...tensors].map(([k, v]) => [rename(k), v]));
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    meta[k] = rename(v).replaceAll(`"name":"${from}"`, `"name":"${to}"`);
  }
  return encodeSafetensors(renamed, meta);
}

Deno.test("a checkpoint that named its table folder thyroid-course still loads and evaluates", async () => {
  await useBackend("auto");
  const dir = await Deno.makeTempDir({ prefix: "mad_names_legacy_" });
  try {
    const folder = join(dir, "course");
    await writeCourseFolder(folder);
    const run = await train({
      config: TINY_TABLE_CONFIG,
      imageDirs: [],
      tablePaths: [folder],
      out: join(dir, "run"),
      quiet: true,
    });
    const legacyPath = join(dir, "legacy.safetensors");
    const bytes = await Deno.readFile(run.best);
    assert.ok(new TextDecoder().decode(bytes.subarray(0, 20_000)).includes("table.course.value"));
    await Deno.writeFile(legacyPath, renameTable(bytes, "course", "thyroid-course"));

    const cache = new ImageCache();
    const current = await loadCheckpoint(run.best);
    const legacy = await loadCheckpoint(legacyPath);
    try {
      assert.deepEqual(legacy.tables.map((t) => t.name), ["thyroid-course"]);
      assert.ok(legacy.params.has("table.thyroid-course.value"));
      const [now] = await evaluateCheckpoint(current, { cache });
      const [old] = await evaluateCheckpoint(legacy, { cache });
      const [given] = await evaluateCheckpoint(legacy, { cache, tablePaths: [folder] });
      assert.equal(now.name, "course");
      assert.equal(old.name, "thyroid-course");
      assert.equal(given.name, "thyroid-course");
      assert.deepEqual([...old.scores], [...now.scores]);
      assert.deepEqual([...given.scores], [...now.scores]);
      assert.equal(old.metrics.auroc, now.metrics.auroc);
    } finally {
      disposeCheckpoint(current);
      disposeCheckpoint(legacy);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tableRecordFor finds thyroid-course for a folder among several tables", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_names_record_" });
  try {
    const folder = join(dir, "course");
    await writeCourseFolder(folder);
    const split = { protocol: "given" as const, seed: 0, valShare: 0.1 };
    const ckpt = {
      datasets: [
        { name: "thyroid", modality: "table", source: "/old/thyroid.mat", split },
        { name: "thyroid-course", modality: "table", source: "/old/place/course", split },
        { name: "rows.v1", modality: "table", source: "/old/rows.v1.csv", split },
      ],
    } as unknown as Checkpoint;
    assert.equal(tableRecordFor(ckpt, folder).name, "thyroid-course");
    assert.equal(tableRecordFor(ckpt, folder).source, folder);
    // A name stored before names were made safe is still found from its file.
    assert.equal(tableRecordFor(ckpt, join(dir, "rows.v1.csv")).name, "rows.v1");
    assert.throws(() => tableRecordFor(ckpt, join(dir, "other.csv")), /no table named 'other'/);
    // An image-only checkpoint says so, not "name the file after one of them".
    const images = {
      datasets: [{ name: "bottle", modality: "image", source: "/old/bottle", split }],
    } as unknown as Checkpoint;
    assert.throws(
      () => tableRecordFor(images, join(dir, "rows.csv")),
      /rows\.csv: the checkpoint was trained on no table; score image folders with --images/,
    );
    // A table chosen by name (score --category), whatever the file is called.
    const chosen = tableRecordFor(ckpt, join(dir, "other.csv"), "thyroid");
    assert.equal(chosen.name, "thyroid");
    assert.equal(chosen.source, join(dir, "other.csv"));
    assert.throws(
      () => tableRecordFor(ckpt, join(dir, "other.csv"), "nope"),
      /other\.csv: the checkpoint has no table 'nope' \(it knows: thyroid, thyroid-course, rows\.v1\)/,
    );

    // A seed's split folder: the table of its parent's name, or the folder's own name as
    // checkpoints trained before that rule stored it.
    const seedSplit = join(dir, "12_fault", "s0");
    await writeCourseFolder(seedSplit);
    const named = (name: string) =>
      ({
        datasets: [
          { name, modality: "table", source: "/old/12_fault/s0", split },
          { name: "thyroid", modality: "table", source: "/old/thyroid.mat", split },
        ],
      }) as unknown as Checkpoint;
    assert.equal(tableRecordFor(named("12_fault"), seedSplit).name, "12_fault");
    assert.equal(tableRecordFor(named("s0"), seedSplit).name, "s0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Hostile inputs (issue 7): what tests/data_*_test.ts do not already cover, in process, and the
 * command-line scripts run as subprocesses on hostile files. Every refusal must be one line
 * `error: ...` naming the file, a non-zero exit and no stack trace.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { readLabelledCsv } from "../lib/data/table.ts";
import { splitTable } from "../lib/data/split.ts";
import { prepareTable } from "../lib/train/datasets.ts";
import { disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { evaluateCheckpoint } from "../lib/experiment/evaluate_checkpoint.ts";
import { decodeImage, discoverImageCategories } from "../lib/data/images.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { DEFAULT_CONFIG, loadConfigFile, mergeConfig } from "../lib/model/config.ts";
import { demoConfig } from "../lib/experiment/setup.ts";
import { train } from "../lib/train/loop.ts";
import { writeSyntheticImages, writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { decodeSafetensors, encodeSafetensors } from "../lib/train/safetensors.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { bombPng, madError, madErrorAsync, runScript, trainTinyTable } from "./fixtures.ts";

async function rgbPng(path: string, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3) {
  const raw = new Uint8Array(width * height * channels);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 29) % 256;
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await sharp(raw, { raw: { width, height, channels } }).png().toFile(path);
}

// ---------------------------------------------------------------------------------------------
// In process: CSV details not covered by data_table_test.ts

Deno.test("csv: missing and extra fields, overflow, quoted commas, odd labels", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_csv_" });
  try {
    const cases: [string, string, string[]][] = [
      ["missing.csv", "a,b,label\n1,2,0\n3,0\n", ["missing.csv", "line 3", "2 fields"]],
      ["minusinf.csv", "a,b,label\n1,-inf,0\n", ["minusinf.csv", "infinite"]],
      ["Infinity.csv", "a,b,label\n1,Infinity,0\n", ["Infinity.csv", "infinite"]],
      ["overflow.csv", "a,b,label\n1,1e400,0\n", ["overflow.csv", `column "b"`, "infinite"]],
      ["quoted.csv", 'a,b,label\n1,"2,5",0\n', ["quoted.csv", `column "b"`, "not a number"]],
      ["yes.csv", "a,label\n1,yes\n", ["yes.csv", `"yes"`]],
      ["minus1.csv", "a,label\n1,-1\n", ["minus1.csv", `"-1"`]],
      ["half.csv", "a,label\n1,0.5\n", ["half.csv", `"0.5"`]],
      ["nolabel.csv", "a,b\n1,2\n", ["nolabel.csv", "no 'label' column"]],
      ["noname.csv", "a,,label\n1,2,0\n", ["noname.csv", "header column 2 has no name"]],
      ["hex.csv", "a,label\n0x10,0\n", ["hex.csv", "0x10"]],
      ["binary.csv", "\x00\x01\x02PNG\n\x00,\x00\n", ["binary.csv"]],
    ];
    for (const [name, text, parts] of cases) {
      const path = join(dir, name);
      await Deno.writeTextFile(path, text);
      const message = madError(() => readLabelledCsv(path), ...parts);
      assert.ok(message.startsWith(path), message);
    }
    // Accepted: BOM + semicolons + CRLF together, tabs, quoted numbers, trailing separators.
    const ok: [string, string][] = [
      ["mixed.csv", "\uFEFFa;b;label\r\n1.5;2;normal\r\n\r\n3;-4e2;anomaly\r\n"],
      ["tabs.tsv", "a\tb\tlabel\n1.5\t2\t0\n3\t-4e2\t1\n"],
      ["quoted_ok.csv", '"a","b","label"\n"1.5","2","0"\n3,-4e2,1\n'],
      ["trailing.csv", "a,b,label,\n1.5,2,0,\n3,-4e2,1,\n"],
    ];
    for (const [name, text] of ok) {
      const path = join(dir, name);
      await Deno.writeTextFile(path, text);
      const t = readLabelledCsv(path);
      assert.deepEqual(t.columns, ["a", "b"], name);
      assert.deepEqual(Array.from(t.values), [1.5, 2, 3, -400], name);
      assert.deepEqual(Array.from(t.labels!), [0, 1], name);
    }
    // A symlink loop instead of a file.
    await Deno.symlink(join(dir, "loop2.csv"), join(dir, "loop1.csv"));
    await Deno.symlink(join(dir, "loop1.csv"), join(dir, "loop2.csv"));
    madError(() => readLabelledCsv(join(dir, "loop1.csv")), "loop1.csv");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("split: a table without normals names its file", () => {
  const spec = { protocol: "half-normals" as const, seed: 0, valShare: 0.1 };
  madError(
    () => splitTable(new Uint8Array([1, 1, 1]), spec, "all_bad.csv"),
    "all_bad.csv",
    "no normal rows",
  );
});

Deno.test("tables: too few normals to train on are refused before training, naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_few_" });
  try {
    // Six normals: half of them train, and a tenth of three rounds to no validation row.
    const path = join(dir, "six_normals.csv");
    const rows = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${i},${i % 3},${i >= 6 ? 1 : 0}`);
    await Deno.writeTextFile(path, ["a,b,label", ...rows].join("\n"));
    madError(
      () => prepareTable(path, { protocol: "half-normals", seed: 0, valShare: 0.1 }),
      "six_normals.csv",
      "too few normal rows",
      "3 for training and 0 for validation",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tables: one feature trains, evaluates and is explained (without the check)", async () => {
  await useBackend("auto");
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_one_" });
  try {
    const path = join(dir, "one.csv");
    const lines = ["x,label"];
    for (let i = 0; i < 60; i++) lines.push(`${Math.sin(i * 1.7).toFixed(4)},0`);
    for (let i = 0; i < 6; i++) lines.push(`${(4 + i).toFixed(1)},1`);
    await Deno.writeTextFile(path, lines.join("\n"));
    const best = await trainTinyTable(path, join(dir, "run"));
    const ckpt = await loadCheckpoint(best);
    try {
      const [evaluation] = await evaluateCheckpoint(ckpt, {
        cache: new ImageCache(),
        explain: true,
      });
      assert.equal(evaluation.name, "one");
      assert.ok(evaluation.metrics.auroc! > 0.9, `AUROC ${evaluation.metrics.auroc}`);
      // The only feature explains every row; a check of which feature was altered means nothing.
      assert.ok(evaluation.features, "no explanation");
      assert.deepEqual(evaluation.features.columns, ["x"]);
      assert.equal(evaluation.features.check, null);
    } finally {
      disposeCheckpoint(ckpt);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// In process: images not covered by data_images_test.ts

Deno.test("images: gray+alpha, 1x1, elongated, JPEG, CMYK, misnamed and over-limit files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_img_" });
  try {
    await rgbPng(join(dir, "ga.png"), 5, 5, 2);
    await rgbPng(join(dir, "one.png"), 1, 1, 3);
    await rgbPng(join(dir, "long.png"), 1, 300, 3);
    const raw = new Uint8Array(16 * 16 * 3).fill(90);
    await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toFile(
      join(dir, "photo.jpg"),
    );
    await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).toColourspace("cmyk")
      .jpeg().toFile(join(dir, "cmyk.jpg"));
    // A JPEG with a .png name decodes by content.
    await Deno.copyFile(join(dir, "photo.jpg"), join(dir, "really_jpeg.png"));
    for (
      const name of ["ga.png", "one.png", "long.png", "photo.jpg", "cmyk.jpg", "really_jpeg.png"]
    ) {
      for (const channels of [1, 3] as const) {
        const img = await decodeImage(join(dir, name), { size: 8, channels });
        assert.equal(img.data.length, 8 * 8 * channels, name);
        assert.ok(img.data.every((v) => v >= 0 && v <= 1), name);
      }
    }
    const gray = await decodeImage(join(dir, "cmyk.jpg"), { size: 4, channels: 3 });
    // Colour management moves the grey a little; an unconverted CMYK would come out inverted.
    assert.ok(gray.data.every((v) => Math.abs(v - 90 / 255) < 0.1), "CMYK converted to sRGB");
    // Just above the pixel limit is refused, at the limit accepted.
    await rgbPng(join(dir, "big.png"), 64, 65, 1);
    await madErrorAsync(
      () => decodeImage(join(dir, "big.png"), { size: 8, channels: 3, maxPixels: 64 * 64 }),
      "big.png",
      "64x65",
      "decompression bomb",
    );
    await decodeImage(join(dir, "big.png"), { size: 8, channels: 3, maxPixels: 64 * 65 });
    await madErrorAsync(
      () => decodeImage(join(dir, "one.png"), { size: 0, channels: 3 }),
      "image size",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("images: symlink loops in dataset folders", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_loop_" });
  try {
    const good = join(dir, "cat", "train", "good");
    await rgbPng(join(good, "000.png"), 8, 8);
    await rgbPng(join(good, "001.png"), 8, 8);
    // Folder loops (to itself, to an ancestor) are not images and are not followed.
    await Deno.symlink(good, join(good, "self"));
    await Deno.symlink(dir, join(dir, "cat", "up"));
    const [cat] = await discoverImageCategories(dir);
    assert.equal(cat.train.length, 2);
    // A file link loop is refused, naming the link.
    await Deno.symlink(join(good, "b.png"), join(good, "a.png"));
    await Deno.symlink(join(good, "a.png"), join(good, "b.png"));
    await madErrorAsync(() => discoverImageCategories(dir), "a.png", "symbolic link loop");
    await madErrorAsync(
      () => new ImageCache().get(join(good, "b.png"), { size: 8, channels: 3 }),
      "b.png",
      "symbolic link loop",
    );
    await madErrorAsync(
      () => decodeImage(join(good, "a.png"), { size: 8, channels: 3 }),
      "a.png",
      "symbolic link loop",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// In process: --config files

Deno.test("config: unknown keys and wrong types are named", async () => {
  const cases: [unknown, string[]][] = [
    [{ model: { widht: 64 } }, ["unknown key 'model.widht'", "did you mean 'model.width'"]],
    [{ trian: {} }, ["unknown key 'trian'"]],
    [{ model: { constructor: 1 } }, ["unknown key 'model.constructor'"]],
    [JSON.parse('{"model": {"__proto__": {"width": 3}}}'), ["unknown key 'model.__proto__'"]],
    [{ train: { epochs: "3" } }, ["'train.epochs' must be a number", '"3"']],
    [{ model: { knnHead: "yes" } }, ["'model.knnHead' must be a boolean"]],
    [{ model: { stem: [2, "2", 2] } }, ["'model.stem' must be an array of numbers"]],
    [{ model: { width: [64] } }, ["'model.width' must be a number"]],
    [{ model: 3 }, ["'model' must be an object"]],
    [[1, 2], ["expected a JSON object"]],
    [{ model: { width: -64 } }, ["model.width must be a positive integer"]],
    [{ model: { layers: 1.5 } }, ["model.layers must be a positive integer"]],
    [{ model: { tableEncoderBlocks: -1 } }, ["model.tableEncoderBlocks must be a non-negative"]],
    [{ model: { imageEncoderBlocks: 1.5 } }, ["model.imageEncoderBlocks must be a non-negative"]],
    [{ model: { cellPositionWeight: -1 } }, ["model.cellPositionWeight must be a non-negative"]],
    [{ model: { poseJitter: [1, 0] } }, ["model.poseJitter must hold three numbers a pose"]],
    [{ model: { poseJitter: [0, 0, 90] } }, ["model.poseJitter", "within 45 degrees"]],
    [{ model: { poseJitter: [40, 0, 0] } }, ["model.poseJitter", "within 32 px"]],
    [{ model: { stem: [2, 0, 2] } }, ["model.stem"]],
    [{ train: { seed: 0.5 } }, ["train.seed must be an integer"]],
    [{ train: { anomalyShare: 2 } }, ["train.anomalyShare"]],
    [{ train: { clipNorm: -1 } }, ["train.clipNorm"]],
  ];
  for (const [overrides, parts] of cases) {
    madError(() => mergeConfig(DEFAULT_CONFIG, overrides, "my.json"), "my.json: ", ...parts);
  }
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_cfg_" });
  try {
    await madErrorAsync(() => loadConfigFile(join(dir, "none.json")), "none.json", "not found");
    await Deno.writeTextFile(join(dir, "bad.json"), '{"model": {"width": 64,}}');
    await madErrorAsync(() => loadConfigFile(join(dir, "bad.json")), "bad.json", "not valid JSON");
    await Deno.writeTextFile(join(dir, "bom.json"), '\uFEFF{"model": {"width": 64}}');
    assert.equal((await loadConfigFile(join(dir, "bom.json"))).model.width, 64);
    await Deno.writeTextFile(join(dir, "empty.json"), "");
    await madErrorAsync(() => loadConfigFile(join(dir, "empty.json")), "empty.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// End to end: the scripts on hostile files

/** Tiny model so the shared checkpoint trains in about a second. */
const TINY_MODEL = { imageSize: 32, width: 16, layers: 1, heads: 2, stemChannels: [8, 8] };

interface Fixture {
  dir: string;
  ckpt: string;
  files: Record<string, string>;
}

let fixture: Promise<Fixture> | undefined;

/** Trains one tiny run and writes the hostile files, once for all end-to-end tests. */
function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "mad_robust_e2e_" });
    await useBackend("auto");
    const images = join(dir, "images");
    await writeSyntheticImages(images, {
      seed: 1,
      size: 32,
      categories: ["weave"],
      nTrain: 6,
      nTestGood: 2,
      nTestBad: 2,
    });
    const table = join(dir, "table.csv");
    await writeSyntheticTableCsv(table, { seed: 1, n: 120, d: 4 });
    const config = demoConfig({
      model: TINY_MODEL,
      train: { epochs: 1, batchSize: 4, tableStepsPerEpoch: 2 },
    });
    const run = await train({
      config,
      imageDirs: [images],
      tablePaths: [table],
      out: join(dir, "run"),
      quiet: true,
    });
    const f: Record<string, string> = {};
    const put = async (name: string, content: string | Uint8Array) => {
      f[name] = join(dir, "hostile", name);
      await Deno.mkdir(join(f[name], ".."), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(f[name], content);
      else await Deno.writeFile(f[name], content);
    };
    await put("nan.csv", "f1,f2,f3,f4,label\n1,2,3,4,0\n1,NaN,3,4,0\n");
    const rows = (label: number) =>
      Array.from({ length: 30 }, (_, i) => `${i},${i % 7},${i % 3},${-i},${label}`).join("\n");
    await put("all_anomalies.csv", `f1,f2,f3,f4,label\n${rows(1)}\n`);
    await put("five_columns.csv", "f1,f2,f3,f4,f5\n1,2,3,4,5\n");
    const sample = await Deno.readFile(join(images, "weave", "train", "good", "000.png"));
    await put("zero/cat/train/good/000.png", new Uint8Array());
    await put("zero/cat/train/good/001.png", sample);
    await put("zero/cat/train/good/002.png", sample);
    await put("bomb/cat/train/good/000.png", sample);
    await put("bomb/cat/train/good/001.png", sample);
    await put("bomb/cat/train/good/huge.png", bombPng(100_000, 100_000));
    // A broken test image: named before training, not first at eval.
    await put("testbad/cat/train/good/000.png", sample);
    await put("testbad/cat/train/good/001.png", sample);
    await put("testbad/cat/train/good/002.png", sample);
    await put("testbad/cat/test/good/000.png", sample);
    await put("testbad/cat/test/crack/000.png", sample.slice(0, 200));
    await put("loop/cat/train/good/000.png", sample);
    await put("loop/cat/train/good/001.png", sample);
    f["loop/a.png"] = join(dir, "hostile", "loop/cat/train/good/a.png");
    await Deno.symlink(join(dir, "hostile", "loop/cat/train/good/b.png"), f["loop/a.png"]);
    await Deno.symlink(f["loop/a.png"], join(dir, "hostile", "loop/cat/train/good/b.png"));
    await put("unknown_key.json", '{"model": {"widht": 16}}');
    await put("wrong_type.json", '{"train": {"epochs": "3"}}');
    await put("other_width.json", JSON.stringify({ model: { ...config.model, width: 24 } }));

    const bytes = await Deno.readFile(run.best);
    await put("truncated.safetensors", bytes.slice(0, Math.floor(bytes.length * 0.6)));
    const flipped = bytes.slice();
    flipped[8] ^= 0x01; // the header's opening brace
    await put("flipped.safetensors", flipped);
    const weight = { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
    await put(
      "foreign.safetensors",
      encodeSafetensors(new Map([["weight", weight]]), { format: "pt" }),
    );
    const { tensors, metadata } = decodeSafetensors(bytes, run.best);
    const other = { ...config, model: { ...config.model, width: 24 } };
    await put(
      "other_config.safetensors",
      encodeSafetensors(tensors, { ...metadata, config: JSON.stringify(other) }),
    );
    return { dir, ckpt: run.best, files: f };
  })();
  return fixture;
}

interface CliCase {
  script: "train.ts" | "eval.ts" | "score.ts";
  args: (f: Fixture) => string[];
  /** Substrings the error line must contain (file names first). */
  expect: (f: Fixture) => string[];
}

/** Informational lines a script may print before failing. */
// Progress, and eval's one-line warnings that a table is not the data it was trained on.
// The hostile image folders hold 32 px images and train the default 128 px model: each says so.
const INFO_LINES =
  /^(training on \S+; writing |scoring |warning: \S+: not what table \S+ was trained on |\S+: the typical row lies far|warning: \S+: \d+ of (the )?\d+ images (checked \(of \d+\) )?are smaller than the model's)/;

async function runCli(f: Fixture, c: CliCase): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await runScript(c.script, c.args(f), {
    cwd: f.dir, // scripts cache decoded images under ./data; keep that in the temp dir
    stdin: "null",
    stdout: "null",
    env: { NO_COLOR: "1", MADFORMER_DEBUG: "" },
  });
  return { code, stderr };
}

function checkCliError(label: string, r: { code: number; stderr: string }, parts: string[]) {
  const lines = r.stderr.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
  assert.notEqual(r.code, 0, `${label}: exit code 0\n${r.stderr}`);
  assert.ok(
    !lines.some((l) => /^\s+at\s/.test(l) || /Stack backtrace|Uncaught|panicked/.test(l)),
    `${label}: stack trace on stderr\n${r.stderr}`,
  );
  const errors = lines.filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, `${label}: expected one error line\n${r.stderr}`);
  assert.equal(lines.at(-1), errors[0], `${label}: the error line must come last\n${r.stderr}`);
  for (const l of lines.slice(0, -1)) {
    assert.match(l, INFO_LINES, `${label}: unexpected stderr line: ${l}`);
  }
  for (const p of parts) assert.ok(errors[0].includes(p), `${label}: "${errors[0]}" lacks "${p}"`);
}

/** train.ts on the hostile image folder `folder`, refused naming `file` with `message`. */
function trainImagesCase(folder: string, out: string, file: string, message: string): CliCase {
  return {
    script: "train.ts",
    args: (f) => ["--images", join(f.dir, "hostile", folder), "--out", join(f.dir, out), "--quiet"],
    expect: (f) => [f.files[file], message],
  };
}

/** eval.ts on the hostile checkpoint `file`, refused naming it with `message`. */
function evalCheckpointCase(file: string, message: string): CliCase {
  return {
    script: "eval.ts",
    args: (f) => ["--checkpoint", f.files[file]],
    expect: (f) => [f.files[file], message],
  };
}

const CLI_CASES: Record<string, CliCase> = {
  "train: CSV with NaN": {
    script: "train.ts",
    args: (f) => ["--table", f.files["nan.csv"], "--out", join(f.dir, "o1"), "--quiet"],
    expect: (f) => [f.files["nan.csv"], "NaN"],
  },
  "train: zero-byte PNG in train/good": trainImagesCase(
    "zero",
    "o2",
    "zero/cat/train/good/000.png",
    "empty file",
  ),
  "train: symlink loop in train/good": trainImagesCase(
    "loop",
    "o3",
    "loop/a.png",
    "symbolic link loop",
  ),
  "train: decompression bomb in train/good": trainImagesCase(
    "bomb",
    "o4",
    "bomb/cat/train/good/huge.png",
    "decompression bomb",
  ),
  "train: truncated PNG in test/": trainImagesCase(
    "testbad",
    "o7",
    "testbad/cat/test/crack/000.png",
    "not a readable image",
  ),
  "train: a table with no normals": {
    script: "train.ts",
    args: (f) => ["--table", f.files["all_anomalies.csv"], "--out", join(f.dir, "o5"), "--quiet"],
    expect: (f) => [f.files["all_anomalies.csv"], "no normal rows"],
  },
  "train: --config with an unknown key": {
    script: "train.ts",
    args: (f) => ["--config", f.files["unknown_key.json"], "--table", f.files["nan.csv"]],
    expect: (f) => [f.files["unknown_key.json"], "model.widht", "did you mean 'model.width'"],
  },
  "train: --config with a wrong type": {
    script: "train.ts",
    args: (f) => ["--config", f.files["wrong_type.json"], "--table", f.files["nan.csv"]],
    expect: (f) => [f.files["wrong_type.json"], "train.epochs", "must be a number"],
  },
  "train: --resume with another model config": {
    script: "train.ts",
    args: (f) => [
      "--resume",
      f.ckpt,
      "--config",
      f.files["other_width.json"],
      "--out",
      join(f.dir, "o6"),
      "--quiet",
    ],
    expect: (f) => [f.ckpt, "different model config", "width"],
  },
  "eval: truncated checkpoint": evalCheckpointCase("truncated.safetensors", "truncated"),
  "eval: checkpoint with a flipped header byte": evalCheckpointCase(
    "flipped.safetensors",
    "not a valid checkpoint",
  ),
  "eval: foreign safetensors": evalCheckpointCase(
    "foreign.safetensors",
    "not a MADformer checkpoint",
  ),
  "eval: checkpoint of another config": evalCheckpointCase(
    "other_config.safetensors",
    "another model config",
  ),
  "score: zero-byte PNG": {
    script: "score.ts",
    args: (f) => ["--checkpoint", f.ckpt, "--images", join(f.dir, "hostile", "zero")],
    expect: (f) => [f.files["zero/cat/train/good/000.png"], "empty file"],
  },
  "score: CSV with an extra column": {
    script: "score.ts",
    args: (f) => ["--checkpoint", f.ckpt, "--table", f.files["five_columns.csv"]],
    expect: (f) => [f.files["five_columns.csv"], "5 feature columns"],
  },
};

Deno.test({
  name: `cli: ${Object.keys(CLI_CASES).length} hostile inputs end-to-end give one error line`,
  // The tiny training run leaves tfjs state and worker timers behind.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const f = await getFixture();
    const entries = Object.entries(CLI_CASES);
    const results = new Map<string, { code: number; stderr: string }>();
    // Two at a time: each run is mostly Deno and tfjs start-up.
    let next = 0;
    const worker = async () => {
      while (next < entries.length) {
        const [label, c] = entries[next++];
        results.set(label, await runCli(f, c));
      }
    };
    await Promise.all([worker(), worker()]);
    const failures: string[] = [];
    for (const [label, c] of entries) {
      try {
        checkCliError(label, results.get(label)!, c.expect(f));
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    console.log(
      `cli hostile inputs: tried ${entries.length}, handled ${entries.length - failures.length}`,
    );
    await Deno.remove(f.dir, { recursive: true });
    assert.deepEqual(failures, []);
  },
});

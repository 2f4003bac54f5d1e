/**
 * Odd image inputs and command-line paths (robustness sweep s55, P11-P18, P21, P22): heat-map
 * names unique per run, defect images without masks left out of the pixel metrics, masks of
 * another aspect refused, TIFF/WebP read and other files reported, loose images in an MVTec
 * `test/` named, run folders protected and checked before any work, the resume hint naming a
 * checkpoint that exists, no empty run folders after a failure, negative numbers as values.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { mapFileName } from "../lib/experiment/score_files.ts";
import { pixelMetrics } from "../lib/experiment/evaluate_checkpoint.ts";
import { evaluationJson } from "../lib/experiment/results.ts";
import {
  decodeMask,
  discoverImageCategories,
  IMAGE_EXTENSIONS,
  isImageFile,
  listImagesToScore,
} from "../lib/data/images.ts";
import type { ImageSample } from "../lib/data/types.ts";
import {
  checkOutputFile,
  checkOutputFolder,
  samePath,
  writeFileAtomic,
} from "../lib/util/files.ts";
import { defineCommand, parseFlags } from "../lib/util/flags.ts";
import { train, type TrainOptions } from "../lib/train/loop.ts";
import type { ConfigOverrides } from "../lib/model/config.ts";
import { disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { tinyConfig } from "../lib/experiment/setup.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { errorLine, exists, inTempDir, madError, madErrorAsync, runCli } from "./fixtures.ts";

await useBackend("wasm");

/** A grey `width`x`height` image (`value` everywhere), in the format of `path`'s extension. */
async function writeImage(path: string, width: number, height: number, value = 128) {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  const raw = new Uint8Array(width * height).fill(value);
  await sharp(raw, { raw: { width, height, channels: 1 } }).toFile(path);
}

/** An MVTec category `root` with 2 training images and a test/good and test/crack image. */
async function mvtecCategory(root: string) {
  for (const name of ["000.png", "001.png"]) {
    await writeImage(join(root, "train/good", name), 16, 16);
  }
  await writeImage(join(root, "test/good/000.png"), 16, 16);
  await writeImage(join(root, "test/crack/000.png"), 16, 16);
}

// ---------------------------------------------------------------------------------------------
// P11: heat-map names

Deno.test("mapFileName: unique within a run, today's names without a collision", () => {
  assert.equal(mapFileName("img/loose/photo 1.png"), "img_loose_photo_1.png");
  const taken = new Set<string>();
  const names = [
    "img/loose/photo 1.png",
    "img/loose/photo_1.png",
    "img/loose/photo_1.jpg",
    "img/loose/Photo_1.png",
    "img/loose/other.png",
  ].map((id) => mapFileName(id, taken));
  assert.deepEqual(names, [
    "img_loose_photo_1.png",
    "img_loose_photo_1-2.png",
    "img_loose_photo_1-3.png",
    "img_loose_Photo_1-4.png", // case-insensitive file systems would merge it too
    "img_loose_other.png",
  ]);
  assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length);
});

// ---------------------------------------------------------------------------------------------
// P14 and P22: which files are images; loose images in an MVTec test/

Deno.test("image folders: TIFF and WebP read, other files reported once", async () => {
  await inTempDir(async (dir) => {
    const root = join(dir, "widget");
    await mvtecCategory(root);
    for (const name of ["100.jpeg", "101.tif", "102.TIFF", "103.webp"]) {
      await writeImage(join(root, "train/good", name), 16, 16);
    }
    await writeImage(join(root, "test/crack/200.tif"), 16, 16);
    await Deno.writeFile(join(root, "train/good/104.bmp"), new Uint8Array([66, 77, 0, 0]));
    await Deno.writeTextFile(join(root, "train/good/notes.txt"), "hi");
    await Deno.writeTextFile(join(root, "train/good/.DS_Store"), "x");
    const warnings: string[] = [];
    const [c] = await discoverImageCategories(root, { warn: (l) => warnings.push(l) });
    assert.equal(c.train.length, 6);
    assert.ok(c.test.some((s) => s.path.endsWith("200.tif") && s.label === 1));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^warning: skipped 2 files/);
    for (const part of [".bmp 1", ".txt 1", "104.bmp", "notes.txt"]) {
      assert.ok(warnings[0].includes(part), `${warnings[0]} lacks ${part}`);
    }
    assert.ok(!warnings[0].includes(".DS_Store"));
    // Every accepted extension decodes with sharp.
    for (const ext of IMAGE_EXTENSIONS) assert.ok(isImageFile(`x${ext.toUpperCase()}`));
    for (const s of [...c.train, ...c.test]) await sharp(s.path).metadata();
    // Scoring a folder says the same.
    const scoreWarnings: string[] = [];
    const listed = await listImagesToScore(root, { warn: (l) => scoreWarnings.push(l) });
    assert.equal(listed.length, 9);
    assert.equal(scoreWarnings.length, 1);
    assert.match(scoreWarnings[0], /skipped 2 files/);
  });
});

Deno.test("image folders: macOS '._' files ignored, subfolders named, Good and GOOD understood", async () => {
  await inTempDir(async (dir) => {
    const root = join(dir, "widget");
    await mvtecCategory(root);
    // What a Mac leaves beside each image on a foreign disk: metadata, no PNG.
    await Deno.writeTextFile(join(root, "train/good/._000.png"), "AppleDouble");
    await writeImage(join(root, "train/good/more/002.png"), 16, 16);
    await writeImage(join(root, "test/Good/001.png"), 16, 16);
    const warnings: string[] = [];
    const [c] = await discoverImageCategories(root, { warn: (l) => warnings.push(l) });
    assert.equal(c.train.length, 2);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^warning: skipped 1 file .*\(folder 1\): .*more\//);
    const good = c.test.filter((s) => s.label === 0);
    assert.deepEqual(good.map((s) => s.defect), ["good", "good"]);
    // A train/Good folder is named in the refusal.
    await Deno.rename(join(root, "train/good"), join(root, "train/Good"));
    await madErrorAsync(
      () => discoverImageCategories(root),
      "no train/good folder",
      "rename train/Good to train/good",
    );
  });
});

Deno.test("image folders: nothing to warn about stays silent", async () => {
  await inTempDir(async (dir) => {
    await mvtecCategory(join(dir, "widget"));
    await Deno.writeTextFile(join(dir, "widget/train/good/.DS_Store"), "x");
    const warnings: string[] = [];
    await discoverImageCategories(join(dir, "widget"), { warn: (l) => warnings.push(l) });
    assert.deepEqual(warnings, []);
  });
});

Deno.test("a loose image in an MVTec test/ is named with the layout expected", async () => {
  await inTempDir(async (dir) => {
    const root = join(dir, "widget");
    await mvtecCategory(root);
    await writeImage(join(root, "test/stray.png"), 16, 16);
    await madErrorAsync(
      () => discoverImageCategories(root),
      join(root, "test"),
      "stray.png",
      "crack/",
      "good/",
      "test/<defect>/",
      "image_anomaly_labels.json",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// P12 and P13: masks

Deno.test("masks of another aspect are refused; another resolution is resized", async () => {
  await inTempDir(async (dir) => {
    const image = join(dir, "000.png");
    await writeImage(image, 64, 64);
    const wide = join(dir, "wide_mask.png");
    await writeImage(wide, 64, 48, 255);
    await madErrorAsync(
      () => decodeMask(wide, 16, { imagePath: image }),
      wide,
      "64x48",
      image,
      "64x64",
      "aspect",
    );
    const half = join(dir, "half_mask.png");
    await writeImage(half, 32, 32, 255);
    const mask = await decodeMask(half, 16, { imagePath: image });
    assert.ok(mask.every((v) => v === 1));
    // Without the image path the mask is decoded as before.
    assert.equal((await decodeMask(wide, 16)).length, 256);
  });
});

Deno.test("pixel metrics leave out defect images without a mask and count them", async () => {
  await inTempDir(async (dir) => {
    const size = 16;
    const path = (name: string) => join(dir, name);
    for (const name of ["good.png", "bad.png", "nomask.png"]) await writeImage(path(name), 16, 16);
    // The left half of bad.png is the defect.
    const maskRaw = new Uint8Array(16 * 16);
    for (let i = 0; i < maskRaw.length; i++) maskRaw[i] = i % 16 < 8 ? 255 : 0;
    await sharp(maskRaw, { raw: { width: 16, height: 16, channels: 1 } }).toFile(path("m.png"));
    const good: ImageSample = { path: path("good.png"), category: "w", label: 0, defect: "good" };
    const bad: ImageSample = {
      path: path("bad.png"),
      category: "w",
      label: 1,
      defect: "crack",
      maskPath: path("m.png"),
    };
    const noMask: ImageSample = {
      path: path("nomask.png"),
      category: "w",
      label: 1,
      defect: "crack",
    };
    const grid = 2;
    const maps = [
      Float32Array.from([0.1, 0.2, 0.1, 0.2]), // good
      Float32Array.from([0.9, 0.1, 0.8, 0.2]), // bad: high on the left
      Float32Array.from([0.1, 0.9, 0.1, 0.9]), // its defect (unknown) on the right
    ];
    const all = await pixelMetrics([good, bad, noMask], maps, grid, size);
    const masked = await pixelMetrics([good, bad], maps.slice(0, 2), grid, size);
    assert.ok("auroc" in all && "auroc" in masked);
    assert.equal(all.unmasked, 1);
    assert.equal(masked.unmasked, undefined);
    assert.equal(all.auroc, masked.auroc);
    assert.equal(all.pro, masked.pro);
    // The JSON says how many were left out.
    const json = evaluationJson([{
      name: "w",
      modality: "image",
      metrics: {} as never,
      components: [],
      pixel: all,
      scores: new Float32Array(),
      labels: new Uint8Array(),
    }]);
    assert.equal(json.datasets[0].pixel_unmasked, 1);
  });
});

Deno.test("pixel metrics of masks that are all empty are skipped, saying so, not thrown", async () => {
  await inTempDir(async (dir) => {
    const path = (name: string) => join(dir, name);
    for (const name of ["good.png", "bad.png"]) await writeImage(path(name), 16, 16);
    const empty = new Uint8Array(16 * 16);
    await sharp(empty, { raw: { width: 16, height: 16, channels: 1 } }).toFile(path("m.png"));
    const samples: ImageSample[] = [
      { path: path("good.png"), category: "w", label: 0, defect: "good" },
      { path: path("bad.png"), category: "w", label: 1, defect: "crack", maskPath: path("m.png") },
    ];
    const maps = [new Float32Array(4).fill(0.1), Float32Array.from([0.9, 0.1, 0.8, 0.2])];
    const pixel = await pixelMetrics(samples, maps, 2, 16);
    assert.deepEqual(pixel, {
      skipped: "masks are all empty (no anomalous pixel) in its one mask file",
    });
  });
});

// ---------------------------------------------------------------------------------------------
// P16: output paths

Deno.test("writeFileAtomic: a folder as the target is named and leaves no temp file", async () => {
  await inTempDir(async (dir) => {
    const target = join(dir, "out.json");
    await Deno.mkdir(target);
    await madErrorAsync(() => writeFileAtomic(target, "{}"), target, "is a folder");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left, ["out.json"]);
    await writeFileAtomic(join(dir, "ok.json"), "{}");
    assert.equal(await Deno.readTextFile(join(dir, "ok.json")), "{}");
  });
});

Deno.test("checkOutputFile / checkOutputFolder: folders, files and missing parents", async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, "f.json");
    await Deno.writeTextFile(file, "{}");
    madError(() => checkOutputFile(dir, "--json"), dir, "is a folder", "--json");
    madError(() => checkOutputFile(join(file, "x.json"), "--json"), file, "is a file");
    madError(() => checkOutputFolder(file, "--maps"), file, "is a file", "--maps");
    madError(() => checkOutputFolder(join(file, "maps"), "--maps"), file, "not a folder");
    checkOutputFile(file, "--json"); // an existing file is replaced
    checkOutputFile(join(dir, "new/deeper/x.json"), "--json");
    checkOutputFolder(join(dir, "new/maps"), "--maps");
    checkOutputFolder(dir, "--maps");
  });
});

// ---------------------------------------------------------------------------------------------
// P21: negative numbers

Deno.test("parseFlags: a negative number is a value, not an option", () => {
  const command = defineCommand({
    name: "t",
    summary: "s",
    flags: {
      epochs: { type: "string", description: "n" },
      lr: { type: "string", short: "l", description: "x" },
      quiet: { type: "boolean", description: "q" },
    },
    examples: ["t"],
  });
  const values = parseFlags(["--epochs", "-1", "-l", "-.5", "--quiet"], command);
  assert.equal(values.epochs, "-1");
  assert.equal(values.lr, "-.5");
  assert.equal(values.quiet, true);
  // A flag name after a string flag is still a missing value.
  madError(() => parseFlags(["--epochs", "--quiet"], command), "--epochs needs a value");
});

// ---------------------------------------------------------------------------------------------
// P15, P16, P18, P21 on the command line (each refused before any work)

Deno.test("train/eval/score: bad output paths and flags refused before any work", async () => {
  await inTempDir(async (dir) => {
    const table = join(dir, "t.csv");
    await writeSyntheticTableCsv(table, { seed: 1, n: 60, d: 3 });
    const file = join(dir, "a_file");
    await Deno.writeTextFile(file, "x");
    const earlier = join(dir, "earlier");
    await Deno.mkdir(earlier);
    await Deno.writeTextFile(join(earlier, "best_model_checkpoint.safetensors"), "old model");
    await Deno.writeTextFile(join(earlier, "last_checkpoint.safetensors"), "old model");
    const cases: [string, string[], number, string[]][] = [
      [
        "train.ts",
        ["--table", table, "--epochs", "-1", "--out", join(dir, "o")],
        2,
        ["--epochs must be a positive integer, got -1"],
      ],
      ["train.ts", ["--table", table, "--out", file], 1, [file, "is a file; --out needs a folder"]],
      [
        "train.ts",
        ["--table", table, "--out", earlier, "--quiet"],
        1,
        [earlier, "holds an earlier run", "last_checkpoint.safetensors", "--overwrite"],
      ],
      [
        "train.ts",
        ["--table", join(dir, "nope.csv"), "--out", join(dir, "new", "deeper"), "--quiet"],
        1,
        ["nope.csv", "not found"],
      ],
      [
        "eval.ts",
        ["--checkpoint", join(dir, "none.safetensors"), "--json", dir],
        1,
        [dir, "is a folder; --json needs a file name"],
      ],
      [
        "score.ts",
        ["--checkpoint", join(dir, "none.safetensors"), "--table", table, "--json", dir],
        1,
        [dir, "is a folder; --json needs a file name"],
      ],
      [
        "score.ts",
        ["--checkpoint", join(dir, "none.safetensors"), "--images", dir, "--maps", file],
        1,
        [file, "is a file; --maps needs a folder"],
      ],
    ];
    for (const [script, args, code, parts] of cases) {
      const r = await runCli(script, args, dir);
      assert.equal(r.code, code, `${script} ${args.join(" ")}\n${r.stderr}`);
      const line = errorLine(r.stderr);
      for (const p of parts) assert.ok(line.includes(p), `"${line}" lacks "${p}"`);
    }
    // Nothing was written: the earlier run is intact, no folder for the failed run.
    assert.equal(
      await Deno.readTextFile(join(earlier, "last_checkpoint.safetensors")),
      "old model",
    );
    assert.ok(!(await exists(join(earlier, "train.log"))));
    assert.ok(!(await exists(join(dir, "new"))));
    assert.ok(!(await exists(join(dir, "o"))));
    assert.ok(!(await exists(join(dir, "data"))), "no image cache written");
  });
});

Deno.test("train --overwrite moves an earlier run aside and starts fresh logs", async () => {
  await inTempDir(async (dir) => {
    const table = join(dir, "t.csv");
    await writeSyntheticTableCsv(table, { seed: 1, n: 80, d: 3 });
    const config = join(dir, "config.json");
    await Deno.writeTextFile(config, JSON.stringify(tinyConfig({ train: { epochs: 1 } })));
    const out = join(dir, "run");
    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "best_model_checkpoint.safetensors"), "old model");
    await Deno.writeTextFile(join(out, "train.log"), "OLD RUN\n");
    await Deno.writeTextFile(join(out, "metrics.jsonl"), '{"epoch": 9}\n');
    await Deno.writeTextFile(join(out, "notes.txt"), "mine");
    const r = await runCli(
      "train.ts",
      ["--table", table, "--config", config, "--out", out, "--overwrite", "--quiet"],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(await Deno.readTextFile(join(out, "train.log"))).includes("OLD RUN"));
    const rows = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n");
    assert.equal(rows.length, 1);
    assert.equal(JSON.parse(rows[0]).epoch, 1);
    assert.notEqual(
      await Deno.readTextFile(join(out, "best_model_checkpoint.safetensors")).catch(
        () => "binary",
      ),
      "old model",
    );
    assert.equal(await Deno.readTextFile(join(out, "notes.txt")), "mine");
    // The earlier run is moved aside, not deleted.
    assert.equal(await Deno.readTextFile(join(out, "previous", "train.log")), "OLD RUN\n");
    assert.equal(
      await Deno.readTextFile(join(out, "previous", "best_model_checkpoint.safetensors")),
      "old model",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// P17 and P18 in the library

/**
 * A tiny table in `dir` and a one-epoch training on it into `dir/run`: `run` trains with options
 * added, `resume` continues a checkpoint in the same folder.
 */
async function tableTraining(dir: string, model: ConfigOverrides["model"] = {}) {
  const table = join(dir, "t.csv");
  await writeSyntheticTableCsv(table, { seed: 1, n: 80, d: 3 });
  const config = tinyConfig({ train: { epochs: 1 }, model });
  const out = join(dir, "run");
  const base = { config, imageDirs: [], out, quiet: true };
  return {
    out,
    run: (extra: Partial<TrainOptions> = {}) => train({ ...base, tablePaths: [table], ...extra }),
    resume: (from: string) => train({ ...base, tablePaths: [], resume: from }),
  };
}

Deno.test("stopped in its first epoch, a run names the interrupted checkpoint to resume", async () => {
  await inTempDir(async (dir) => {
    const { out, run, resume } = await tableTraining(dir);
    let polls = 0;
    // The first poll is before the first step.
    const stopped = await run({ shouldStop: () => ++polls > 1 });
    assert.ok(stopped.stoppedEarly);
    assert.equal(stopped.resumeFrom, join(out, "interrupted_checkpoint.safetensors"));
    assert.ok(await exists(stopped.resumeFrom!));
    assert.ok(!(await exists(stopped.last)));
    const log = await Deno.readTextFile(join(out, "train.log"));
    assert.match(log, /resume with --resume \S*interrupted_checkpoint\.safetensors/);
    const resumed = await resume(stopped.resumeFrom!);
    assert.ok(!resumed.stoppedEarly);
    assert.equal(resumed.epochs, 1);
    assert.equal(resumed.resumeFrom, resumed.last);
  });
});

Deno.test("stopped while calibrating, a run keeps its epochs and a resume calibrates", async () => {
  await inTempDir(async (dir) => {
    const { out, run, resume } = await tableTraining(dir, { calibrateOnAllNormals: true });
    let trained = false;
    const stopped = await run({
      onEpoch: () => (trained = true),
      shouldStop: () => trained, // asked for once the last epoch is done
    });
    assert.ok(stopped.stoppedEarly);
    assert.equal(stopped.stoppedIn, "calibration");
    assert.equal(stopped.epochs, 1);
    assert.equal(stopped.resumeFrom, stopped.last);
    const calibrated = async () => {
      const ckpt = await loadCheckpoint(stopped.best);
      try {
        return Object.values(ckpt.stats).every((s) => (s.calibrated ?? 0) > 0);
      } finally {
        disposeCheckpoint(ckpt);
      }
    };
    assert.equal(await calibrated(), false);
    const resumed = await resume(stopped.resumeFrom!);
    assert.ok(!resumed.stoppedEarly);
    assert.equal(await calibrated(), true);
    assert.match(
      await Deno.readTextFile(join(out, "train.log")),
      /1 of 1 epochs done; calibrating/,
    );
  });
});

Deno.test("a run stopped before its first step has nothing to resume", async () => {
  await inTempDir(async (dir) => {
    const { out, run } = await tableTraining(dir);
    const stopped = await run({ shouldStop: () => true });
    assert.ok(stopped.stoppedEarly);
    assert.equal(stopped.epochs, 0);
    assert.equal(stopped.resumeFrom, null);
    // Nothing to resume, so the folder is taken again; its log says where the new run begins.
    await run();
    const log = await Deno.readTextFile(join(out, "train.log"));
    assert.equal(log.split("a new run starts here").length - 1, 1);
  });
});

Deno.test("a loss that breaks in the first epoch says no checkpoint was written yet", async () => {
  await inTempDir(async (dir) => {
    const { out, run } = await tableTraining(dir);
    const message = await madErrorAsync(
      () => run({ config: tinyConfig({ train: { epochs: 3, lr: 1e6 } }) }),
      "loss became NaN at epoch 1",
    );
    assert.match(message, /No checkpoint was written yet .*lower --lr \(this run's is 1000000\)/);
    assert.ok(!message.includes("last_checkpoint"), message);
    assert.ok(!(await exists(join(out, "last_checkpoint.safetensors"))));
  });
});

Deno.test("shards beyond the CPU cores are capped at the cores, with a warning", async () => {
  await inTempDir(async (dir) => {
    const { out, run } = await tableTraining(dir);
    const cores = navigator.hardwareConcurrency || 1;
    const config = tinyConfig({ train: { epochs: 1, shards: cores + 3 } });
    await run({ config, trainSettingsGiven: { shards: "--shards" } });
    const log = await Deno.readTextFile(join(out, "train.log"));
    assert.match(
      log,
      new RegExp(
        `warning: --shards ${cores + 3} is more than the ${cores} CPU cores: ` +
          `training in ${cores} shards`,
      ),
    );
    const used = [...log.matchAll(/training steps in (\d+) shards/g)].map((m) => Number(m[1]));
    assert.deepEqual(used, cores > 1 ? [cores] : []);
  });
});

Deno.test("a run that fails before writing anything leaves no folders behind", async () => {
  await inTempDir(async (dir) => {
    const failTraining = (out: string) =>
      madErrorAsync(
        () =>
          train({
            config: tinyConfig(),
            imageDirs: [],
            tablePaths: [join(dir, "missing.csv")],
            out,
            quiet: true,
          }),
        "missing.csv",
      );
    await failTraining(join(dir, "a", "b"));
    assert.ok(!(await exists(join(dir, "a"))));
    // An existing folder stays, even empty.
    const kept = join(dir, "kept");
    await Deno.mkdir(kept);
    await failTraining(kept);
    assert.ok(await exists(kept));
  });
});

Deno.test("samePath: the same file or folder through a link or another spelling, made or not", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "run"));
    await Deno.symlink(join(dir, "run"), join(dir, "link"));
    assert.ok(samePath(join(dir, "run"), join(dir, "link")));
    assert.ok(samePath(join(dir, "run"), join(dir, "run", "..", "run")));
    // Not created yet: its folder's real path and its name.
    assert.ok(
      samePath(join(dir, "run", "best.safetensors"), join(dir, "link", "best.safetensors")),
    );
    assert.ok(!samePath(join(dir, "run", "a"), join(dir, "run", "b")));
    assert.ok(!samePath(join(dir, "run"), join(dir, "other")));
  });
});

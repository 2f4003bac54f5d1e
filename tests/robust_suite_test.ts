/**
 * Robustness of the suite-level tasks (benchmark, ablate, data, the image cache): a broken image
 * category is skipped like a broken table, a replaced input is run again while an unchanged one is
 * reused, one benchmark or ablation per output folder, `data --from` copies every MVTec category
 * and refuses a folder with no data, an unwritable image cache warns once, and the scripts refuse
 * bad output paths and an empty `--variants` in one line without leaving a folder behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBackend } from "../lib/backend/mod.ts";
import { tinyConfig, writeTinyData } from "../lib/experiment/setup.ts";
import { discoverBenchmark, runBenchmark } from "../lib/benchmark/mod.ts";
import { inputIdentity } from "../lib/benchmark/runner.ts";
import { runAblation, selectVariants } from "../lib/experiment/ablation.ts";
import { copyFromLocal } from "../lib/data/download.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { MadError } from "../lib/errors.ts";
import { errorLine, exists, inTempDir, runScript } from "./fixtures.ts";
import { writeSyntheticImages, writeSyntheticTableCsv } from "../lib/data/synthetic.ts";

await useBackend("wasm");

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, rel), text);
  }
}

Deno.test("discoverBenchmark: an image category without train/good is skipped with its reason", async () => {
  await inTempDir(async (dir) => {
    await writeFiles(join(dir, "images"), {
      "good/train/good/000.png": "png",
      "good/test/good/000.png": "png",
      "good/test/crack/000.png": "png",
      "broken/test/good/000.png": "png",
    });
    const found = await discoverBenchmark({ imagesDir: join(dir, "images") });
    assert.deepEqual(found.datasets.map((d) => d.name), ["good"]);
    assert.equal(found.skipped.length, 1);
    assert.equal(found.skipped[0].source, join(dir, "images", "broken"));
    // The folder is the entry's source; the reason does not name it again.
    assert.match(found.skipped[0].reason, /^no train[/\\]good folder/);
    assert.ok(!found.skipped[0].reason.includes("\n"));
    // Only broken categories: the one-line "no usable datasets" error names the reason.
    await Deno.remove(join(dir, "images", "good"), { recursive: true });
    await assert.rejects(
      discoverBenchmark({ imagesDir: join(dir, "images") }),
      (e: unknown) =>
        e instanceof MadError &&
        /no usable datasets in .*images \(image categories: .*left out: .*broken: no train/.test(
          e.message,
        ),
    );
    // An empty folder of tables: the error says where it looked and for what.
    await Deno.mkdir(join(dir, "tables"));
    await assert.rejects(
      discoverBenchmark({ tablesDir: join(dir, "tables") }),
      (e: unknown) =>
        e instanceof MadError && /no usable datasets in .*tables \(tables: \.csv, /.test(e.message),
    );
  });
});

Deno.test("inputIdentity: changes with a replaced file or an added image, not otherwise", async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, "t.csv");
    await Deno.writeTextFile(file, "a,label\n1,0\n");
    const before = await inputIdentity(file);
    assert.equal(await inputIdentity(file), before);
    await Deno.writeTextFile(file, "a,b,label\n1,2,0\n");
    assert.notEqual(await inputIdentity(file), before);

    await writeFiles(dir, { "cat/train/good/0.png": "p" });
    const folder = await inputIdentity(join(dir, "cat"));
    assert.equal(await inputIdentity(join(dir, "cat")), folder);
    await writeFiles(dir, { "cat/train/good/1.png": "p" });
    assert.notEqual(await inputIdentity(join(dir, "cat")), folder);
    assert.equal(await inputIdentity(join(dir, "absent")), "missing");
  });
});

Deno.test({
  name: "runBenchmark: reuses runs of an unchanged table, reruns a table replaced in place",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const data = await writeTinyData(join(dir, "data"));
      const tables = join(dir, "tables");
      await Deno.mkdir(tables);
      const table = join(tables, "table.csv");
      await Deno.copyFile(data.tablePaths[0], table);
      const out = join(dir, "out");
      const run = async () => {
        const lines: string[] = [];
        await runBenchmark({
          data: await discoverBenchmark({ tablesDir: tables }),
          config: tinyConfig({ train: { epochs: 1 } }),
          seeds: 1,
          out,
          joint: "none",
          settings: { quick: true },
          quiet: true,
          log: (line) => lines.push(line),
        });
        return lines;
      };
      const first = await run();
      assert.equal(first.length, 2);
      assert.ok(first.every((l) => !l.includes("reused")), first.join("\n"));
      const again = await run();
      assert.ok(again.every((l) => l.includes("reused")), again.join("\n"));
      // Same name, other rows: the old results must not be reported as this file's.
      const rows = (await Deno.readTextFile(table)).trimEnd().split("\n");
      await Deno.writeTextFile(table, rows.slice(0, rows.length - 5).join("\n") + "\n");
      const changed = await run();
      assert.ok(changed.every((l) => !l.includes("reused")), changed.join("\n"));
      // The lock is released at the end.
      assert.equal(await exists(join(out, ".lock")), false);
    });
  },
});

Deno.test("runBenchmark and runAblation: refuse an output folder another process holds", async () => {
  await inTempDir(async (dir) => {
    // pid 1 is always alive: the folder counts as in use.
    const held = join(dir, "held");
    await Deno.mkdir(held);
    await Deno.writeTextFile(join(held, ".lock"), "1");
    const data = await writeTinyData(join(dir, "data"));
    await assert.rejects(
      runBenchmark({
        data: await discoverBenchmark({ imagesDir: data.imageDirs[0] }),
        config: tinyConfig({ train: { epochs: 1 } }),
        seeds: 1,
        out: held,
        joint: "none",
        settings: { quick: true },
        quiet: true,
        log: () => {},
      }),
      (e: unknown) =>
        e instanceof MadError && e.message === `${held}: in use by another benchmark (pid 1)`,
    );
    await assert.rejects(
      runAblation({
        variants: selectVariants(["full"]),
        seeds: 1,
        base: tinyConfig({ train: { epochs: 1 } }),
        data,
        out: held,
        quiet: true,
      }),
      (e: unknown) =>
        e instanceof MadError && e.message === `${held}: in use by another ablation (pid 1)`,
    );
    // Nothing ran: only the other process's lock is there.
    assert.deepEqual([...Deno.readDirSync(held)].map((e) => e.name), [".lock"]);
  });
});

Deno.test("copyFromLocal: every images/mvtec category; other files named once; junk refused", async () => {
  await inTempDir(async (dir) => {
    const from = join(dir, "from");
    await writeFiles(from, {
      "images/mvtec/widget/train/good/000.png": "png",
      "images/mvtec/widget/test/good/000.png": "png",
      "notes.txt": "hello",
      "misc/a.csv": "a\n1\n",
    });
    const warnings: string[] = [];
    const copied = await copyFromLocal(from, join(dir, "data"), {
      warn: (line) => warnings.push(line),
    });
    assert.deepEqual(copied.sort(), [
      "images/mvtec/widget/test/good/000.png",
      "images/mvtec/widget/train/good/000.png",
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /not copied from .*: 2 files: misc\/a\.csv, notes\.txt$/);

    // Only a readme under a known path, or only unknown files: one line, nothing copied.
    const partial = join(dir, "partial");
    await writeFiles(partial, { "thyroid/odds/readme.txt": "x" });
    const unrelated = join(dir, "unrelated");
    await writeFiles(unrelated, { "sub/a.csv": "a\n1\n" });
    for (const [src, what] of [[partial, /readme\.txt/], [unrelated, /sub\/a\.csv/]] as const) {
      const dest = join(dir, "dest");
      await assert.rejects(copyFromLocal(src, dest), (e: unknown) => {
        assert.ok(e instanceof MadError);
        assert.match(e.message, /no known data found/);
        assert.match(e.message, what);
        assert.ok(!e.message.includes("\n"));
        return true;
      });
      assert.equal(await exists(dest), false);
    }
  });
});

Deno.test("ImageCache: an unwritable cache folder is one warning naming it, not one per image", async () => {
  await inTempDir(async (dir) => {
    const data = await writeTinyData(join(dir, "data"), 16);
    const images: string[] = [];
    for await (const e of Deno.readDir(join(data.imageDirs[0], "dots", "train", "good"))) {
      images.push(join(data.imageDirs[0], "dots", "train", "good", e.name));
    }
    assert.ok(images.length >= 3);
    const cacheFile = join(dir, "afile");
    await Deno.writeTextFile(cacheFile, "not a folder");
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    try {
      for (const cache of [new ImageCache(cacheFile), new ImageCache(cacheFile)]) {
        for (const path of images) await cache.get(path, { size: 16, channels: 3 });
      }
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.ok(warnings[0].includes(cacheFile));
    assert.match(warnings[0], /is a file/);
  });
});

Deno.test({
  name: "scripts: bad --out/--dest, empty --variants, a missing --images: one line, no folder",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, "afile");
      await Deno.writeTextFile(file, "x");
      const cases: [string, string[], RegExp][] = [
        ["data.ts", ["--from", dir, "--dest", file], /afile: is a file; --dest needs a folder/],
        ["benchmark.ts", ["--images", dir, "--out", file], /afile: is a file; --out needs/],
        ["ablate.ts", ["--out", file, "--variants", "full"], /afile: is a file; --out needs/],
        ["ablate.ts", ["--variants", "", "--out", join(dir, "ab1")], /--variants is empty/],
        [
          "ablate.ts",
          ["--images", join(dir, "nope"), "--variants", "full", "--out", join(dir, "ab2")],
          /nope: folder not found/,
        ],
      ];
      // A category whose test part holds only good images: every variant would read "-".
      const goodOnly = join(dir, "good_only");
      await writeSyntheticImages(goodOnly, {
        seed: 2,
        size: 32,
        categories: ["weave"],
        nTrain: 6,
        nTestGood: 2,
        nTestBad: 0,
      });
      cases.push([
        "ablate.ts",
        ["--images", join(goodOnly, "weave"), "--out", join(dir, "ab3")],
        /weave: needs both normal and anomalous test images \(test\/ holds only good ones, 2\); the variants are compared by its AUROC/,
      ]);
      // A table without anomalies: the same, read from the check before it.
      const normalOnly = join(dir, "normal_only.csv");
      await Deno.writeTextFile(
        normalOnly,
        "a,b,label\n" + Array.from({ length: 40 }, (_, i) => `${i % 7},${i % 5},0`).join("\n"),
      );
      cases.push([
        "ablate.ts",
        ["--table", normalOnly, "--out", join(dir, "ab4")],
        /normal_only\.csv: the test part has only normal samples; the variants are compared by its AUROC/,
      ]);
      for (const [script, args, message] of cases) {
        const { code, stderr } = await runScript(script, args);
        assert.notEqual(code, 0, `${script} ${args.join(" ")}`);
        assert.match(errorLine(stderr), message);
      }
      assert.equal(await exists(join(dir, "ab1")), false);
      assert.equal(await exists(join(dir, "ab2")), false);
      assert.equal(await exists(join(dir, "ab3")), false);
      assert.equal(await exists(join(dir, "ab4")), false);
      assert.equal(await Deno.readTextFile(file), "x");
    });
  },
});

Deno.test({
  name: "benchmark --joint both on one dataset trains its model once and says why",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      await Deno.mkdir(join(dir, "tables"));
      await writeSyntheticTableCsv(join(dir, "tables", "one.csv"), { seed: 4, n: 200, d: 3 });
      const out = join(dir, "out");
      const { code, stderr } = await runScript("benchmark.ts", [
        "--tables",
        join(dir, "tables"),
        "--seeds",
        "1",
        "--quick",
        "--out",
        out,
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stderr, /one dataset: no joint model beside its own/);
      const runs = [...Deno.readDirSync(join(out, "runs"))].map((e) => e.name).sort();
      assert.deepEqual(runs, ["baselines_table-one_seed0.json", "model_table-one_seed0.json"]);
    });
  },
});

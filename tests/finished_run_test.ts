import assert from "node:assert/strict";
import { join } from "node:path";
import { train } from "../lib/train/loop.ts";
import { RunLog } from "../lib/train/log.ts";
import { isCalibrated, unfinishedRun } from "../lib/train/run_state.ts";
import { RUN_FILES } from "../lib/train/run_files.ts";
import { assertFinishedRun, checkpointOrTrain, clearRunFolder } from "../lib/experiment/setup.ts";
import { isDirectory, isFile } from "../lib/util/files.ts";
import type { Experiment } from "../lib/experiment/setup.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { folderHolder } from "../lib/util/run_lock.ts";
import { inTempDir, madErrorAsync, tinyTableConfig, tinyTableSetup } from "./fixtures.ts";

const runOf = (setup: Experiment, out: string, extra: Record<string, unknown> = {}) =>
  train({
    config: setup.config,
    imageDirs: [],
    tablePaths: setup.tablePaths,
    out,
    quiet: true,
    ...extra,
  });

Deno.test("a finished run passes; one stopped after an epoch or in calibration is refused in one line", async () => {
  await inTempDir(async (dir) => {
    const setup = await tinyTableSetup(dir, 2);
    const calibrating: string[] = [];
    const done = join(dir, "done");
    await runOf(setup, done, { onCalibrate: (l: string) => calibrating.push(l) });
    assert.equal(await unfinishedRun(done), null);
    await assertFinishedRun(done);
    // The calibration after the last epoch says what it refits, so a quiet run does not look hung.
    assert.deepEqual(calibrating, ["calibrating table:t on all normals (1 of 1)"]);
    const best = join(done, RUN_FILES.best);
    assert.equal(await checkpointOrTrain(best, setup, join(dir, "never")), best);

    const stopped = join(dir, "stopped");
    await runOf(setup, stopped, { stopAfterEpochs: 1 });
    assert.equal(await unfinishedRun(stopped), "it stopped after epoch 1 of 2");
    const trained: string[] = [];
    await madErrorAsync(
      () =>
        checkpointOrTrain(
          join(stopped, RUN_FILES.best),
          setup,
          join(dir, "own"),
          (l) => trained.push(l),
        ),
      "stopped: this run did not finish (it stopped after epoch 1 of 2)",
      "run 02's train cell again",
    );
    assert.deepEqual(trained, [], "refused, not trained in its place");

    // A stop asked for in the last epoch's validation leaves the best checkpoint uncalibrated.
    const uncalibrated = join(dir, "uncalibrated");
    let stop = false;
    await runOf(setup, uncalibrated, {
      onEpoch: (r: { epoch: number }) => stop = r.epoch === 2,
      shouldStop: () => stop,
    });
    assert.equal(await isCalibrated(join(uncalibrated, RUN_FILES.best)), false);
    assert.match((await unfinishedRun(uncalibrated))!, /stopped while calibrating/);
    await madErrorAsync(() => assertFinishedRun(uncalibrated), "did not finish");
  });
});

Deno.test("a run folder locked by another live process is refused as still training", async () => {
  await inTempDir(async (dir) => {
    // The parent process (deno test's runner) is alive and is not this one.
    await Deno.writeTextFile(join(dir, ".lock"), String(Deno.ppid));
    assert.equal(folderHolder(dir), Deno.ppid);
    await madErrorAsync(() => assertFinishedRun(dir), "still training", `pid ${Deno.ppid}`);
    // A stale lock (no such process) and this process's own are not holders.
    await Deno.writeTextFile(join(dir, ".lock"), "999999999");
    assert.equal(folderHolder(dir), null);
    await Deno.writeTextFile(join(dir, ".lock"), String(Deno.pid));
    assert.equal(folderHolder(dir), null);
  });
});

Deno.test("02's train cell: a wrong config edit stops in one line before the previous run is removed", async () => {
  await inTempDir(async (dir) => {
    const setup = await tinyTableSetup(dir, 1);
    const run = join(dir, "run");
    await Deno.mkdir(run);
    const previous = join(run, RUN_FILES.best);
    await Deno.writeTextFile(previous, "the last good run");
    const edited = (edit: (c: Experiment["config"]) => void) => {
      const config = structuredClone(setup.config);
      edit(config);
      return config;
    };
    const wide = edited((c) => {
      c.model.width = 30;
      c.model.heads = 4;
    });
    await madErrorAsync(() => clearRunFolder(run, wide), "config: model.width 30 is not divisible");
    const none = edited((c) => c.train.epochs = 0);
    await madErrorAsync(() => clearRunFolder(run, none), "train.epochs must be a positive integer");
    assert.equal(await Deno.readTextFile(previous), "the last good run");
    // Every caller of train() gets the same line, before it creates its folder.
    const fresh = join(dir, "fresh");
    await madErrorAsync(
      () => train({ config: wide, imageDirs: [], tablePaths: setup.tablePaths, out: fresh }),
      "config: model.width 30 is not divisible",
    );
    assert.equal(isDirectory(fresh), false);
    // A folder another live process trains in is left alone.
    await Deno.writeTextFile(join(run, ".lock"), String(Deno.ppid));
    await madErrorAsync(() => clearRunFolder(run, setup.config), "in use by another training run");
    assert.equal(await Deno.readTextFile(previous), "the last good run");
    await Deno.remove(join(run, ".lock"));
    await clearRunFolder(run, setup.config);
    assert.equal(isDirectory(run), false);
  });
});

Deno.test("train's onLog hears the run's lines but the epochs', which onEpoch has", async () => {
  await inTempDir(async (dir) => {
    const setup = await tinyTableSetup(dir, 2);
    const lines: string[] = [];
    const epochs: number[] = [];
    await runOf(setup, join(dir, "run"), {
      quiet: false,
      onLog: (l: string) => lines.push(l),
      onEpoch: (r: { epoch: number }) => epochs.push(r.epoch),
    });
    assert.deepEqual(epochs, [1, 2]);
    assert.ok(lines.some((l) => l.startsWith("calibrated ")), lines.join("\n"));
    assert.ok(lines.length >= 2, lines.join("\n"));
    assert.ok(!lines.some((l) => /^epoch \d/.test(l)), "each epoch said once, by onEpoch");
    // train.log still holds every line, the epochs' too.
    const log = await Deno.readTextFile(join(dir, "run", RUN_FILES.log));
    assert.match(log, / epoch 2: loss /);
    for (const l of lines) assert.ok(log.includes(l), l);
  });
});

Deno.test("a finished run with a table too small for calibration's folds reads as finished", async () => {
  await inTempDir(async (dir) => {
    // 18 rows: 8 train and validation normals, fewer than the 2 x 5 calibration folds need.
    const table = join(dir, "small.csv");
    await writeSyntheticTableCsv(table, { seed: 2, n: 18, d: 3 });
    const config = tinyTableConfig(1, 1);
    const out = join(dir, "run");
    await train({ config, imageDirs: [], tablePaths: [table], out, quiet: true });
    assert.ok(await isCalibrated(join(out, RUN_FILES.best)), "seen by calibration");
    assert.equal(await unfinishedRun(out), null);
    const log = await Deno.readTextFile(join(out, RUN_FILES.log));
    assert.match(log, /too few for 5 folds; validation's statistics stay/);
  });
});

Deno.test("a stop asked for while the data is read leaves the folder to clear untouched", async () => {
  await inTempDir(async (dir) => {
    const setup = await tinyTableSetup(dir, 1);
    let cleared = false;
    const out = join(dir, "run");
    const result = await runOf(setup, out, {
      shouldStop: () => true,
      clearFolder: () => {
        cleared = true;
        return Promise.resolve();
      },
    });
    assert.equal(cleared, false, "the earlier run is not moved");
    assert.ok(result.stoppedEarly);
    assert.equal(result.resumeFrom, null);
    assert.equal(result.epochs, 0);
    assert.ok(!isFile(join(out, RUN_FILES.log)), "nothing written");
  });
});

Deno.test("a run's warnings go to onWarning when given (a notebook's stderr), and to train.log", async () => {
  await inTempDir(async (dir) => {
    const heard: string[] = [];
    const log = new RunLog(dir, true, undefined, (line) => heard.push(line));
    log.warn("data.csv: 3 of 10 normal rows are duplicates");
    assert.deepEqual(heard, ["warning: data.csv: 3 of 10 normal rows are duplicates"]);
    assert.match(
      await Deno.readTextFile(join(dir, RUN_FILES.log)),
      /warning: data\.csv: 3 of 10 normal rows are duplicates/,
    );
  });
});

/**
 * No lost work on the command line (QA pass s74): heat maps of deeply nested images get names
 * that fit and the scores are written before them; a stop during table scoring takes effect
 * between batches; `eval` checks every dataset before scoring the first; `train --overwrite`
 * checks the data before moving the earlier run aside; a run folder taken over loses the temporary
 * files of a process killed outright.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mapFileName, MAX_MAP_NAME_BYTES } from "../lib/experiment/score_files.ts";
import { tinyTrainRun } from "./fixtures.ts";
import { errorLine, exists, runCli, scriptArgs } from "./fixtures.ts";

/** A tiny run on synthetic images and a table, trained once for the tests below. */
const setup = (async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_lost_work_" });
  const run = await tinyTrainRun(dir, 1);
  const r = await runCli("train.ts", [...run.args, "--quiet"], dir);
  assert.equal(r.code, 0, r.stderr);
  return {
    dir,
    ...run,
    ckpt: join(run.out, "best_model_checkpoint.safetensors"),
    config: join(dir, "config.json"),
  };
})();

/** Copies the CSV `from` to `to` with the first field of line `line` (0 = header) made "NA". */
async function withNA(from: string, to: string, line: number): Promise<void> {
  const lines = (await Deno.readTextFile(from)).split("\n");
  lines[line] = lines[line].replace(/^[^,]+/, "NA");
  await Deno.writeTextFile(to, lines.join("\n"));
}

/** The first image file under `dir` (recursively). */
function firstImage(dir: string): string {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isFile && e.name.endsWith(".png")) return p;
    if (e.isDirectory) {
      const found = firstImage(p);
      if (found) return found;
    }
  }
  return "";
}

Deno.test("mapFileName: a deep path gets a bounded, unique name ending with the file's own", () => {
  const deep = "/data/" + "acquisition_session_2024_06_17/".repeat(12);
  const a = mapFileName(`${deep}frame_000_exposure_12ms.png`);
  const b = mapFileName(`${deep.replace("/data/", "/datb/")}frame_000_exposure_12ms.png`);
  for (const name of [a, b]) {
    assert.ok(new TextEncoder().encode(name).length <= MAX_MAP_NAME_BYTES, name);
    assert.match(name, /_frame_000_exposure_12ms~[0-9a-f]{8}\.png$/);
  }
  assert.notEqual(a, b, "paths differing only at their start keep apart");
  const wide = mapFileName(`/x/${"é".repeat(400)}/photo.png`);
  assert.ok(new TextEncoder().encode(wide).length <= MAX_MAP_NAME_BYTES, wide);
  // Short paths keep today's names.
  assert.equal(mapFileName("data/zipper/test/broken/000.png"), "data_zipper_test_broken_000.png");
});

Deno.test("score --maps: images in a deep folder tree get their maps and their scores", async () => {
  const s = await setup;
  let deep = join(s.dir, "deep");
  for (let i = 0; i < 8; i++) deep = join(deep, `session_2024_06_17_morning_shift_${i}`);
  await Deno.mkdir(deep, { recursive: true });
  await Deno.copyFile(firstImage(s.data.imageDirs[0]), join(deep, "frame_000_exposure.png"));
  assert.ok(deep.length > 230, "a path longer than a file name can be");
  const json = join(s.dir, "deep.json");
  const maps = join(s.dir, "deep_maps");
  const r = await runCli("score.ts", [
    "--checkpoint",
    s.ckpt,
    "--images",
    deep,
    "--category",
    "weave",
    "--json",
    json,
    "--maps",
    maps,
    "--workers",
    "1",
  ], s.dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(await Deno.readTextFile(json)).length, 1);
  const written = [...Deno.readDirSync(maps)].map((e) => e.name);
  assert.equal(written.length, 1, written.join());
  assert.match(written[0], /frame_000_exposure~[0-9a-f]{8}\.png$/);
  // The scores come before the heat maps.
  assert.ok(r.stderr.indexOf(`wrote ${json}`) < r.stderr.indexOf("writing heatmaps"), r.stderr);
});

Deno.test("train --overwrite: bad data leaves the earlier run in place; a move is said", async () => {
  const s = await setup;
  const out = join(s.dir, "ow");
  const config = s.config;
  const good = s.data.tablePaths[0];
  const first = await runCli(
    "train.ts",
    ["--table", good, "--config", config, "--out", out, "--quiet"],
    s.dir,
  );
  assert.equal(first.code, 0, first.stderr);
  const best = join(out, "best_model_checkpoint.safetensors");
  const before = await Deno.readFile(best);
  const log = await Deno.readTextFile(join(out, "train.log"));
  // A table with an "NA": refused, and the earlier run is untouched.
  const bad = join(s.dir, "bad.csv");
  await withNA(good, bad, 5);
  const failed = await runCli(
    "train.ts",
    ["--table", bad, "--config", config, "--out", out, "--overwrite", "--quiet"],
    s.dir,
  );
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(errorLine(failed.stderr), /bad\.csv: .*"NA" is not a number/);
  assert.deepEqual(await Deno.readFile(best), before);
  assert.equal(await Deno.readTextFile(join(out, "train.log")), log);
  assert.ok(!(await exists(join(out, "previous"))), "nothing moved");
  // Good data: the earlier run moves to previous/, in one line; a second time it is replaced, said.
  for (const again of [false, true]) {
    const r = await runCli(
      "train.ts",
      ["--table", good, "--config", config, "--out", out, "--overwrite", "--quiet"],
      s.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const said = r.stderr.split("\n").filter((l) => l.startsWith("--overwrite: moved"));
    assert.equal(said.length, 1, r.stderr);
    assert.ok(said[0].includes(join(out, "previous")), said[0]);
    assert.equal(said[0].includes("replacing the run"), again, said[0]);
    assert.ok(await exists(join(out, "previous", "best_model_checkpoint.safetensors")));
    assert.ok(await exists(best));
    assert.ok(!(await Deno.readTextFile(join(out, "train.log"))).includes("NA"));
  }
  // Resuming the run kept in previous/ into OUT with --overwrite would replace it: refused.
  const kept = join(out, "previous", "last_checkpoint.safetensors");
  const keptBytes = await Deno.readFile(kept);
  const resumed = await runCli(
    "train.ts",
    ["--resume", kept, "--epochs", "3", "--out", out, "--overwrite", "--quiet"],
    s.dir,
  );
  assert.equal(resumed.code, 1, resumed.stderr);
  assert.match(
    errorLine(resumed.stderr),
    /--overwrite would replace .*previous\/, the run it resumes/,
  );
  assert.deepEqual(await Deno.readFile(kept), keptBytes);
});

Deno.test("a run folder taken over loses the temporary files of processes killed outright", async () => {
  const s = await setup;
  const dead = new Deno.Command("true").spawn();
  await dead.status;
  const live = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const out = join(s.dir, "k9");
    await Deno.mkdir(out);
    const stale = `last_checkpoint.safetensors.tmp-${dead.pid}-1765000000000`;
    const running = `last_checkpoint.safetensors.tmp-${live.pid}-1765000000000`;
    const users = ["notes.tmp-x", "notes.tmp-2024-06", `backup.tmp-${dead.pid}-1`];
    for (const name of [stale, running, ...users]) {
      await Deno.writeTextFile(join(out, name), "half a checkpoint");
    }
    // What a kill -9 in the middle of a checkpoint write leaves: its lock and its temp file.
    await Deno.writeTextFile(join(out, ".lock"), String(dead.pid));
    const r = await runCli(
      "train.ts",
      ["--table", s.data.tablePaths[0], "--config", s.config, "--out", out],
      s.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const left = [...Deno.readDirSync(out)].map((e) => e.name);
    assert.ok(!left.includes(stale), left.join());
    assert.ok(left.includes(running), "a live process's write stays");
    for (const name of users) assert.ok(left.includes(name), `${name}, not a run's, stays`);
    assert.ok(!left.includes(".lock"));
  } finally {
    live.kill("SIGKILL");
    await live.status;
  }
});

Deno.test("eval: a later table that is gone or unreadable is refused before any scoring", async () => {
  const s = await setup;
  const first = join(s.dir, "two", "first.csv");
  const second = join(s.dir, "two", "second.csv");
  await Deno.mkdir(join(s.dir, "two"));
  await Deno.copyFile(s.data.tablePaths[0], first);
  await Deno.copyFile(s.data.tablePaths[0], second);
  const out = join(s.dir, "two_run");
  const trained = await runCli("train.ts", [
    "--table",
    first,
    "--table",
    second,
    "--config",
    s.config,
    "--out",
    out,
    "--quiet",
  ], s.dir);
  assert.equal(trained.code, 0, trained.stderr);
  const ckpt = join(out, "best_model_checkpoint.safetensors");
  await withNA(second, second, 3);
  const bad = await runCli("eval.ts", ["--checkpoint", ckpt], s.dir);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(errorLine(bad.stderr), /second\.csv: .*"NA" is not a number/);
  assert.ok(!bad.stderr.includes("scoring"), bad.stderr);
  await Deno.remove(second);
  const gone = await runCli("eval.ts", ["--checkpoint", ckpt], s.dir);
  assert.equal(gone.code, 1, gone.stderr);
  assert.match(errorLine(gone.stderr), /second\.csv: .*not found/);
  assert.ok(!gone.stderr.includes("scoring"), gone.stderr);
});

/** Starts `script` with `args` and stops it with SIGINT once its stderr shows `started`. */
async function stopWhen(script: string, args: string[], started: string, cwd: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: scriptArgs(script, args),
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  while (!stderr.includes(started)) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value);
  }
  const signalled = stderr.includes(started);
  if (signalled) child.kill("SIGINT");
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    stderr += decoder.decode(r.value);
  }
  return { signalled, code: (await child.status).code, stderr };
}

Deno.test("score --table: SIGINT stops between batches of rows, and nothing is written", async () => {
  const s = await setup;
  // 40,000 rows scored one at a time: minutes of work unless the stop comes between batches.
  const big = join(s.dir, "big.csv");
  const rows = (await Deno.readTextFile(s.data.tablePaths[0])).trim().split("\n");
  const body = rows.slice(1);
  await Deno.writeTextFile(
    big,
    [rows[0], ...Array.from({ length: 40_000 }, (_, i) => body[i % body.length])].join("\n") +
      "\n",
  );
  const json = join(s.dir, "big.json");
  await Deno.writeTextFile(json, "earlier scores\n");
  const scored = await stopWhen(
    "score.ts",
    [
      ...["--checkpoint", s.ckpt, "--table", big, "--category", "table"],
      ...["--json", json, "--batch-rows", "1"],
    ],
    "scoring rows",
    s.dir,
  );
  assert.ok(scored.signalled, scored.stderr);
  assert.equal(scored.code, 130, scored.stderr);
  assert.match(scored.stderr, /SIGINT: stopped; nothing written .*big\.json is as it was/);
  assert.ok(!scored.stderr.includes("40000/40000"), "stopped before the last row");
  assert.equal(await Deno.readTextFile(json), "earlier scores\n");
  assert.ok(![...Deno.readDirSync(s.dir)].some((e) => e.name.includes(".tmp-")));
});

Deno.test("lost work: the shared run's folder is removed", async () => {
  await Deno.remove((await setup).dir, { recursive: true });
});

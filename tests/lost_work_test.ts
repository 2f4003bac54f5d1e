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
import { runCli } from "./fixtures.ts";

/** A tiny run on synthetic images and a table, trained once for the tests below. */
const setup = (async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_lost_work_" });
  const run = await tinyTrainRun(dir, 1);
  const r = await runCli("train.ts", [...run.args, "--quiet"], dir);
  assert.equal(r.code, 0, r.stderr);
  return { dir, ...run, ckpt: join(run.out, "best_model_checkpoint.safetensors") };
})();

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

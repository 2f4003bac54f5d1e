import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import {
  ablationFolder,
  CHECKPOINT_ENV,
  dataFromEnv,
  fromProject,
  namedCheckpoint,
  PROJECT_ROOT,
  projectPath,
  rootedRecords,
} from "../lib/notebook/data.ts";
import { MadError } from "../lib/errors.ts";
import { checkpointOrTrain } from "../lib/experiment/setup.ts";
import { disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { runCli, tinyTableSetup } from "./fixtures.ts";

/** A project folder with `notebooks/`, a checkpoint under `results/` and data under `data/`. */
function project(): { root: string; here: string; ckpt: string } {
  const root = Deno.makeTempDirSync({ prefix: "madformer-nbpaths-" });
  const here = join(root, "notebooks");
  Deno.mkdirSync(here);
  Deno.mkdirSync(join(root, "results", "mine"), { recursive: true });
  Deno.mkdirSync(join(root, "data", "images", "course", "hazelnut"), { recursive: true });
  const ckpt = join(root, "results", "mine", "best_model_checkpoint.safetensors");
  Deno.writeFileSync(ckpt, new Uint8Array(8));
  return { root, here, ckpt };
}

Deno.test("the notebooks' project folder is the repository's, where deno.json is", () => {
  assert.equal(PROJECT_ROOT, resolve(new URL("..", import.meta.url).pathname));
  assert.ok(Deno.statSync(join(PROJECT_ROOT, "deno.json")).isFile);
});

Deno.test("fromProject: relative paths from the project's folder, not the kernel's notebooks/", () => {
  const { root, here, ckpt } = project();
  try {
    const at = { root, here };
    assert.equal(fromProject("results/mine/best_model_checkpoint.safetensors", at), ckpt);
    assert.equal(fromProject(ckpt, at), ckpt);
    // A path typed relative to notebooks/ still finds its file when it exists only from there.
    assert.equal(
      fromProject("../results/mine/best_model_checkpoint.safetensors", at),
      ckpt,
    );
    // Found nowhere: named from the project's folder.
    assert.equal(
      fromProject("results/nope.safetensors", at),
      join(root, "results/nope.safetensors"),
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("namedCheckpoint: a relative MADFORMER_CHECKPOINT is found from the project's folder", () => {
  const { root, here, ckpt } = project();
  try {
    const env: Record<string, string> = {
      [CHECKPOINT_ENV]: "results/mine/best_model_checkpoint.safetensors",
    };
    assert.equal(namedCheckpoint((n) => env[n], { root, here }), ckpt);
    assert.equal(namedCheckpoint(() => undefined, { root, here }), undefined);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("namedCheckpoint: a named checkpoint that is not there stops in one line naming it", () => {
  const { root, here } = project();
  try {
    for (const given of ["results/other/best_model_checkpoint.safetensors", "results/mine"]) {
      assert.throws(
        () => namedCheckpoint((n) => (n === CHECKPOINT_ENV ? given : undefined), { root, here }),
        (e: unknown) => {
          assert.ok(e instanceof MadError);
          assert.ok(e.message.includes(`${CHECKPOINT_ENV}=${given}`), e.message);
          assert.ok(e.message.includes(join(root, given)), e.message);
          assert.ok(!e.message.includes("\n"));
          return true;
        },
      );
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("rootedRecords: data paths deno task train recorded are read from the project's folder", () => {
  const { root, here } = project();
  try {
    const records = [
      { name: "hazelnut", source: "data/images/course/hazelnut" },
      { name: "t", source: "synthetic(seed=0,n=10,d=2,anomalyShare=0.1)" },
      { name: "abs", source: join(root, "data") },
    ];
    const rooted = rootedRecords(records, { root, here });
    assert.equal(rooted[0].source, join(root, "data/images/course/hazelnut"));
    assert.equal(rooted[0].name, "hazelnut");
    // Not a path found anywhere: left as recorded.
    assert.equal(rooted[1].source, records[1].source);
    assert.equal(rooted[2].source, join(root, "data"));
    // The checkpoint's own records are not changed in place.
    assert.equal(records[0].source, "data/images/course/hazelnut");
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("dataFromEnv reads relative MADFORMER_IMAGES from the project's folder", () => {
  const data = dataFromEnv((n) => (n === "MADFORMER_IMAGES" ? "deno.json" : undefined));
  assert.deepEqual(data?.imageDirs, [join(PROJECT_ROOT, "deno.json")]);
});

Deno.test("ablationFolder: FULL on data/ shares results/ablation, TINY its own, the env wins", () => {
  const none = () => undefined;
  const root = "/project";
  assert.equal(ablationFolder(true, false, "/w/full", none, { root }), "/project/results/ablation");
  assert.equal(ablationFolder(false, false, "/w/tiny", none, { root }), "/w/tiny/03_ablation");
  assert.equal(ablationFolder(true, true, "/w/full-x", none, { root }), "/w/full-x/03_ablation");
  const env = (
    n: string,
  ) => (n === "MADFORMER_ABLATION_OUT" ? "/elsewhere/ablation-v31" : undefined);
  assert.equal(ablationFolder(true, false, "/w/full", env, { root }), "/elsewhere/ablation-v31");
});

Deno.test("deno task notebooks: a named checkpoint missing from where the task started stops it", async () => {
  const started = Deno.makeTempDirSync({ prefix: "madformer-nbstart-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(PROJECT_ROOT, "scripts", "notebooks.ts"), "--only", "04"],
      cwd: PROJECT_ROOT,
      env: {
        INIT_CWD: started,
        [CHECKPOINT_ENV]: "results/mine/best_model_checkpoint.safetensors",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 1, stderr);
    assert.ok(
      stderr.includes(join(started, "results/mine/best_model_checkpoint.safetensors")),
      stderr,
    );
    assert.equal(stderr.split("\n").length, 1, stderr);
  } finally {
    Deno.removeSync(started, { recursive: true });
  }
});

Deno.test("projectPath: from the project's folder inside it, absolute outside", () => {
  const root = "/home/someone/madformer";
  assert.equal(projectPath("/home/someone/madformer/results/run", root), "results/run");
  assert.equal(projectPath("/home/someone/madformer", root), ".");
  assert.equal(projectPath("/data/t.csv", root), "/data/t.csv");
  assert.equal(projectPath("/home/someone/madformer-old/x", root), "/home/someone/madformer-old/x");
  assert.equal(projectPath(join(PROJECT_ROOT, "data", "x")), join("data", "x"));
});

Deno.test({
  name:
    "a checkpoint a notebook trains records project paths: deno task eval reads it from the root",
  sanitizeResources: false,
  fn: async () => {
    const results = join(PROJECT_ROOT, "results");
    await Deno.mkdir(results, { recursive: true });
    // Inside the project, as the notebooks' data and runs are (results/ is not committed).
    const dir = await Deno.makeTempDir({ dir: results, prefix: "nbpaths-test-" });
    try {
      const setup = await tinyTableSetup(dir, 1);
      const table = setup.tablePaths[0];
      // 04 trains its own this way when 02 has not run; 02 passes the same recordSource.
      const lines: string[] = [];
      const best = await checkpointOrTrain(
        join(dir, "02", "best_model_checkpoint.safetensors"),
        setup,
        join(dir, "run"),
        (l) => lines.push(l),
      );
      assert.match(lines[0], /^no checkpoint at results\/nbpaths-test-[^ ]+\/02\/best_/);
      const ckpt = await loadCheckpoint(best, { optimizer: false });
      const sources = ckpt.datasets.map((d) => d.source);
      disposeCheckpoint(ckpt);
      assert.deepEqual(sources, [projectPath(table)]);
      assert.ok(!sources[0].startsWith("/"));
      const evaluated = await runCli("eval.ts", ["--checkpoint", projectPath(best)], PROJECT_ROOT);
      assert.equal(evaluated.code, 0, evaluated.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Second robustness sweep (s55/robust2, Q1, Q2, Q8-Q11): a resumed run refuses other data and
 * other training settings, outputs into a folder that cannot be written are refused before any
 * work, an output naming an input is refused, `--maps` with a table is refused, and the
 * notebooks task finds its notebooks from any working folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkNotAnInput, writeFileAtomic } from "../lib/util/files.ts";
import { tinyConfig } from "../lib/experiment/setup.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { resumeConfig } from "../lib/train/resume.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../lib/model/config.ts";
import { errorLine, exists, madError, madErrorAsync, runCli } from "./fixtures.ts";

/** Runs a script in `cwd`; with `prefix` (e.g. setpriv) in front of deno. */
async function cli(script: string, args: string[], cwd: string, prefix: string[] = []) {
  if (prefix.length === 0) return await runCli(script, args, cwd);
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(prefix[0], {
    args: [
      ...prefix.slice(1),
      Deno.execPath(),
      "run",
      "-A",
      join(root, "scripts", script),
      ...args,
    ],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", MADFORMER_DEBUG: "" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Each file in `dir` (recursively) with its bytes, to check that nothing changed. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) { for (const [k, v] of await snapshot(p)) out.set(k, v); }
    else out.set(p, (await Deno.readFile(p)).join(","));
  }
  return out;
}

/** A tiny table run trained once for all the tests: `dir/run` from `dir/t.csv`. */
const setup = (async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_robust2_" });
  const table = join(dir, "t.csv");
  await writeSyntheticTableCsv(table, { seed: 1, n: 80, d: 3 });
  const other = join(dir, "other.csv");
  await writeSyntheticTableCsv(other, { seed: 2, n: 80, d: 4 });
  const config = join(dir, "config.json");
  await Deno.writeTextFile(config, JSON.stringify(tinyConfig({ train: { epochs: 1 } })));
  const out = join(dir, "run");
  const r = await cli(
    "train.ts",
    ["--table", table, "--config", config, "--out", out, "--quiet"],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const ckpt = join(out, "last_checkpoint.safetensors");
  return {
    dir,
    table,
    other,
    config,
    out,
    ckpt,
    best: join(out, "best_model_checkpoint.safetensors"),
  };
})();

/** `train.ts --resume` of the tiny run to epoch 2, with `flags`, in the set-up folder. */
async function resumeWith(flags: string[]) {
  const s = await setup;
  return await cli(
    "train.ts",
    ["--resume", s.ckpt, ...flags, "--epochs", "2", "--quiet", "--out", s.out],
    s.dir,
  );
}

async function cleanup() {
  await Deno.remove((await setup).dir, { recursive: true });
}

Deno.test("Q1: train --resume with other data is refused in one line, nothing written", async () => {
  const s = await setup;
  const before = await snapshot(s.out);
  for (const flags of [["--table", s.other], ["--images", join(s.dir, "nope")]]) {
    const r = await resumeWith(flags);
    assert.equal(r.code, 1, r.stderr);
    const line = errorLine(r.stderr);
    assert.match(line, new RegExp(`${flags[0]} ${flags[1]}: `));
    assert.match(line, /continues on its own data .*t\.csv.*start a new run/);
  }
  assert.deepEqual(await snapshot(s.out), before);
});

Deno.test("Q2: train --resume with other training settings is refused naming them", async () => {
  const s = await setup;
  const before = await snapshot(s.out);
  const lr = await resumeWith(["--lr", "0.5"]);
  assert.equal(lr.code, 1, lr.stderr);
  const line = errorLine(lr.stderr);
  assert.match(line, /--lr 0\.5 \(the checkpoint's lr is [0-9.e-]+\)/);
  assert.match(line, /only --epochs may change/);
  const cfg = join(s.dir, "lr_config.json");
  await Deno.writeTextFile(cfg, JSON.stringify(tinyConfig({ train: { epochs: 1, seed: 9 } })));
  const seed = await resumeWith(["--config", cfg]);
  assert.equal(seed.code, 1, seed.stderr);
  assert.match(
    errorLine(seed.stderr),
    new RegExp(`${cfg}: train\\.seed 9 \\(the checkpoint's seed is 0\\)`),
  );
  assert.deepEqual(await snapshot(s.out), before);
});

Deno.test("resumeConfig: a given training setting that differs is refused; equal ones, --epochs and --shards are not", () => {
  const saved = DEFAULT_CONFIG;
  const wanted = mergeConfig(DEFAULT_CONFIG, { train: { lr: 0.5, epochs: 40, shards: 2 } });
  madError(
    () => resumeConfig(saved, wanted, "ckpt", false, 40, { lr: "--lr" }),
    "ckpt: a resumed run keeps its training settings; refused --lr 0.5 (the checkpoint's lr is ",
  );
  const same = mergeConfig(DEFAULT_CONFIG, { train: { epochs: 40, shards: 2 } });
  const { config } = resumeConfig(saved, same, "ckpt", false, 40, {
    lr: "--lr",
    epochs: "--epochs",
    shards: "--shards",
  });
  assert.equal(config.train.epochs, 40);
  assert.equal(config.train.shards, 2);
  assert.equal(config.train.lr, saved.train.lr);
});

Deno.test("Q10: --json naming the checkpoint or the table is refused; inputs unchanged", async () => {
  const s = await setup;
  const before = await snapshot(s.dir);
  const score = await cli("score.ts", [
    "--checkpoint",
    s.best,
    "--table",
    s.table,
    "--json",
    s.best,
  ], s.dir);
  assert.equal(score.code, 1, score.stderr);
  assert.match(
    errorLine(score.stderr),
    /best_model_checkpoint\.safetensors: is the --checkpoint input; --json needs another file name/,
  );
  // The same file by another spelling.
  const again = await cli("eval.ts", [
    "--checkpoint",
    s.best,
    "--table",
    "t.csv",
    "--json",
    "./run/../t.csv",
  ], s.dir);
  assert.equal(again.code, 1, again.stderr);
  assert.match(errorLine(again.stderr), /\.\/run\/\.\.\/t\.csv: is the --table input/);
  assert.deepEqual(await snapshot(s.dir), before);
});

Deno.test("checkNotAnInput: an existing image inside an input folder is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_input_" });
  try {
    await Deno.mkdir(join(dir, "good"));
    await Deno.writeTextFile(join(dir, "good", "000.png"), "x");
    madError(
      () =>
        checkNotAnInput(join(dir, "good", "000.png"), "--json", [{ flag: "--images", path: dir }]),
      "000.png: is a file of the --images input",
    );
    // A new file next to the inputs is fine.
    checkNotAnInput(join(dir, "scores.json"), "--json", [{ flag: "--images", path: dir }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Q11: score --table with --maps is refused; no folder made", async () => {
  const s = await setup;
  const maps = join(s.dir, "maps");
  const r = await cli(
    "score.ts",
    ["--checkpoint", s.best, "--table", s.table, "--maps", maps],
    s.dir,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(errorLine(r.stderr), /--maps draws image heat maps; tables get --explain/);
  assert.equal(await exists(maps), false);
});

Deno.test("Q8: writeFileAtomic turns an OS error into one line naming the path", async () => {
  const s = await setup;
  const target = join(s.table, "x.json"); // under a file
  const message = await madErrorAsync(
    () => writeFileAtomic(target, "{}"),
    `${target}: cannot write (`,
  );
  assert.ok(!message.includes("\n"));
});

/** The prefix that makes a chmod 555 folder read-only for this process, or null. */
async function readOnlyPrefix(): Promise<string[] | null> {
  if (Deno.uid() !== 0) return [];
  const prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"];
  try {
    const r = await new Deno.Command(prefix[0], {
      args: [...prefix.slice(1), "true"],
      stderr: "null",
    }).output();
    return r.success ? prefix : null;
  } catch {
    return null;
  }
}

Deno.test("Q8: outputs into a read-only folder are refused before any work", async () => {
  const s = await setup;
  const prefix = await readOnlyPrefix();
  if (prefix === null) return; // root without setpriv: cannot make a folder read-only
  const ro = join(s.dir, "ro");
  await Deno.mkdir(ro);
  await Deno.chmod(ro, 0o555);
  try {
    const cases: Array<[string, string[], RegExp]> = [
      [
        "eval.ts",
        ["--checkpoint", s.best, "--json", join(ro, "e.json")],
        /ro: folder is not writable \(--json .*e\.json\)/,
      ],
      ["score.ts", [
        "--checkpoint",
        s.best,
        "--table",
        s.table,
        "--json",
        join(ro, "sub", "s.json"),
      ], /ro: folder is not writable \(--json /],
      [
        "score.ts",
        ["--checkpoint", s.best, "--images", s.dir, "--maps", join(ro, "maps")],
        /ro: folder is not writable \(--maps /,
      ],
      [
        "train.ts",
        ["--table", s.table, "--config", s.config, "--quiet", "--out", ro],
        /ro: folder is not writable; --out needs one that is/,
      ],
      [
        "train.ts",
        ["--table", s.table, "--config", s.config, "--quiet", "--out", join(ro, "run")],
        /ro: folder is not writable \(--out /,
      ],
    ];
    for (const [script, args, want] of cases) {
      const r = await cli(script, args, s.dir, prefix);
      assert.equal(r.code, 1, `${script} ${args.join(" ")}: ${r.stderr}`);
      assert.match(errorLine(r.stderr), want);
    }
    assert.deepEqual([...Deno.readDirSync(ro)], []);
  } finally {
    await Deno.chmod(ro, 0o755);
  }
});

Deno.test("Q9: the notebooks task finds its notebooks from another working folder", async () => {
  const s = await setup;
  const r = await cli("notebooks.ts", ["--only", "no_such_notebook_zz", "--out", "reports"], s.dir);
  assert.equal(r.code, 2, r.stderr);
  assert.match(errorLine(r.stderr), /no notebook matches no_such_notebook_zz/);
  assert.equal(await exists(join(s.dir, "reports")), false);
});

Deno.test("notebooks refuse a table training would refuse before any notebook runs", async () => {
  const s = await setup;
  const table = join(s.dir, "unlabelled.csv");
  await Deno.writeTextFile(table, "a,b,class\n1,2,0\n3,4,1\n5,6,0\n");
  const r = await cli("notebooks.ts", ["--table", table, "--out", "reports-nl"], s.dir);
  assert.equal(r.code, 1, r.stderr);
  assert.match(errorLine(r.stderr), /unlabelled\.csv: no 'label' column .*rename it to "label"/);
  assert.equal(await exists(join(s.dir, "reports-nl")), false);
});

Deno.test("ablate: --data without --full is a usage error (the tiny run reads no data)", async () => {
  const s = await setup;
  const r = await cli("ablate.ts", ["--data", "elsewhere", "--out", "abl"], s.dir);
  assert.equal(r.code, 2, r.stderr);
  assert.match(errorLine(r.stderr), /--data elsewhere is read with --full only/);
  assert.equal(await exists(join(s.dir, "abl")), false);
});

Deno.test("train --resume into another run's folder is refused; --overwrite moves that run to previous/", async () => {
  const s = await setup;
  // Another run's folder: its own checkpoints and logs.
  const other = join(s.dir, "other_run");
  await Deno.mkdir(other);
  for (const name of ["best_model_checkpoint.safetensors", "last_checkpoint.safetensors"]) {
    await Deno.copyFile(join(s.out, name), join(other, name));
  }
  await Deno.writeTextFile(join(other, "train.log"), "the other run's log\n");
  const before = await snapshot(other);
  const args = ["--resume", s.ckpt, "--epochs", "2", "--quiet", "--out", other];
  const refused = await cli("train.ts", args, s.dir);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(
    errorLine(refused.stderr),
    `error: ${other}: holds another run (best_model_checkpoint.safetensors, ` +
      `last_checkpoint.safetensors), not the one of ${s.ckpt}; leave out --out to continue in ` +
      `${s.out}, give an empty --out, or --overwrite to move that run to ${
        join(other, "previous")
      }/`,
  );
  assert.deepEqual(await snapshot(other), before);
  const moved = await cli("train.ts", [...args, "--overwrite"], s.dir);
  assert.equal(moved.code, 0, moved.stderr);
  for (const [path, bytes] of before) {
    const name = path.slice(other.length + 1);
    assert.equal((await Deno.readFile(join(other, "previous", name))).join(","), bytes, name);
  }
  const log = await Deno.readTextFile(join(other, "train.log"));
  assert.ok(!log.includes("the other run's log"));
  assert.match(log, /epoch 2:/);
});

Deno.test("resume with the checkpoint's own table (another spelling) still trains; cleanup", async () => {
  const s = await setup;
  try {
    const r = await resumeWith(["--table", "./run/../t.csv"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await Deno.readTextFile(join(s.out, "train.log")), /epoch 2:/);
  } finally {
    await cleanup();
  }
});

/**
 * A stopped `deno task benchmark` (SIGINT, SIGTERM) removes its run-folder locks and temporary
 * files and keeps its finished runs, which a rerun reuses; the lock of one killed outright
 * (SIGKILL) stays and is taken over by the next run. And `exitOnStop` removes the temporary file
 * of an atomic write under way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tinyConfig } from "../lib/experiment/setup.ts";
import { writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { inTempDir, scriptArgs } from "./fixtures.ts";

const FILES = new URL("../lib/util/files.ts", import.meta.url).href;
const CLI = new URL("../lib/cli.ts", import.meta.url).href;

/** Every file below `dir`, relative to it, sorted. */
function filesBelow(dir: string, prefix = ""): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) found.push(...filesBelow(join(dir, entry.name), rel));
    else found.push(rel);
  }
  return found.sort();
}

/** Waits until `test()` holds; false when `ms` pass first. */
async function until(test: () => boolean, ms = 120_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (test()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** Whether the lock file at `path` names `pid`. */
function lockedBy(path: string, pid: number): boolean {
  try {
    return Deno.readTextFileSync(path) === String(pid);
  } catch {
    return false;
  }
}

Deno.test("benchmark: SIGINT / SIGTERM leave no lock or temp file; a SIGKILL's lock is taken over", async () => {
  await inTempDir(async (dir) => {
    const tables = join(dir, "tables");
    await Deno.mkdir(tables);
    await writeSyntheticTableCsv(join(tables, "t.csv"), { seed: 1, n: 400, d: 6 });
    const config = join(dir, "config.json");
    // Enough epochs that the model's training is still under way when the signal comes.
    await Deno.writeTextFile(config, JSON.stringify(tinyConfig({ train: { epochs: 500 } })));
    const out = join(dir, "out");
    const args = scriptArgs("benchmark.ts", [
      ...["--tables", tables, "--config", config, "--seeds", "1", "--joint", "none"],
      ...["--quiet", "--out", out],
    ]);
    const baselines = "runs/baselines_table-t_seed0.json";
    const work = join(out, "work", "model_table-t_seed0");
    /** Starts the benchmark and waits until it trains the model (its work folder locked). */
    const start = async () => {
      const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
        .spawn();
      const training = await until(() =>
        lockedBy(join(out, ".lock"), child.pid) && lockedBy(join(work, ".lock"), child.pid)
      );
      return { child, training };
    };

    // Stopped while training: exit 130, the finished baselines kept, no lock, no temp file.
    const first = await start();
    assert.ok(first.training, "the model's training started");
    first.child.kill("SIGINT");
    const stopped = await first.child.output();
    const stderr = new TextDecoder().decode(stopped.stderr);
    assert.equal(stopped.code, 130, stderr);
    assert.match(stderr, /SIGINT: stopped; finished runs are kept in .*runs\//);
    const left = filesBelow(out);
    assert.ok(left.includes(baselines), left.join(", "));
    assert.deepEqual(left.filter((f) => /(^|\/)\.lock$|\.tmp/.test(f)), [], left.join(", "));

    // Killed outright: its lock stays, naming a process that is gone.
    const killed = await start();
    assert.ok(killed.training, "the rerun trains the model");
    killed.child.kill("SIGKILL");
    await killed.child.output();
    assert.ok(lockedBy(join(out, ".lock"), killed.child.pid), "the killed run's lock stays");

    // The next run takes the stale lock over, reuses the baselines; SIGTERM: exit 143, clean.
    const last = await start();
    assert.ok(last.training, "the stale lock is taken over");
    last.child.kill("SIGTERM");
    const ended = await last.child.output();
    const log = new TextDecoder().decode(ended.stderr);
    assert.equal(ended.code, 143, log);
    assert.match(log, /\[1\/2\] baselines t seed 0: reused /);
    const after = filesBelow(out);
    assert.ok(after.includes(baselines), after.join(", "));
    assert.deepEqual(after.filter((f) => /(^|\/)\.lock$|\.tmp/.test(f)), [], after.join(", "));
  }, "madformer-benchmark-stop-");
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`exitOnStop: ${signal} during an atomic write removes its temporary file`, async () => {
    await inTempDir(async (dir) => {
      const script = join(dir, "main.ts");
      await Deno.writeTextFile(
        script,
        `import { writeFileAtomic } from "${FILES}";
import { exitOnStop } from "${CLI}";
exitOnStop("nothing kept");
const data = new Uint8Array(64 * 1024 * 1024).fill(7);
for (let i = 0; ; i++) await writeFileAtomic(${JSON.stringify(join(dir, "big.bin"))}, data);
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const temps = () => filesBelow(dir).filter((f) => f.includes(".tmp-"));
      // The second write's temporary file: the listener is set by then.
      assert.ok(await until(() => temps().length > 0 && filesBelow(dir).includes("big.bin")));
      child.kill(signal);
      const out = await child.output();
      assert.equal(out.code, code, new TextDecoder().decode(out.stderr));
      assert.deepEqual(temps(), []);
      // The target is whole: a complete earlier write, never a part of one.
      assert.equal((await Deno.stat(join(dir, "big.bin"))).size, 64 * 1024 * 1024);
    }, "madformer-stop-tmp-");
  });
}

/**
 * Interrupted training: SIGKILL at any moment leaves loadable checkpoints; SIGINT and SIGTERM
 * finish the step, write a checkpoint and exit 130 / 143 with a message; resume continues.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import { useBackend } from "../lib/backend/mod.ts";
import { scriptArgs, tinyTrainRun } from "./fixtures.ts";

await useBackend("wasm");

/** Writes tiny data and config under `dir`; returns the `deno` arguments that train on them. */
async function setup(dir: string, epochs: number): Promise<string[]> {
  const { args } = await tinyTrainRun(dir, epochs);
  return scriptArgs("train.ts", args);
}

/** Waits until `path` exists (or the deadline passes). */
async function waitFor(path: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      await Deno.stat(path);
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal} finishes the step, writes a checkpoint and exits ${code}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-signal-" });
    try {
      const args = await setup(dir, 200);
      const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
        .spawn();
      const last = join(dir, "run", "last_checkpoint.safetensors");
      assert.ok(await waitFor(last, 60_000), "an epoch completes");
      child.kill(signal);
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, code, stderr);
      // Stopped in an epoch's steps it names the interrupted checkpoint, between epochs `last`.
      const named = stderr.match(new RegExp(`stopped by ${signal}.*--resume (\\S+)`));
      assert.ok(named, stderr);
      await loadCheckpoint(named[1]);
      const ckpt = await loadCheckpoint(last);
      assert.ok(ckpt.progress.epoch >= 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("SIGKILL at random moments leaves loadable last and best checkpoints", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-kill-" });
  try {
    const args = await setup(dir, 200);
    const last = join(dir, "run", "last_checkpoint.safetensors");
    const best = join(dir, "run", "best_model_checkpoint.safetensors");
    // Kill at several delays after the first checkpoint, so some land mid-write.
    for (const delay of [0, 37, 113, 260]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [...args, ...(delay > 0 ? ["--resume", last] : [])],
        stdout: "null",
        stderr: "null",
      }).spawn();
      if (delay === 0) assert.ok(await waitFor(last, 60_000), "an epoch completes");
      await new Promise((r) => setTimeout(r, delay + 300));
      child.kill("SIGKILL");
      await child.status;
      const a = await loadCheckpoint(last);
      const b = await loadCheckpoint(best);
      assert.ok(a.progress.epoch >= 1 && b.progress.epoch >= 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second run into the same folder is refused while the first is alive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-lock-" });
  try {
    const args = await setup(dir, 200);
    const first = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "null" })
      .spawn();
    try {
      assert.ok(await waitFor(join(dir, "run", "metrics.jsonl"), 60_000), "the first run works");
      const second = await new Deno.Command(Deno.execPath(), {
        args,
        stdout: "null",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(second.stderr);
      assert.equal(second.code, 1);
      assert.match(stderr, /error: .*run: in use by another training run \(pid \d+\)/);
    } finally {
      first.kill("SIGKILL");
      await first.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { useBackend } from "../lib/backend/mod.ts";
import { MadError } from "../lib/errors.ts";

Deno.test("the default backend is wasm", async () => {
  assert.equal(await useBackend("auto"), "wasm");
});

Deno.test("an unknown backend name is a one-line error", async () => {
  await assert.rejects(
    () => useBackend("gpu" as "wasm"),
    (e: unknown) => e instanceof MadError && /unknown backend 'gpu'/.test(e.message),
  );
});

Deno.test("the tensorflow backend without libtensorflow says how to get it", async () => {
  try {
    await useBackend("tensorflow");
    // A machine with tfjs-node installed: nothing to check.
  } catch (e) {
    assert.ok(e instanceof MadError);
    assert.match(e.message, /tfjs-node-gpu or @tensorflow\/tfjs-node .*README/);
    assert.ok(!e.message.includes("\n"));
  } finally {
    await useBackend("wasm");
  }
});

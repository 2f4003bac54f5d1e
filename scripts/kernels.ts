/**
 * Assembles the hand-written WebAssembly kernels (`lib/backend/kernels/*.wat`) into the
 * TypeScript modules that embed them (`*_wasm.ts`), so that running MADformer needs no
 * assembler. Run after editing a .wat file: `deno task kernels` (`--check` only compares).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { assembleKernel, kernelModuleSource, KERNELS_DIR } from "../lib/backend/assemble.ts";
import { runMain } from "../lib/cli.ts";

await runMain(async () => {
  const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
  let stale = 0;
  for await (const entry of Deno.readDir(KERNELS_DIR)) {
    if (!entry.name.endsWith(".wat")) continue;
    const watPath = `${KERNELS_DIR}/${entry.name}`;
    const target = watPath.replace(/\.wat$/, "_wasm.ts");
    const source = kernelModuleSource(entry.name, await assembleKernel(watPath));
    const current = await Deno.readTextFile(target).catch(() => "");
    if (current === source) continue;
    stale++;
    if (values.check) console.log(`${target}: out of date with ${watPath}`);
    else {
      await Deno.writeTextFile(target, source);
      console.log(`wrote ${target}`);
    }
  }
  if (values.check && stale) Deno.exit(1);
});

/**
 * Assembles the hand-written WebAssembly kernels (`lib/backend/kernels/*.wat`) into the
 * TypeScript modules that embed them (`*_wasm.ts`), so that running MADformer needs no
 * assembler. Run after editing a .wat file: `deno task kernels` (`--check` only compares).
 *
 * @module
 */
import { relative } from "node:path";
import { assembleKernel, kernelModuleSource, KERNELS_DIR } from "../lib/backend/assemble.ts";
import { runMain } from "../lib/cli.ts";
import { asFolder, counted, defineCommand, helpText, parseFlags } from "../lib/util/mod.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task kernels",
  summary: "assembles the hand-written WebAssembly kernels (lib/backend/kernels/*.wat) into the " +
    "TypeScript modules that embed them (*_wasm.ts); run it after editing a .wat file.",
  flags: {
    check: {
      type: "boolean",
      default: false,
      description: "only compare: list the modules out of date with their .wat and exit 1 if any",
    },
  },
  examples: ["deno task kernels", "deno task kernels --check"],
});

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  let stale = 0;
  let kernels = 0;
  for await (const entry of Deno.readDir(KERNELS_DIR)) {
    if (!entry.name.endsWith(".wat")) continue;
    const watPath = `${KERNELS_DIR}/${entry.name}`;
    const target = watPath.replace(/\.wat$/, "_wasm.ts");
    kernels++;
    const source = kernelModuleSource(entry.name, await assembleKernel(watPath));
    const current = await Deno.readTextFile(target).catch(() => "");
    if (current === source) continue;
    stale++;
    if (flags.check) console.log(`${target}: out of date with ${watPath}`);
    else {
      await Deno.writeTextFile(target, source);
      console.log(`wrote ${target}`);
    }
  }
  if (stale === 0) {
    console.log(
      `${counted(kernels, "kernel module")} up to date with ${
        asFolder(relative(Deno.cwd(), KERNELS_DIR))
      }*.wat`,
    );
  }
  if (flags.check && stale) Deno.exit(1);
}

if (import.meta.main) await runMain(main);

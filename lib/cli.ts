/**
 * What the command-line entry points in `scripts/` share beyond their flags: one-line errors
 * and exit codes. Flags and `--help` are in `util/flags.ts`; progress bars and atomic writes in
 * `util/`.
 *
 * @module
 */
import { MadError } from "./errors.ts";

/**
 * Runs a script's main function: a MadError becomes `error: message` on stderr and its exit
 * code; any other error becomes one line too (its message), with exit code 1. Set
 * `MADFORMER_DEBUG=1` to see stack traces.
 */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (Deno.env.get("MADFORMER_DEBUG")) console.error(e);
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.error(`error: ${message}`);
    Deno.exit(e instanceof MadError ? e.exitCode : 1);
  }
}

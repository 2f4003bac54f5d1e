/**
 * What the command-line entry points in `scripts/` share beyond their flags: one-line errors
 * and exit codes. Flags and `--help` are in `util/flags.ts`; progress bars and atomic writes in
 * `util/`.
 *
 * @module
 */
import { MadError } from "./errors.ts";
import { descendants, signalProcess } from "./util/processes.ts";
import { removePendingTempFiles } from "./util/files.ts";
import { releaseHeldLocks } from "./util/run_lock.ts";

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

/**
 * What a process stopped at once leaves behind of its own: the temporary files of atomic writes
 * under way (`*.tmp-<pid>-<time>`) and the `.lock` files of the run folders it holds (a
 * benchmark's or ablation's, and that of the training under way in it). Finished files stay.
 */
export function removeOwnScratch(): void {
  removePendingTempFiles();
  releaseHeldLocks();
}

/**
 * On SIGINT or SIGTERM: ends the processes this one started (a PyTorch step, a training in a
 * child), removes its temporary files and run-folder locks ({@linkcode removeOwnScratch}), runs
 * `cleanup`, says `message` (what is kept, how to go on; a function when that changes as the work
 * goes on) and exits 130 / 143. For commands whose files are whole or not written at all when
 * stopped; `train` stops at a safe point of its own instead.
 */
export function exitOnStop(message: string | (() => string), cleanup?: () => void): void {
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => {
      for (const pid of descendants(Deno.pid)) signalProcess(pid, "SIGTERM");
      for (const step of [removeOwnScratch, cleanup]) {
        try {
          step?.();
        } catch {
          // Best effort (a scratch folder already gone): the stop itself must not fail.
        }
      }
      console.error(
        `\n${name}: stopped; ${typeof message === "string" ? message : message()}`,
      );
      Deno.exit(name === "SIGINT" ? 130 : 143);
    });
  }
}

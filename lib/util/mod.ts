/**
 * Small helpers every layer may use, with no knowledge of the model: command-line flag tables
 * behind parsing and `--help` (`flags.ts`), atomic file writes (`files.ts`), a terminal progress
 * bar (`progress.ts`), the processes a process started (`processes.ts`), one run per output
 * folder (`run_lock.ts`: training runs, benchmarks and ablations lock alike, and `cli.ts`
 * releases the locks on a stop), wall-time profiling spans (`profile.ts`) and wording
 * (`text.ts`). Nothing here imports another part of `lib/` but `errors.ts`.
 *
 * @module
 */

export {
  defineCommand,
  HELP_FLAG,
  helpText,
  numberFlag,
  parseFlags,
  positiveIntegerFlag,
  usageError,
  usageLine,
  userFolder,
} from "./flags.ts";
export type { Command, FlagSpec, FlagTable, FlagValues, WithHelp } from "./flags.ts";
export {
  checkNotAnInput,
  checkOutputFile,
  checkOutputFolder,
  isDirectory,
  isFile,
  samePath,
  writeFileAtomic,
} from "./files.ts";
export { Progress, progressReporter } from "./progress.ts";
export { descendants, signalProcess } from "./processes.ts";
export { assertFolderFree, lockRunFolder, releaseHeldLocks } from "./run_lock.ts";
export { asFolder, counted } from "./text.ts";
export {
  profileReport,
  profileTotals,
  record,
  resetProfile,
  setProfiling,
  span,
} from "./profile.ts";

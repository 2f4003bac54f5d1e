/**
 * The project's own error: a one-line message meant for the user, naming the file and the
 * problem. Command-line entry points print it without a stack trace and exit non-zero.
 *
 * @module
 */

/** An error whose message is complete and fit to show a user as it is. */
export class MadError extends Error {
  /** Process exit code for command-line entry points. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "MadError";
    this.exitCode = exitCode;
  }
}

/** Builds a MadError for a problem with a particular file: `FILE: problem`. */
export function fileError(path: string, problem: string): MadError {
  return new MadError(`${path}: ${problem}`);
}

/** True when `e` is a file-not-found error from Deno or Node APIs. */
export function isNotFound(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound ||
    (typeof e === "object" && e !== null && (e as { code?: string }).code === "ENOENT");
}

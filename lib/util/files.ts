/**
 * Files written whole or not at all: a reader never sees half a checkpoint, cache entry or
 * report, even when the writer is interrupted.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, relative, resolve, sep as SEP } from "node:path";
import { fileURLToPath } from "node:url";
import { fileError, MadError } from "../errors.ts";

/** Temporary files of writes under way, removed by {@linkcode removePendingTempFiles}. */
const pendingTemps = new Set<string>();

/**
 * Writes a file atomically: to a temporary sibling first, then a rename. On failure the
 * temporary file is removed; a `path` that is a folder, or any other OS error, is a one-line
 * MadError naming it. A process stopped mid-write removes it with
 * {@linkcode removePendingTempFiles}.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  pendingTemps.add(tmp);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    const file = await Deno.open(tmp, { read: true, write: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    if (isFolder(path)) throw fileError(path, "is a folder; give a file name to write");
    if (e instanceof Deno.errors.Interrupted || !(e instanceof Error) || e instanceof MadError) {
      throw e;
    }
    throw fileError(path, `cannot write (${osReason(e)})`);
  } finally {
    pendingTemps.delete(tmp);
  }
}

/**
 * Removes the temporary files of the writes still under way, for a process about to exit on a
 * stop signal (their targets stay as they were: whole, or not there). Synchronous, as the exit
 * that follows does not wait for promises.
 */
export function removePendingTempFiles(): void {
  for (const tmp of pendingTemps) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // Not created yet, or renamed to its target already.
    }
  }
  pendingTemps.clear();
}

/** An OS error's message without the call that failed: "Permission denied (os error 13)". */
function osReason(e: Error): string {
  return e.message.split("\n")[0].replace(/: [a-z]+ '.*'$/, "");
}

/**
 * Whether files can be created in the folder `dir`: a temporary file is made there and removed
 * (an access check on the mode bits would be wrong for root, read-only mounts and ACLs).
 */
function writableFolder(dir: string): boolean {
  try {
    Deno.removeSync(Deno.makeTempFileSync({ dir, prefix: ".write-check-" }));
    return true;
  } catch {
    return false;
  }
}

/** A one-line MadError for an output going into the folder `dir` that cannot be written. */
function notWritable(dir: string, flag: string, path: string): Error {
  return dir === path
    ? fileError(path, `folder is not writable; ${flag} needs one that is`)
    : fileError(dir, `folder is not writable (${flag} ${path})`);
}

/** True when `path` exists and is a folder. */
function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The nearest existing ancestor of `path` (itself included), with its file info. */
function nearestExisting(path: string): { path: string; info: Deno.FileInfo } | null {
  for (let p = path;; p = dirname(p)) {
    try {
      return { path: p, info: Deno.statSync(p) };
    } catch {
      if (dirname(p) === p) return null;
    }
  }
}

/**
 * Checks, before any work, that an output file can go to `path`: it is not a folder, no
 * file stands where one of its folders should be, and its folder (or the nearest existing one)
 * is writable. `flag` names the option in the error.
 *
 * @throws {MadError} `PATH: is a folder; --json needs a file name` and the like.
 */
export function checkOutputFile(path: string, flag: string): void {
  const found = nearestExisting(path);
  if (!found) return;
  if (found.path === path) {
    if (found.info.isDirectory) throw fileError(path, `is a folder; ${flag} needs a file name`);
    // Written as a temporary sibling renamed over it: its folder must be writable.
    const dir = dirname(path);
    if (!writableFolder(dir)) throw notWritable(dir, flag, path);
    return;
  }
  if (!found.info.isDirectory) {
    throw fileError(found.path, `is a file, not a folder (${flag} ${path})`);
  }
  if (!writableFolder(found.path)) throw notWritable(found.path, flag, path);
}

/**
 * Checks, before any work, that an output folder can be `path`: it is a writable folder or
 * can be created as one (the nearest existing folder is writable). `flag` names the option in
 * the error.
 *
 * @throws {MadError} `PATH: is a file; --maps needs a folder` and the like.
 */
export function checkOutputFolder(path: string, flag: string): void {
  const found = nearestExisting(path);
  if (!found) return;
  if (found.info.isDirectory) {
    if (!writableFolder(found.path)) throw notWritable(found.path, flag, path);
    return;
  }
  throw found.path === path
    ? fileError(path, `is a file; ${flag} needs a folder`)
    : fileError(found.path, `is a file, not a folder (${flag} ${path})`);
}

/** The path with symbolic links resolved when it exists, else just made absolute. */
function realOrResolved(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Checks, before any work, that the output file `path` is none of the inputs (a checkpoint, a
 * table, an image file), nor an existing file inside an input folder (an image, a labels file):
 * writing it would replace the input. A new file in an input folder is fine. Paths are compared
 * resolved.
 *
 * @throws {MadError} `PATH: is the --checkpoint input; --json needs another file name`.
 */
export function checkNotAnInput(
  path: string,
  flag: string,
  inputs: Array<{ flag: string; path: string }>,
): void {
  const out = realOrResolved(path);
  for (const input of inputs) {
    const inp = realOrResolved(input.path);
    const inside = relative(inp, out);
    const under = inside !== "" && !inside.startsWith("..") && !inside.startsWith("/");
    if (out === inp || (under && isFile(out))) {
      throw fileError(
        path,
        `${out === inp ? "is" : "is a file of"} the ${input.flag} input; ${flag} needs another ` +
          `file name`,
      );
    }
  }
}

/** Whether `path` exists, a file or a folder (following links); false when unreadable. */
export function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is a file (following links); false when it is missing or unreadable. */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Whether two paths name the same file or folder, through symbolic links and other spellings; a
 * path not created yet is compared by its folder's real path and its name.
 */
export function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return Deno.realPathSync(p);
    } catch {
      try {
        return join(Deno.realPathSync(dirname(p)), basename(p));
      } catch {
        return resolve(p);
      }
    }
  };
  return real(a) === real(b);
}

/** Whether `path` is a folder (following links); false when it is missing or unreadable. */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The project's folder: where `deno.json` is and `deno task` runs every task, so what the paths
 * a checkpoint records are relative to.
 */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));

/**
 * `path` as the project's tasks write it: relative to the project's folder (`root`) when it lies
 * inside it (`results/notebooks/tiny/02_training/run`), else absolute as given. What notebooks
 * record in checkpoints and print, so that `deno task eval` reads the same path and a report
 * does not carry the machine's checkout folder.
 */
export function projectPath(path: string, root = PROJECT_ROOT): string {
  const rel = relative(root, resolve(path));
  if (rel === "") return ".";
  return rel === ".." || rel.startsWith(`..${SEP}`) || isAbsolute(rel) ? resolve(path) : rel;
}

/**
 * Files written whole or not at all: a reader never sees half a checkpoint, cache entry or
 * report, even when the writer is interrupted.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileError } from "../errors.ts";

/**
 * Writes a file atomically: to a temporary sibling first, then a rename. On failure the
 * temporary file is removed; a `path` that is a folder is a one-line MadError naming it.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
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
    throw e;
  }
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
 * Checks, before any work, that an output file can go to `path`: it is not a folder and no
 * file stands where one of its folders should be. `flag` names the option in the error.
 *
 * @throws {MadError} `PATH: is a folder; --json needs a file name` and the like.
 */
export function checkOutputFile(path: string, flag: string): void {
  const found = nearestExisting(path);
  if (!found) return;
  if (found.path === path) {
    if (found.info.isDirectory) throw fileError(path, `is a folder; ${flag} needs a file name`);
    return;
  }
  if (!found.info.isDirectory) {
    throw fileError(found.path, `is a file, not a folder (${flag} ${path})`);
  }
}

/**
 * Checks, before any work, that an output folder can be `path`: it is a folder or can be
 * created as one. `flag` names the option in the error.
 *
 * @throws {MadError} `PATH: is a file; --maps needs a folder` and the like.
 */
export function checkOutputFolder(path: string, flag: string): void {
  const found = nearestExisting(path);
  if (!found || found.info.isDirectory) return;
  throw found.path === path
    ? fileError(path, `is a file; ${flag} needs a folder`)
    : fileError(found.path, `is a file, not a folder (${flag} ${path})`);
}

/**
 * One training run per output folder: a `.lock` file holding the owner's pid.
 *
 * @module
 */
import { join } from "node:path";
import { MadError } from "../errors.ts";

/**
 * Claims a run folder for this process: two runs writing the same checkpoints would corrupt
 * each other's resume state. A lock left by a process that no longer exists is taken over.
 * Returns the function that releases it.
 */
export async function lockRunFolder(out: string): Promise<() => Promise<void>> {
  const path = join(out, ".lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, String(Deno.pid), { createNew: true });
      return () => Deno.remove(path).catch(() => {});
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        const reason = String((e as Error).message ?? e).split("\n")[0].replace(
          /: [a-z]+ '.*'$/,
          "",
        );
        throw new MadError(`${out}: cannot write in the run folder (${reason})`);
      }
      const pid = Number(await Deno.readTextFile(path).catch(() => ""));
      if (pid > 0 && pid !== Deno.pid && processAlive(pid)) {
        throw new MadError(`${out}: in use by another training run (pid ${pid})`);
      }
      await Deno.remove(path).catch(() => {});
    }
  }
  throw new MadError(`${out}: cannot lock the run folder`);
}

/** The pid of a live training run holding `out`, or null (no lock, or a stale one). */
export function runFolderOwner(out: string): number | null {
  let pid = 0;
  try {
    pid = Number(Deno.readTextFileSync(join(out, ".lock")));
  } catch {
    return null;
  }
  return pid > 0 && pid !== Deno.pid && processAlive(pid) ? pid : null;
}

function processAlive(pid: number): boolean {
  try {
    return Deno.statSync(`/proc/${pid}`).isDirectory;
  } catch {
    return false;
  }
}

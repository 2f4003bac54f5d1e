/**
 * One run per output folder (a training run, a benchmark, an ablation): a `.lock` file holding
 * the owner's pid.
 *
 * @module
 */
import { join } from "node:path";
import { MadError } from "../errors.ts";

/** Lock files this process holds, released by {@linkcode releaseHeldLocks}. */
const heldLocks = new Set<string>();

/**
 * Claims a run folder for this process: two runs writing the same checkpoints would corrupt
 * each other's resume state (two benchmarks or ablations would train the same runs into the same
 * work folders). A lock left by a process that no longer exists is taken over, and so are the
 * temporary files of its atomic writes ({@linkcode removeStaleTempFiles}). `what` names the kind of
 * run in the refusal. Returns the function that releases it.
 */
export async function lockRunFolder(
  out: string,
  what = "training run",
): Promise<() => Promise<void>> {
  const path = join(out, ".lock");
  let tookOver = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, String(Deno.pid), { createNew: true });
      heldLocks.add(path);
      // Only a folder whose owner died can hold its half-written files.
      if (tookOver) removeStaleTempFiles(out);
      return async () => {
        heldLocks.delete(path);
        await Deno.remove(path).catch(() => {});
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        const reason = String((e as Error).message ?? e).split("\n")[0].replace(
          /: [a-z]+ '.*'$/,
          "",
        );
        throw new MadError(`${out}: cannot write in the run folder (${reason})`);
      }
      assertFolderFree(out, what);
      await Deno.remove(path).catch(() => {}); // stale: its process is gone
      tookOver = true;
    }
  }
  throw new MadError(`${out}: cannot lock the run folder`);
}

/**
 * Removes the locks this process still holds (each only while it still holds this process's
 * pid), for a process about to exit on a stop signal: a rerun then finds no lock at all. A lock
 * left by a process killed outright (SIGKILL) stays, and is taken over as stale. Synchronous, as
 * the exit that follows does not wait for promises.
 */
export function releaseHeldLocks(): void {
  for (const path of heldLocks) {
    try {
      if (Deno.readTextFileSync(path) === String(Deno.pid)) Deno.removeSync(path);
    } catch {
      // Already gone.
    }
  }
  heldLocks.clear();
}

/**
 * Refuses a folder that another live process holds (`OUT: in use by another training run (pid
 * 1234)`); no lock, or a stale one, passes.
 */
export function assertFolderFree(out: string, what = "training run"): void {
  const pid = folderHolder(out);
  if (pid !== null) throw new MadError(`${out}: in use by another ${what} (pid ${pid})`);
}

/**
 * The pid of another live process that holds `out`'s lock, or null: no lock, a stale one (its
 * process is gone), or this process's own.
 */
export function folderHolder(out: string): number | null {
  let pid = 0;
  try {
    pid = Number(Deno.readTextFileSync(join(out, ".lock")));
  } catch {
    return null;
  }
  return pid > 0 && pid !== Deno.pid && processAlive(pid) ? pid : null;
}

/**
 * What `writeFileAtomic` names its temporary files in a run folder: a file the runs write
 * (checkpoints, JSON, JSON lines, HTML) plus `.tmp-<pid>-<milliseconds since 1970>`. Nothing else
 * is taken for one, so a user's `notes.tmp-2024-06` in a folder given as `--out` stays.
 */
const RUN_TEMP_FILE = /^.+\.(?:safetensors|json|jsonl|html)\.tmp-(\d+)-\d{13}$/;

/**
 * Removes the temporary files ({@linkcode RUN_TEMP_FILE}) that processes no longer running left
 * in the folder `dir`: a process killed outright (`kill -9`) in the middle of a checkpoint write
 * leaves one as large as the checkpoint. Those of live processes stay, and so does every one
 * where this system cannot tell (no `/proc`). Returns the names removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return removed;
  }
  if (!procReadable()) return removed;
  for (const entry of entries) {
    const pid = Number(RUN_TEMP_FILE.exec(entry.name)?.[1] ?? 0);
    if (!entry.isFile || pid <= 0 || pid === Deno.pid || processAlive(pid)) continue;
    try {
      Deno.removeSync(join(dir, entry.name));
      removed.push(entry.name);
    } catch {
      // Gone already, or not ours to remove: it stays.
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    return Deno.statSync(`/proc/${pid}`).isDirectory;
  } catch {
    return false;
  }
}

/** Whether processes can be looked up in `/proc` here (Linux), which `processAlive` reads. */
function procReadable(): boolean {
  try {
    return Deno.statSync(`/proc/${Deno.pid}`).isDirectory;
  } catch {
    return false;
  }
}

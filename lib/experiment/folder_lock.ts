/**
 * One benchmark or ablation per output folder: two of them on one folder would train the same
 * runs twice into the same work folders. The lock is `lockRunFolder`'s `.lock` file.
 *
 * @module
 */
import { lockRunFolder } from "../train/run_lock.ts";
import { MadError } from "../errors.ts";

/**
 * Claims `out` (which must exist) for this process, as `what` ("benchmark", "ablation") in the
 * refusal: `OUT: in use by another benchmark (pid 1234)`. Returns the function that releases it.
 */
export async function lockOutputFolder(out: string, what: string): Promise<() => Promise<void>> {
  try {
    return await lockRunFolder(out);
  } catch (e) {
    if (e instanceof MadError) {
      throw new MadError(e.message.replace("another training run", `another ${what}`), e.exitCode);
    }
    throw e;
  }
}

/**
 * Turning a tfjs backend's crash (wasm out of memory, an emscripten `Aborted()`, an allocation
 * the JS engine refuses) into a one-line {@linkcode MadError} that names the dataset and what to
 * change, instead of a bare "memory access out of bounds". It sits beside the model because the
 * advice names the model's scoring memory budget (`table_batch.ts`).
 *
 * @module
 */
import { MadError } from "../errors.ts";
import { TABLE_BATCH_MB_ENV, tableBatchMegabytes } from "./table_batch.ts";

/** Whether `e` is the backend failing rather than a problem with the data or the code. */
export function isBackendFailure(e: unknown): boolean {
  if (e instanceof MadError) return false;
  if (e instanceof WebAssembly.RuntimeError) return true;
  const message = e instanceof Error ? e.message : String(e);
  return /Aborted\(|out of memory|memory access out of bounds|Cannot enlarge memory|Array buffer allocation failed|Invalid typed array length|OOM/i
    .test(message);
}

/**
 * An error from another thread's message (a gradient or scoring worker): a plain Error when it
 * tells of a backend failure, so {@linkcode backendFailure} still recognises it (a MadError
 * would pass as it is), else a MadError.
 */
export function errorFromMessage(message: string): Error {
  return isBackendFailure(new Error(message)) ? new Error(message) : new MadError(message);
}

/** Which settings bound the memory of what failed: a table's, images' or both. */
export type FailedData = "table" | "images" | "any";

/**
 * `e` as a one-line MadError when it is a backend failure (see {@linkcode isBackendFailure}),
 * naming `what` failed (e.g. `scoring table 12_fault (1307 rows x 27 features)`) and the settings
 * that bound memory for that `data`; any other error is returned as it is.
 */
export function backendFailure(e: unknown, what: string, data: FailedData = "table"): unknown {
  if (!isBackendFailure(e)) return e;
  const message = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  let budget: string;
  try {
    budget = `${tableBatchMegabytes()} MB`;
  } catch {
    budget = "invalid";
  }
  const table = `${TABLE_BATCH_MB_ENV} (now ${budget})`;
  // A training step holds the config's batch of images; scoring passes shrink with the image's
  // token grid (`evidenceBatch`), so past that only the image size bounds them.
  const images = "the training batch size (--batch-size) or the model's imageSize";
  const lower = data === "table"
    ? table
    : data === "images"
    ? images
    : `${table} for tables or ${images} for images`;
  return new MadError(
    `${what}: the tfjs backend failed (${message}), most likely out of memory; lower ${lower}, ` +
      `or the model's width or layers, or try --backend cpu`,
  );
}

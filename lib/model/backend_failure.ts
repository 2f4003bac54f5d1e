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
 * `e` as a one-line MadError when it is a backend failure (see {@linkcode isBackendFailure}),
 * naming `what` failed (e.g. `scoring table 12_fault (1307 rows x 27 features)`) and the settings
 * that bound memory; any other error is returned as it is.
 */
export function backendFailure(e: unknown, what: string): unknown {
  if (!isBackendFailure(e)) return e;
  const message = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  let budget: string;
  try {
    budget = `${tableBatchMegabytes()} MB`;
  } catch {
    budget = "invalid";
  }
  return new MadError(
    `${what}: the tfjs backend failed (${message}), most likely out of memory; lower ` +
      `${TABLE_BATCH_MB_ENV} (now ${budget}), or the model's width or layers, or try --backend cpu`,
  );
}

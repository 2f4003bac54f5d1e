/**
 * Which datasets the notebooks run on, passed from `deno task notebooks --images/--table` (or a
 * user's own shell before JupyterLab starts) to every notebook's kernel through two environment
 * variables, and the working folder that keeps each data set's runs apart. Kept free of the
 * training code, so that exporting notebooks does not load it.
 *
 * @module
 */
import { delimiter, join } from "node:path";
import type { ExperimentData } from "../experiment/setup.ts";
import { absoluteData, dataSetId, namesData } from "../experiment/data_set.ts";

/** Image category folders for the notebooks, joined by the path-list delimiter (`:` here). */
export const IMAGES_ENV = "MADFORMER_IMAGES";
/** Tables for the notebooks, joined by the path-list delimiter (`:` here). */
export const TABLES_ENV = "MADFORMER_TABLES";

/**
 * A file the notebooks append their progress lines to (an epoch, a finished ablation run), set by
 * `deno task notebooks`, which prints them while the notebook runs: nbconvert shows a cell's
 * output only when the whole notebook is done.
 */
export const PROGRESS_ENV = "MADFORMER_PROGRESS";

/**
 * Prints a progress line in the notebook, and appends it to the {@linkcode PROGRESS_ENV} file
 * when one is set (a headless run), so that the terminal sees it too.
 */
export function progress(line: string): void {
  console.log(line);
  const file = Deno.env.get(PROGRESS_ENV);
  if (!file) return;
  try {
    Deno.writeTextFileSync(file, line + "\n", { append: true });
  } catch {
    // The runner's terminal misses a line; the notebook still has it.
  }
}

/**
 * A file the notebooks' display helpers append one line to per display they send, set by `deno
 * task notebooks`: the Deno kernel now and then loses an iopub message under load, and the
 * runner, comparing these lines with the displays the executed notebook holds, can tell that a
 * report came out with a table or figure missing.
 */
export const DISPLAYS_ENV = "MADFORMER_DISPLAYS";

/** Notes one display sent, in the {@linkcode DISPLAYS_ENV} file when one is set. */
export function recordDisplay(): void {
  const file = Deno.env.get(DISPLAYS_ENV);
  if (!file) return;
  try {
    Deno.writeTextFileSync(file, "display\n", { append: true });
  } catch {
    // The runner cannot check this display; the notebook still has it.
  }
}

/** The environment naming `data` for a notebook kernel, its paths made absolute. */
export function dataEnv(data: ExperimentData): Record<string, string> {
  const env: Record<string, string> = {};
  const { imageDirs, tablePaths } = absoluteData(data);
  if (imageDirs.length > 0) env[IMAGES_ENV] = imageDirs.join(delimiter);
  if (tablePaths.length > 0) env[TABLES_ENV] = tablePaths.join(delimiter);
  return env;
}

/**
 * The datasets the environment names (see {@linkcode dataEnv}), or undefined when it names none:
 * the notebooks then run on their default data.
 */
export function dataFromEnv(
  get: (name: string) => string | undefined = (name) => Deno.env.get(name),
): ExperimentData | undefined {
  const list = (name: string) => (get(name) ?? "").split(delimiter).filter((p) => p !== "");
  const data = { imageDirs: list(IMAGES_ENV), tablePaths: list(TABLES_ENV) };
  return namesData(data) ? data : undefined;
}

/**
 * A notebook setup's working folder under `out`: `tiny` or `full`, and for a user's own data
 * `tiny-<id>` or `full-<id>`, the id taken from the data's paths, so that the checkpoint and
 * ablation runs of one data set are never read back for another.
 */
export function notebookWorkFolder(out: string, full: boolean, data?: ExperimentData): string {
  const name = full ? "full" : "tiny";
  if (!data) return join(out, name);
  return join(out, `${name}-${dataSetId(data)}`);
}

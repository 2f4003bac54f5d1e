/**
 * Which datasets the notebooks run on, passed from `deno task notebooks --images/--table` (or a
 * user's own shell before JupyterLab starts) to every notebook's kernel through two environment
 * variables, and the working folder that keeps each data set's runs apart. Kept free of the
 * training code, so that exporting notebooks does not load it.
 *
 * @module
 */
import { delimiter, isAbsolute, join, resolve, sep } from "node:path";
import type { ExperimentData } from "../experiment/setup.ts";
import { absoluteData, dataSetId, namesData } from "../experiment/data_set.ts";
import type { DatasetRecord } from "../train/datasets.ts";
import { MadError } from "../errors.ts";
import { isFile, pathExists, PROJECT_ROOT, projectPath } from "../util/files.ts";

/**
 * The project's folder (where `deno task` runs every task, and what the paths a checkpoint
 * records are relative to). The notebooks' kernel runs in `notebooks/`, so a relative path is
 * read from here rather than from the kernel's working directory.
 */
export { PROJECT_ROOT };

/** A path as the notebooks print it: from the project's folder when inside it. */
export { projectPath };

/** The checkpoint `04_evaluation` evaluates instead of the one `02_training` trained. */
export const CHECKPOINT_ENV = "MADFORMER_CHECKPOINT";

/** The folder `03_ablation` keeps its runs in, instead of the one its mode picks. */
export const ABLATION_OUT_ENV = "MADFORMER_ABLATION_OUT";

/**
 * `path` made absolute for a notebook: absolute paths as given; a relative one read from the
 * project's folder (`root`), as the tasks and the paths checkpoints record are; only when it
 * exists nowhere there but does from the kernel's folder (`here`, a path typed relative to
 * `notebooks/`, or recorded by a notebook) from there.
 */
export function fromProject(
  path: string,
  options: { root?: string; here?: string } = {},
): string {
  if (isAbsolute(path)) return path;
  const root = resolve(options.root ?? PROJECT_ROOT, path);
  if (pathExists(root)) return root;
  const here = resolve(options.here ?? Deno.cwd(), path);
  return pathExists(here) ? here : root;
}

/**
 * The checkpoint {@linkcode CHECKPOINT_ENV} names, made absolute by {@linkcode fromProject}, or
 * undefined when none is named. A named checkpoint that is not there is a one-line MadError
 * naming it: evaluating another model under its name would be a wrong report.
 */
export function namedCheckpoint(
  get: (name: string) => string | undefined = (name) => Deno.env.get(name),
  options: { root?: string; here?: string } = {},
): string | undefined {
  const given = get(CHECKPOINT_ENV);
  if (!given) return undefined;
  const path = fromProject(given, options);
  if (!isFile(path)) {
    throw new MadError(
      `${CHECKPOINT_ENV}=${given}: no checkpoint file at ${path}; name an existing ` +
        `.safetensors file, or unset ${CHECKPOINT_ENV} to evaluate the one 02_training trains`,
    );
  }
  return path;
}

/**
 * The datasets a checkpoint records, their relative paths made absolute by
 * {@linkcode fromProject}: `deno task train` records them relative to the project's folder,
 * and a notebook's kernel runs in `notebooks/`.
 */
export function rootedRecords<T extends Pick<DatasetRecord, "source">>(
  records: T[],
  options: { root?: string; here?: string } = {},
): T[] {
  return records.map((r) => {
    const source = fromProject(r.source, options);
    // A source that is no path found anywhere stays as recorded, for the error to name.
    return pathExists(source) ? { ...r, source } : r;
  });
}

/**
 * The folder `03_ablation` keeps its runs in: {@linkcode ABLATION_OUT_ENV} when set; in FULL
 * mode on the default data `results/ablation`, which `deno task ablate --full` writes, so its
 * finished runs are reused; otherwise (TINY, or a user's own data) the setup's working folder.
 */
export function ablationFolder(
  full: boolean,
  ownData: boolean,
  work: string,
  get: (name: string) => string | undefined = (name) => Deno.env.get(name),
  options: { root?: string; here?: string } = {},
): string {
  const given = get(ABLATION_OUT_ENV);
  if (given) return fromProject(given, options);
  return full && !ownData
    ? join(options.root ?? PROJECT_ROOT, "results", "ablation")
    : join(work, "03_ablation");
}

/** Image category folders for the notebooks, joined by the path-list delimiter (`:` here) or a JSON array. */
export const IMAGES_ENV = "MADFORMER_IMAGES";
/** Tables for the notebooks, joined by the path-list delimiter (`:` here) or a JSON array. */
export const TABLES_ENV = "MADFORMER_TABLES";

/**
 * A file the notebooks append their progress lines to (an epoch, a finished ablation run), set by
 * `deno task notebooks`, which prints them while the notebook runs: nbconvert shows a cell's
 * output only when the whole notebook is done.
 */
export const PROGRESS_ENV = "MADFORMER_PROGRESS";

/**
 * Prints a progress line in the notebook (paths inside the project shown from its folder), and
 * appends it to the {@linkcode PROGRESS_ENV} file when one is set (a headless run), so that the
 * terminal sees it too.
 */
export function progress(line: string): void {
  line = fromProjectFolder(line);
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
 * A warning (a data file's duplicate rows, say) on stderr, where a notebook shows warnings, with
 * paths inside the project from its folder, as {@linkcode progress} gives them.
 */
export function warning(line: string): void {
  console.error(fromProjectFolder(line));
}

/** Paths inside the project from its folder: a report does not carry the machine's checkout. */
function fromProjectFolder(line: string): string {
  return line.replaceAll(PROJECT_ROOT + sep, "");
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
  if (imageDirs.length > 0) env[IMAGES_ENV] = pathList(imageDirs);
  if (tablePaths.length > 0) env[TABLES_ENV] = pathList(tablePaths);
  return env;
}

/**
 * The datasets the environment names (see {@linkcode dataEnv}), or undefined when it names none:
 * the notebooks then run on their default data.
 */
export function dataFromEnv(
  get: (name: string) => string | undefined = (name) => Deno.env.get(name),
): ExperimentData | undefined {
  // Relative paths (typed before starting JupyterLab) are read from the project's folder.
  const list = (name: string) => readPathList(name, get(name) ?? "").map((p) => fromProject(p));
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

/**
 * Paths as one environment value: joined by the path-list delimiter, as a user types them, or as
 * a JSON array when a path holds the delimiter itself (a folder named `run:2`), which joining
 * would cut in two.
 */
export function pathList(paths: string[]): string {
  return paths.some((p) => p.includes(delimiter)) ? JSON.stringify(paths) : paths.join(delimiter);
}

/**
 * The paths of environment value `value` of `name` ({@linkcode pathList}'s two forms): a JSON
 * array of strings, else a delimited list (a typed path may start with `[` too).
 */
function readPathList(name: string, value: string): string[] {
  if (value.trimStart().startsWith("[")) {
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(value);
    } catch {
      // Not JSON: a typed path such as "[2024] data/t.csv".
    }
    if (parsed !== undefined) {
      if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) {
        throw new MadError(`${name}: a JSON value must be an array of path strings`);
      }
      return parsed.filter((p) => p !== "");
    }
  }
  return value.split(delimiter).filter((p) => p !== "");
}

/**
 * The opening of every notebook in `notebooks/`, in one call: the TINY or FULL experiment, an
 * image cache, plotly.js sent to the front end and a line saying what runs. Kept apart from
 * `notebook/helpers.ts` so that exporting notebooks (`deno task notebooks`) does not load the
 * training code.
 *
 * @module
 */
import { join } from "node:path";
import { type Experiment, experiment } from "../experiment/setup.ts";
import { ImageCache } from "../data/image_cache.ts";
import { html, loadPlotly, show } from "./helpers.ts";
import { mvtecAttributionHtml } from "../report/attribution.ts";
import {
  CHECKPOINT_ENV,
  dataFromEnv,
  fromProject,
  notebookWorkFolder,
  PROJECT_ROOT,
  projectPath,
} from "./data.ts";

/** What a notebook works with after {@linkcode notebookSetup}. */
export interface NotebookSetup {
  /** The config and the data folders (synthetic ones written on the spot for TINY). */
  setup: Experiment;
  /** True when `MADFORMER_IMAGES` or `MADFORMER_TABLES` name the data (the user's own). */
  ownData: boolean;
  /** Decoded images: on disk under `data/.cache/images` for FULL, in memory for TINY. */
  cache: ImageCache;
  /** The folder of that on-disk cache (absolute), undefined for TINY's memory-only one. */
  cacheDir?: string;
  /**
   * This setup's working folder for data and runs: `MADFORMER_NOTEBOOK_OUT/{tiny,full}`, with a
   * suffix naming the data set when `MADFORMER_IMAGES` or `MADFORMER_TABLES` give one.
   */
  work: string;
}

/**
 * Prepares a notebook: FULL (`true`) is the default model, TINY the small one. They run on the
 * image folders and tables that `MADFORMER_IMAGES` and `MADFORMER_TABLES` name (path lists, as
 * `deno task notebooks --images/--table` sets them), else FULL on `data/` and TINY on synthetic
 * data written under the working folder. Relative paths in these variables are read from the
 * project's folder (the kernel runs in `notebooks/`); `MADFORMER_NOTEBOOK_OUT` moves the working
 * folder (default `results/notebooks`).
 * Needs the Deno Jupyter kernel (plotly.js is displayed).
 */
export async function notebookSetup(full: boolean): Promise<NotebookSetup> {
  const given = Deno.env.get("MADFORMER_NOTEBOOK_OUT");
  const out = given ? fromProject(given) : join(PROJECT_ROOT, "results", "notebooks");
  const data = dataFromEnv();
  const work = notebookWorkFolder(out, full, data);
  // Absolute, as the kernel runs in notebooks/; shown and recorded from the project's folder.
  const setup = await experiment({
    full,
    dataDir: join(PROJECT_ROOT, "data"),
    workDir: work,
    data,
  });
  const cacheDir = full ? join(PROJECT_ROOT, "data", ".cache", "images") : undefined;
  const cache = new ImageCache(cacheDir);
  await loadPlotly();
  // Displayed, not logged: the kernel sends a display before the cell ends, while a console line
  // now and then missed the rendered report (tests/notebooks_test.ts reads it there).
  // A checkpoint given to 04 is evaluated as it was trained, whatever TINY or FULL says.
  const named = Deno.env.get(CHECKPOINT_ENV);
  const checkpoint = named ? fromProject(named) : undefined;
  await show({
    "text/plain": `${full ? "FULL" : "TINY"}: images ${shown(setup.imageDirs)}; ` +
      `tables ${shown(setup.tablePaths)}` +
      (checkpoint ? `; 04_evaluation evaluates the checkpoint ${projectPath(checkpoint)}` : ""),
  });
  // MVTec AD's licence asks for credit wherever its images, or results on them, are shown.
  const credit = mvtecAttributionHtml(setup.imageDirs);
  if (credit) await show(html(credit));
  return { setup, cache, cacheDir, work, ownData: data !== undefined };
}

/** Paths as a notebook shows them: from the project's folder when inside it. */
function shown(paths: string[]): string {
  return paths.map((p) => projectPath(p)).join(", ") || "none";
}

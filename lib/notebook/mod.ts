/**
 * What the notebooks in `notebooks/` share, above the reports they show: their opening
 * (`setup.ts`: the TINY or FULL experiment, an image cache, plotly.js sent to the front end),
 * display helpers (`helpers.ts`), the data and checkpoint a run gives them (`data.ts`, read from
 * the environment `deno task notebooks` sets, with paths from the project root), and their
 * headless run and HTML export (`export.ts`). The notebooks import these files one by one, so
 * that exporting does not load the training code.
 *
 * @module
 */

export { notebookSetup } from "./setup.ts";
export { html, png, rowsHtml, show, showFigure, showSections } from "./helpers.ts";
export { ablationFolder, progress } from "./data.ts";
export { runNotebooks } from "./export.ts";

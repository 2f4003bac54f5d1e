/**
 * Display helpers for the notebooks (Deno Jupyter kernel): plotly.js delivered in small pieces,
 * PNG images, HTML tables and whole report sections, plus reading a run's `metrics.jsonl`.
 *
 * Why the pieces: the Deno kernel loses (or garbles) iopub messages of a few megabytes and those
 * sent in quick succession, and plotly.js is 2.6 MB even packed. `loadPlotly()` therefore sends
 * it as ~200 kB parts with a pause after each and puts them together in the browser; the
 * figures from `plotlyNotebook` then only carry their data. The parts sit in one cell's output,
 * so an exported notebook holds one copy of plotly.js.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { PlotlyFigure } from "../report/figures.ts";
import { escapeHtml, type ReportSection, scriptJson } from "../report/html.ts";
import { type JupyterDisplayable, plotlyNotebook } from "../report/notebook.ts";
import {
  packedPlotlyBundle,
  PLOTLY_LOADER_MARKER,
  PLOTLY_PROMISE,
  plotlyUnpackScript,
} from "../report/plotly_bundle.ts";
import type { EpochRow } from "../train/log.ts";
import { recordDisplay } from "./data.ts";
import { MadError } from "../errors.ts";

/** A Jupyter MIME bundle such as `{"text/html": "..."}`. */
export type MimeBundle = Record<string, string>;

const DISPLAY = Symbol.for("Jupyter.display");

export { PLOTLY_LOADER_MARKER };

/**
 * CSS that hides output rows holding nothing but a script (the plotly.js parts): JupyterLab's
 * and nbconvert's markup, a `.jp-OutputArea-child` per output.
 */
export const HIDE_SCRIPT_ONLY_OUTPUTS = ".jp-OutputArea-child:has(> .jp-RenderedHTML > " +
  "script:only-child) { display: none; }";

/** Global the parts are collected in. */
const PARTS = "__madformerPlotlyParts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wraps a MIME bundle so a cell's last expression displays it. */
export function displayable(bundle: MimeBundle): JupyterDisplayable {
  return { [DISPLAY]: () => bundle };
}

/** A PNG image for display. */
export function png(bytes: Uint8Array): JupyterDisplayable {
  return displayable({ "image/png": Buffer.from(bytes).toString("base64") });
}

/** Raw, trusted HTML for display. */
export function html(markup: string): JupyterDisplayable {
  return displayable({ "text/html": markup });
}

/** An HTML table of rows, for `show(html(...))` ({@linkcode htmlTable}). */
export { htmlTable as rowsHtml } from "../report/table.ts";

function jupyter(): typeof Deno.jupyter {
  const api = (Deno as { jupyter?: typeof Deno.jupyter }).jupyter;
  if (!api) throw new MadError("notebook display helpers need the Deno Jupyter kernel");
  return api;
}

/**
 * Displays now (not only as a cell's last value), then pauses in proportion to the size so the
 * kernel gets the message out before the next one.
 */
export async function show(value: JupyterDisplayable | MimeBundle): Promise<void> {
  const bundle = typeof (value as JupyterDisplayable)[DISPLAY] === "function"
    ? await (value as JupyterDisplayable)[DISPLAY]()
    : value as MimeBundle;
  await jupyter().display(bundle, { raw: true });
  recordDisplay();
  const bytes = Object.values(bundle).reduce((n, v) => n + String(v).length, 0);
  await sleep(10 + bytes / 10_000);
}

/** Displays a plotly figure now (after {@linkcode loadPlotly}). */
export function showFigure(figure: PlotlyFigure): Promise<void> {
  return show(plotlyNotebook(figure));
}

/**
 * Sends plotly.js to the front end in parts, before the first figure. Every call sends it again:
 * the setup cell that calls it may run again in the same kernel (FULL flipped, Run All twice),
 * and its new output replaces the old one, so a notebook saved after that holds plotly.js only
 * if this cell's output carries it. (A page already holding plotly.js keeps its copy; the new
 * parts are dropped.) Outside a kernel it throws a one-line MadError.
 */
export async function loadPlotly(options: { partChars?: number } = {}): Promise<void> {
  jupyter();
  // Spend plotlyNotebook's "first figure carries the bundle" on a figure nobody sees, so later
  // figures stay small.
  plotlyNotebook({ data: [], layout: {} })[DISPLAY]();
  for (const bundle of plotlyLoaderBundles(options)) await show(bundle);
  // A moment for the kernel to drain its queue before the next cell's messages.
  await sleep(250);
}

/**
 * The displays {@linkcode loadPlotly} sends, each time it is called: plotly.js in parts of
 * `partChars` characters, then the loader that puts them together.
 */
export function plotlyLoaderBundles(options: { partChars?: number } = {}): MimeBundle[] {
  const bundles: MimeBundle[] = [];
  const bundle = packedPlotlyBundle();
  const size = options.partChars ?? 200_000;
  const count = Math.ceil(bundle.length / size);
  for (let i = 0; i < count; i++) {
    const part = scriptJson(bundle.slice(i * size, (i + 1) * size));
    bundles.push({
      "text/html": `<script>(window.${PARTS} = window.${PARTS} || [])[${i}] = ${part};</script>`,
    });
  }
  bundles.push({
    // The style hides the outputs above, each only a part's script, which would otherwise leave
    // a blank band (about 150 px) in JupyterLab and in any HTML export.
    "text/html": `<style>${HIDE_SCRIPT_ONLY_OUTPUTS}</style>` +
      `<script id="${PLOTLY_LOADER_MARKER}">(function () {
  if (window.${PLOTLY_PROMISE}) {
    delete window.${PARTS};
    return;
  }
  var parts = window.${PARTS} || [];
  for (var i = 0; i < ${count}; i++) {
    if (typeof parts[i] !== "string") throw new Error("plotly.js part " + i + " of ${count} is missing");
  }
  var packed = parts.join("");
  delete window.${PARTS};
  ${plotlyUnpackScript("packed")}
})();</script><p style="color:#888">plotly.js ${count} parts loaded</p>`,
  });
  return bundles;
}

/**
 * Displays report sections (as `htmlReport` takes them) one after another: heading, HTML,
 * interactive figure, PNG, caption.
 */
export async function showSections(sections: ReportSection[]): Promise<void> {
  for (const s of sections) {
    await show({ "text/html": `<h3>${escapeHtml(s.heading)}</h3>${s.html ?? ""}` });
    if (s.figure) await showFigure(s.figure);
    if (s.imagePng) await show(png(s.imagePng));
    if (s.caption) await show({ "text/html": `<p><em>${escapeHtml(s.caption)}</em></p>` });
  }
}

/** Reads a run's `metrics.jsonl` (one epoch row per line); a missing file gives no rows. */
export async function readEpochRows(path: string): Promise<EpochRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => line.trim()).map((line, i) => {
    try {
      return JSON.parse(line) as EpochRow;
    } catch {
      throw new MadError(`${path}: line ${i + 1} is not valid JSON`);
    }
  });
}

/** Validation AUROC per dataset over epochs, as loss-curve rows. */
export function validationRows(rows: EpochRow[]): Array<Record<string, number>> {
  return rows.map((r) => {
    const row: Record<string, number> = { epoch: r.epoch };
    for (const [key, v] of Object.entries(r.val)) row[key] = v.auroc;
    return row;
  });
}

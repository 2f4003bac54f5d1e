/**
 * Interactive plotly figures in Deno's Jupyter kernel (and in notebooks exported to HTML).
 *
 * @module
 */

import type { PlotlyFigure } from "./figures.ts";
import { drawFigureScript, plotlyLoaderHtml } from "./html.ts";

let bundleShown = false;

/** An object Deno's Jupyter kernel displays through `Symbol.for("Jupyter.display")`. */
export interface JupyterDisplayable {
  [key: symbol]: () => Record<string, string>;
}

/**
 * Wraps a figure for display in a notebook cell. The first figure displayed in a process carries
 * the plotly.js bundle inline; later ones reuse `window.Plotly`, so a notebook holds one copy.
 */
export function plotlyNotebook(figure: PlotlyFigure): JupyterDisplayable {
  return {
    [Symbol.for("Jupyter.display")]() {
      const id = `madformer-plot-${crypto.randomUUID()}`;
      const bundle = bundleShown ? "" : `${plotlyLoaderHtml()}\n`;
      bundleShown = true;
      return {
        "text/html": `${bundle}<div id="${id}" style="width:100%;min-height:420px"></div>\n` +
          `<script>${drawFigureScript(figure, id)}</script>`,
      };
    },
  };
}

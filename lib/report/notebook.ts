/**
 * Interactive plotly figures in Deno's Jupyter kernel (and in notebooks exported to HTML).
 *
 * @module
 */

import type { PlotlyFigure } from "./figures.ts";
import { scriptJson } from "./html.ts";
import { plotlyBundle } from "./plotly_bundle.ts";

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
      const bundle = bundleShown ? "" : `<script>${plotlyBundle()}</script>\n`;
      bundleShown = true;
      // The retry covers front ends that run output scripts out of order.
      const draw = `(function draw(tries) {
  if (window.Plotly) {
    window.Plotly.newPlot(${scriptJson(id)}, ${scriptJson(figure.data)}, ${
        scriptJson(figure.layout)
      }, {responsive: true, displaylogo: false});
  } else if (tries < 100) {
    setTimeout(function () { draw(tries + 1); }, 100);
  }
})(0);`;
      return {
        "text/html": `${bundle}<div id="${id}" style="width:100%;min-height:420px"></div>\n` +
          `<script>${draw}</script>`,
      };
    },
  };
}

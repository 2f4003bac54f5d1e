/**
 * Self-contained offline HTML reports: headings, text, plotly figures and inline PNG images in
 * one file, with plotly.js embedded once.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { PlotlyFigure } from "./figures.ts";
import {
  packedPlotlyBundle,
  PLOTLY_LOADER_MARKER,
  PLOTLY_PROMISE,
  plotlyUnpackScript,
} from "./plotly_bundle.ts";

/** One part of a report; every field but `heading` is optional and shown in this order. */
export interface ReportSection {
  heading: string;
  /** Raw, trusted HTML inserted as it is (escape any user text with `escapeHtml`). */
  html?: string;
  figure?: PlotlyFigure;
  imagePng?: Uint8Array;
  caption?: string;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** JSON that is safe inside an inline script element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * JSON indented by two spaces, but with arrays of numbers on one line: a config's 45 pose
 * changes or stem sizes read as a list, not a column.
 */
export function readableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]/g,
    (_, items: string) => `[${items.split(/,\s*/).join(", ")}]`,
  );
}

/** A PNG as a `data:` URI. */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}

/**
 * Browser code that draws `figure` into the element `id` once the page has unpacked plotly.js
 * ({@linkcode plotlyLoaderHtml}), or says in that element why it cannot. It waits up to 10 s for
 * the loader to have run: notebook front ends may run output scripts out of order.
 */
export function drawFigureScript(figure: PlotlyFigure, id: string): string {
  const target = scriptJson(id);
  return `(function draw(tries) {
  var plotly = window.${PLOTLY_PROMISE};
  if (!plotly) {
    if (tries < 100) setTimeout(function () { draw(tries + 1); }, 100);
    return;
  }
  plotly.then(function (Plotly) {
    Plotly.newPlot(${target}, ${scriptJson(figure.data)}, ${scriptJson(figure.layout)}, ` +
    `{responsive: true, displaylogo: false});
  }, function (error) {
    var element = document.getElementById(${target});
    if (element) element.textContent = "plot not drawn: " + error.message;
  });
})(0);`;
}

/** The script element that carries plotly.js packed and unpacks it (one per page). */
export function plotlyLoaderHtml(): string {
  return `<script id="${PLOTLY_LOADER_MARKER}">` +
    `${plotlyUnpackScript(JSON.stringify(packedPlotlyBundle()))}</script>`;
}

/** The div and drawing script of one figure. */
export function figureHtml(figure: PlotlyFigure, id: string): string {
  return `<div id="${escapeHtml(id)}" class="figure"></div>\n` +
    `<script>${drawFigureScript(figure, id)}</script>`;
}

// Names are the user's (files, folders): a long one wraps in the first column, and a table wider
// than the page scrolls rather than pushing its numbers off-screen.
const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2.5rem; }
section { margin-bottom: 2rem; }
.figure { width: 100%; min-height: 420px; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
.caption { color: #666; font-size: .9rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; display: block;
  max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; overflow-wrap: anywhere; min-width: 8rem;
  max-width: 22rem; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; }
@media print { table { display: table; font-size: .7rem; } body { max-width: none; } }
`.trim();

/**
 * A complete HTML page with no external resources. plotly.js is embedded once, packed, and only
 * when some section has a figure; each figure is drawn into its own div.
 */
export function htmlReport(
  options: { title: string; sections: ReportSection[] },
): string {
  const hasFigures = options.sections.some((s) => s.figure);
  const parts: string[] = [];
  options.sections.forEach((s, i) => {
    const body: string[] = [`<h2>${escapeHtml(s.heading)}</h2>`];
    if (s.html) body.push(s.html);
    if (s.figure) body.push(figureHtml(s.figure, `figure-${i + 1}`));
    if (s.imagePng) {
      body.push(
        `<img src="${pngDataUri(s.imagePng)}" alt="${escapeHtml(s.caption ?? s.heading)}">`,
      );
    }
    if (s.caption) body.push(`<p class="caption">${escapeHtml(s.caption)}</p>`);
    parts.push(`<section>\n${body.join("\n")}\n</section>`);
  });
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    hasFigures ? plotlyLoaderHtml() : "",
    "</head>",
    "<body>",
    `<h1>${escapeHtml(options.title)}</h1>`,
    ...parts,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

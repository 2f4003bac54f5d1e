/**
 * Locates and reads the installed plotly.js bundle so reports work offline, and packs it for
 * them: reports carry it gzip-compressed in base64 (2.6 MB instead of 10.1) and unpack it in the
 * browser, so a report that shows a few plots is no longer mostly plotly.js.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { MadError } from "../errors.ts";

const BUNDLE = join("node_modules", "plotly.js-dist", "plotly.js");

let cached: string | undefined;
let packed: string | undefined;

/** The `id` of the script element that unpacks plotly.js; a page that carries it once, has one copy. */
export const PLOTLY_LOADER_MARKER = "madformer-plotly-loader";

/** The page's global promise of plotly.js, set by {@linkcode plotlyUnpackScript}. */
export const PLOTLY_PROMISE = "__madformerPlotly";

/** Directories from `start` up to the filesystem root. */
function ancestors(start: string): string[] {
  const dirs: string[] = [];
  let dir = start;
  while (true) {
    dirs.push(dir);
    const up = dirname(dir);
    if (up === dir) return dirs;
    dir = up;
  }
}

/** Candidate bundle paths: node_modules above this module, then above the working directory. */
function candidates(): string[] {
  const paths: string[] = [];
  if (import.meta.url.startsWith("file:")) {
    const here = dirname(fileURLToPath(import.meta.url));
    paths.push(...ancestors(here).map((d) => join(d, BUNDLE)));
    try {
      paths.push(createRequire(import.meta.url).resolve("plotly.js-dist/plotly.js"));
    } catch {
      // Not resolvable this way; the directory walk may still find it.
    }
  }
  paths.push(...ancestors(Deno.cwd()).map((d) => join(d, BUNDLE)));
  return paths;
}

/**
 * The plotly.js bundle source, read once per process. Any `</script` inside is escaped so the
 * text can sit in an inline script element.
 */
export function plotlyBundle(): string {
  if (cached !== undefined) return cached;
  for (const path of candidates()) {
    try {
      cached = Deno.readTextFileSync(path).replace(/<\/script/gi, "<\\/script");
      return cached;
    } catch {
      // Try the next candidate.
    }
  }
  throw new MadError(
    "plotly.js bundle not found (node_modules/plotly.js-dist/plotly.js); run `deno install`",
  );
}

/** plotly.js gzip-compressed and in base64, made once per process (about a quarter its size). */
export function packedPlotlyBundle(): string {
  packed ??= Buffer.from(gzipSync(new TextEncoder().encode(plotlyBundle()), { level: 9 }))
    .toString("base64");
  return packed;
}

/**
 * Browser code that unpacks plotly.js from `packedExpression` (a JavaScript expression giving
 * {@linkcode packedPlotlyBundle}'s text) once per page, and leaves `window.Plotly` and
 * `window.__madformerPlotly`, a promise of it. Unpacking needs `DecompressionStream` (browsers of
 * 2023 and later); without it the promise fails with a message the figures show. An AMD `define`
 * (nbconvert pages load require.js when online) is hidden while plotly.js runs, so that it sets
 * `window.Plotly` instead of registering an anonymous module.
 */
export function plotlyUnpackScript(packedExpression: string): string {
  return `(function () {
  if (window.${PLOTLY_PROMISE}) return;
  window.${PLOTLY_PROMISE} = window.Plotly ? Promise.resolve(window.Plotly) : (function () {
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the plots (no DecompressionStream; use a browser of 2023 or later)"));
    }
    var text = atob(${packedExpression});
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (code) {
      var define = window.define;
      window.define = undefined;
      try { (0, eval)(code); } finally { window.define = define; }
      return window.Plotly;
    });
  })();
})();`;
}

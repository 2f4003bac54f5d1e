/**
 * Locates and reads the installed plotly.js bundle so reports work offline.
 *
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MadError } from "../errors.ts";

const BUNDLE = join("node_modules", "plotly.js-dist", "plotly.js");

let cached: string | undefined;

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

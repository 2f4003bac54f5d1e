/**
 * The layers of `lib/` run one way (issue 23): data -> model -> train -> experiment -> report ->
 * the applications (demo, bench, benchmark, the notebooks' `notebook/`, the scripts' `cli.ts`) ->
 * `scripts/` and `notebooks/`, with `backend/`, `metrics/`, `util/`, `errors.ts` and `rng.ts` as the base every
 * layer may use. Read from the source's own import lines: no file imports a file of a higher
 * layer, and no files import each other in a circle.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

/** Each package (a folder under lib/, or a file directly in it) and its layer, lowest first. */
const LAYERS: Record<string, number> = {
  "errors.ts": 0,
  "rng.ts": 0,
  "util": 0,
  "backend": 0,
  "metrics": 0,
  "data": 1,
  "model": 2,
  "train": 3,
  "experiment": 4,
  "report": 5,
  "demo.ts": 6,
  "bench": 6,
  "benchmark": 6,
  "cli.ts": 6,
  "notebook": 6,
};

/** Every `.ts` file below `dir`, as a path from the project root. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...sources(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/**
 * The relative specifiers a TypeScript source imports or re-exports (`import type` too, and
 * `import("./x.ts")` with a literal), comments left out. Workers started by URL are not imports.
 */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*["'](\.{1,2}\/[^"']+)["']/gm,
    /^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm,
    /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of code.matchAll(pattern)) found.push(m[1]);
  }
  return found;
}

/** The import graph of `lib/`: file -> the files it imports (paths from the project root). */
function libGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources("lib")) {
    const text = Deno.readTextFileSync(join(ROOT, file));
    graph.set(file, importSpecifiers(text).map((s) => normalize(join(dirname(file), s))));
  }
  return graph;
}

/** The package of a file of lib/: its folder right below lib/, or its own name. */
function packageOf(file: string): string {
  return relative("lib", file).split("/")[0];
}

/** Strongly connected components of more than one file (Tarjan), each sorted. */
export function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfImport = (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfImport) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

Deno.test("importSpecifiers reads imports, re-exports and type imports, not comments", () => {
  const source = [
    `/** e.g. import { x } from "./doc.ts"; */`,
    `import { a } from "./a.ts";`,
    `import type { B } from "../b.ts";`,
    `import {\n  c,\n  type D,\n} from "./c.ts";`,
    `export { e } from "./e.ts";`,
    `export * from "./f.ts";`,
    `import "./g.ts";`,
    `// import { h } from "./h.ts";`,
    `import { join } from "node:path";`,
    `const w = new Worker(new URL("./worker.ts", import.meta.url));`,
  ].join("\n");
  assert.deepEqual(importSpecifiers(source).sort(), [
    "../b.ts",
    "./a.ts",
    "./c.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
  ]);
});

Deno.test("circles finds files that import each other, and only those", () => {
  const graph = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a", "d"]],
    ["d", []],
  ]);
  assert.deepEqual(circles(graph), [["a", "b", "c"]]);
});

Deno.test("every package of lib/ has a layer", () => {
  const packages = new Set([...libGraph().keys()].map(packageOf));
  const unplaced = [...packages].filter((p) => !(p in LAYERS));
  assert.deepEqual(unplaced, [], "give each new package of lib/ its layer in LAYERS");
});

Deno.test("no file of lib/ imports a file of a higher layer", () => {
  const upward: string[] = [];
  for (const [file, targets] of libGraph()) {
    for (const target of targets) {
      if (!target.startsWith("lib/")) {
        upward.push(`${file} -> ${target} (outside lib/)`);
        continue;
      }
      const from = packageOf(file);
      const to = packageOf(target);
      if (LAYERS[to] > LAYERS[from]) upward.push(`${file} (${from}) -> ${target} (${to})`);
    }
  }
  assert.deepEqual(upward, []);
});

Deno.test("no files of lib/ import each other in a circle", () => {
  assert.deepEqual(circles(libGraph()).map((c) => c.join(", ")), []);
});

Deno.test("no two packages of lib/ import each other", () => {
  const edges = new Set<string>();
  for (const [file, targets] of libGraph()) {
    for (const target of targets) {
      const [a, b] = [packageOf(file), packageOf(target)];
      if (a !== b) edges.add(`${a} -> ${b}`);
    }
  }
  const both = [...edges].filter((e) => {
    const [a, b] = e.split(" -> ");
    return a < b && edges.has(`${b} -> ${a}`);
  });
  assert.deepEqual(both, []);
});

/**
 * What the loaders see in a data folder, as short lines for people: image counts per category
 * and split, table shapes and anomaly counts, and the 50%-normals split sizes.
 *
 * @module
 */
import { discoverImageCategories } from "./images.ts";
import { readOddsMat } from "./mat.ts";
import { splitTable } from "./split.ts";
import type { DataPaths } from "./sources.ts";

/** One line per image category and table found at `paths`. */
export async function datasetFigures(paths: DataPaths, seed = 0): Promise<string[]> {
  const lines: string[] = [];
  let good = 0;
  let bad = 0;
  for (const dir of paths.imagesDirs) {
    for (const c of await discoverImageCategories(dir)) {
      const g = c.test.filter((s) => s.label === 0).length;
      const b = c.test.filter((s) => s.label === 1).length;
      good += g;
      bad += b;
      lines.push(
        `${c.category}: ${c.train.length} train / ${c.test.length} test ` +
          `(${g} good, ${b} bad; ${c.layout} layout)`,
      );
    }
  }
  if (paths.imagesDirs.length > 0) lines.push(`images, all test: ${good} good, ${bad} bad`);
  try {
    await Deno.stat(paths.thyroidMat);
  } catch {
    return lines;
  }
  const table = readOddsMat(paths.thyroidMat);
  const anomalies = table.labels!.reduce((s, v) => s + v, 0);
  const split = splitTable(table.labels!, { protocol: "half-normals", seed, valShare: 0.1 });
  lines.push(
    `thyroid: ${table.n}x${table.d}, ${anomalies} anomalies; 50%-normals split (seed ${seed}): ` +
      `${split.train.length + split.val.length} train (${split.val.length} of them validation) / ` +
      `${split.test.length} test`,
  );
  return lines;
}

/**
 * Tables at scale (issue 24): a synthetic table of Gaussian features with a share of rows
 * shifted (the anomalies), written as a CSV of numeric features plus a `label` column, the
 * format `deno task train --table` and `deno task score --table` read.
 *
 * @module
 */
import { Rng } from "../rng.ts";

/** Shape of a synthetic scale table. */
export interface ScaleTableSpec {
  rows: number;
  features: number;
  /** Share of anomalous rows (label 1), 0.01 by default. */
  anomalyShare?: number;
  /** How far an anomalous row's shifted features move, in standard deviations (3). */
  shift?: number;
  seed?: number;
}

/**
 * Writes the table to `path` in blocks (a 1M x 6 table is about 60 MB of text): every feature
 * standard normal; an anomalous row has two random features shifted by `shift` (either sign).
 * Returns the number of anomalies written.
 */
export async function writeScaleTable(path: string, spec: ScaleTableSpec): Promise<number> {
  const { rows, features } = spec;
  const share = spec.anomalyShare ?? 0.01;
  const shift = spec.shift ?? 3;
  const rng = new Rng(spec.seed ?? 24);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let anomalies = 0;
  try {
    const header = [...Array(features).keys()].map((j) => `f${j}`).join(",") + ",label\n";
    await file.write(encoder.encode(header));
    const values = new Float64Array(features);
    let block: string[] = [];
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < features; j++) values[j] = rng.normal();
      const anomaly = rng.next() < share;
      if (anomaly) {
        anomalies++;
        for (let s = 0; s < Math.min(2, features); s++) {
          values[rng.int(features)] += rng.next() < 0.5 ? -shift : shift;
        }
      }
      block.push(Array.from(values, (v) => v.toFixed(4)).join(",") + (anomaly ? ",1" : ",0"));
      if (block.length === 8192 || i === rows - 1) {
        const bytes = encoder.encode(block.join("\n") + "\n");
        for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
        block = [];
      }
    }
  } finally {
    file.close();
  }
  return anomalies;
}

if (import.meta.main) {
  const [out, rows, features] = Deno.args;
  if (!out) {
    console.error("usage: deno run -A lib/bench/table_scale.ts OUT.csv [ROWS=100000] [FEATURES=6]");
    Deno.exit(2);
  }
  const n = await writeScaleTable(out, {
    rows: Number(rows ?? 100_000),
    features: Number(features ?? 6),
  });
  console.error(`wrote ${out}: ${rows ?? 100_000} rows, ${n} anomalies`);
}

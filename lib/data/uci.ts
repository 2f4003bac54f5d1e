/**
 * The UCI ann-thyroid files → the ODDS "thyroid" matrix, so users can rebuild the benchmark
 * from the original source.
 *
 * @module
 */
import pl from "nodejs-polars";
import { fileError, isNotFound } from "../errors.ts";
import type { Table } from "./types.ts";

/** 21 attributes plus the class. */
const UCI_FIELDS = 22;
/** 1-based UCI columns ODDS keeps: age, TSH, T3, TT4, T4U, FTI. */
const ODDS_COLUMNS = [1, 17, 18, 19, 20, 21];

/**
 * Reads a UCI ann-thyroid `.data` file (comma- or whitespace-separated, trailing separators
 * and blank lines allowed) and converts it as ODDS did: columns 1 and 17-21, each min-max
 * scaled over the file; class 1 (hyperfunction) is the anomaly (label 1), classes 2 and 3
 * are normal. Columns are named `f1..f6`.
 *
 * @throws {MadError} `PATH: problem` for a missing or empty file, a line with the wrong
 * number of values, a non-numeric value or a class other than 1, 2, 3.
 */
export function readUciThyroid(path: string): Table {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (isNotFound(e)) throw fileError(path, "file not found");
    throw fileError(path, `cannot read file: ${e instanceof Error ? e.message : e}`);
  }
  const columns: number[][] = Array.from({ length: UCI_FIELDS }, () => []);
  text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/).forEach((line, i) => {
    const fields = line.trim().replace(/^[,\s]+|[,\s]+$/g, "");
    if (fields === "") return;
    const parts = fields.split(/\s*,\s*|\s+/);
    if (parts.length !== UCI_FIELDS) {
      throw fileError(
        path,
        `line ${i + 1} has ${parts.length} values, expected ${UCI_FIELDS}: a .data file is ` +
          "read as UCI ann-thyroid (21 features and a class); save another table as a CSV with " +
          "a 'label' column",
      );
    }
    parts.forEach((p, j) => {
      const v = Number(p);
      if (p === "" || !Number.isFinite(v)) {
        throw fileError(path, `line ${i + 1}, attribute ${j + 1}: "${p}" is not a number`);
      }
      if (j === UCI_FIELDS - 1 && v !== 1 && v !== 2 && v !== 3) {
        throw fileError(path, `line ${i + 1}: class "${p}" is not 1, 2 or 3`);
      }
      columns[j].push(v);
    });
  });
  if (columns[0].length === 0) throw fileError(path, "file has no data rows");

  const raw = pl.DataFrame(
    Object.fromEntries(columns.map((c, j) => [`a${j + 1}`, pl.Series(`a${j + 1}`, c, pl.Float64)])),
  );
  const scaled = ODDS_COLUMNS.map((src, k) => {
    const c = pl.col(`a${src}`);
    const range = c.max().sub(c.min());
    // A constant column would divide by zero; it carries no information, so map it to 0.
    return pl.when(range.eq(0)).then(pl.lit(0)).otherwise(c.sub(c.min()).div(range))
      .alias(`f${k + 1}`);
  });
  const df = raw.select(
    ...scaled,
    pl.col(`a${UCI_FIELDS}`).eq(1).cast(pl.UInt8).alias("label"),
  );

  const n = df.height;
  const d = ODDS_COLUMNS.length;
  const values = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    const col = df.getColumn(`f${j + 1}`).toArray() as number[];
    for (let i = 0; i < n; i++) values[i * d + j] = col[i];
  }
  return {
    name: "thyroid",
    source: path,
    columns: ODDS_COLUMNS.map((_, k) => `f${k + 1}`),
    n,
    d,
    values,
    labels: Uint8Array.from(df.getColumn("label").toArray() as number[]),
  };
}

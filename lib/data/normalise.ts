/**
 * Per-feature standardisation, fitted on training rows only and stored as plain JSON in
 * checkpoints so scoring applies exactly the training transform.
 *
 * @module
 */
import pl from "nodejs-polars";
import { fileError } from "../errors.ts";
import type { Normalisation, Table } from "./types.ts";

/** Smallest standard deviation used, so constant features do not divide by zero. */
export const STD_FLOOR = 1e-6;

/**
 * Fits mean and (population) standard deviation of each feature over `rows` of `table`,
 * with the standard deviation floored at {@linkcode STD_FLOOR}.
 *
 * @throws {MadError} when `rows` is empty or holds an index outside the table.
 */
export function fitStandard(table: Table, rows: number[]): Normalisation {
  if (rows.length === 0) throw fileError(table.source, "cannot fit normalisation on zero rows");
  const { d } = table;
  const columns: Record<string, pl.Series> = {};
  for (let j = 0; j < d; j++) {
    const col = new Float64Array(rows.length);
    rows.forEach((r, k) => {
      if (!Number.isInteger(r) || r < 0 || r >= table.n) {
        throw fileError(table.source, `row index ${r} is out of range (table has ${table.n} rows)`);
      }
      col[k] = table.values[r * d + j];
    });
    columns[`c${j}`] = pl.Series(`c${j}`, col, pl.Float64);
  }
  const df = pl.DataFrame(columns);
  // Population (ddof 0) statistics, as scikit-learn's StandardScaler uses.
  const means = df.mean().row(0) as number[];
  const stds = df.std(0).row(0) as number[];
  const mean = means.map(Number);
  const std = stds.map((s) => Math.max(Number(s) || 0, STD_FLOOR));
  return { kind: "standard", mean, std };
}

/**
 * Returns a new Table with each feature standardised: `(x - mean) / std`.
 *
 * @throws {MadError} `SOURCE: problem` when the normalisation's column count differs from the
 * table's, or the normalisation is malformed.
 */
export function applyNormalisation(table: Table, norm: Normalisation): Table {
  checkNormalisation(norm, table.source);
  if (norm.mean.length !== table.d) {
    throw fileError(
      table.source,
      `normalisation has ${norm.mean.length} columns but the table has ${table.d}`,
    );
  }
  const { d } = table;
  const values = new Float64Array(table.values.length);
  for (let i = 0; i < values.length; i++) {
    const j = i % d;
    values[i] = (table.values[i] - norm.mean[j]) / norm.std[j];
  }
  return {
    ...table,
    columns: [...table.columns],
    values,
    labels: table.labels ? table.labels.slice() : null,
  };
}

/**
 * Checks that a value read back from JSON (e.g. a checkpoint) is a usable Normalisation.
 *
 * @throws {MadError} `SOURCE: problem` naming what is wrong.
 */
export function checkNormalisation(value: unknown, source: string): Normalisation {
  const bad = (problem: string) => fileError(source, `bad normalisation: ${problem}`);
  if (typeof value !== "object" || value === null) throw bad("not an object");
  const v = value as Partial<Normalisation>;
  if (v.kind !== "standard") throw bad(`unknown kind ${JSON.stringify(v.kind)}`);
  if (!Array.isArray(v.mean) || !Array.isArray(v.std)) throw bad("mean/std must be arrays");
  if (v.mean.length !== v.std.length) {
    throw bad(`${v.mean.length} means but ${v.std.length} standard deviations`);
  }
  if (!v.mean.every(Number.isFinite)) throw bad("a mean is not a finite number");
  if (!v.std.every((s) => Number.isFinite(s) && s > 0)) {
    throw bad("a standard deviation is not a positive number");
  }
  return v as Normalisation;
}

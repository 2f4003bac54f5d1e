/**
 * ADBench-style NumPy `.npz` tables: a ZIP archive holding `X.npy` (rows x features) and
 * `y.npy` (0 normal, 1 anomaly), read into a {@linkcode Table}.
 *
 * @module
 */
import { basename, extname } from "node:path";
import { fileError, isNotFound } from "../errors.ts";
import { type NpyArray, parseNpy } from "./npy.ts";
import { zipEntries, zipEntryData } from "./zip.ts";
import type { Table } from "./types.ts";

/**
 * The arrays of an `.npz` archive, by name without `.npy` (entries that are not `.npy` files
 * are skipped). With `only`, just those arrays are parsed: the others are neither read nor
 * checked, so an extra array of strings or another unsupported dtype is no error.
 *
 * @throws {MadError} `PATH: problem` when the file is missing, not a ZIP archive, or an array
 * parsed cannot be read (see {@linkcode parseNpy}).
 */
export function readNpz(path: string, only?: readonly string[]): Map<string, NpyArray> {
  return readNpzEntries(path, only).arrays;
}

/** {@linkcode readNpz}, with the names of every `.npy` entry, parsed or not. */
function readNpzEntries(
  path: string,
  only?: readonly string[],
): { arrays: Map<string, NpyArray>; names: string[] } {
  const bytes = readBytes(path);
  const arrays = new Map<string, NpyArray>();
  const names: string[] = [];
  for (const entry of zipEntries(path, bytes).values()) {
    if (!entry.name.endsWith(".npy")) continue;
    const name = entry.name.slice(0, -4);
    names.push(name);
    if (only && !only.includes(name)) continue;
    const data = zipEntryData(path, bytes, entry);
    arrays.set(name, parseNpy(path, entry.name, data));
  }
  return { arrays, names };
}

/**
 * Reads an `.npz` with `X` (n x d) and `y` (n, or n x 1, values 0/1) into a Table with columns
 * `f1..fd`, named after the file. Like the CSV reader, NaN and infinite features are refused.
 *
 * @throws {MadError} `PATH: problem` when the archive cannot be read, lacks `X.npy` or
 * `y.npy`, `X` is not a non-empty matrix, the shapes disagree, a feature is NaN or infinite, or
 * a label is not 0 or 1. With `labels` "ignore" (scoring), `y.npy` is neither needed nor read
 * and the table's labels are null. Other arrays in the archive are not read.
 */
export function readNpzTable(path: string, labels: "require" | "ignore" = "require"): Table {
  // Only the arrays needed: others (metadata, strings) are left unread.
  const { arrays, names } = readNpzEntries(path, labels === "require" ? ["X", "y"] : ["X"]);
  const found = names.length === 0 ? "none" : names.map((k) => `${k}.npy`).join(", ");
  const x = arrays.get("X");
  const y = arrays.get("y");
  if (!x) throw fileError(path, `no X.npy array in the archive (found: ${found})`);
  if (!y && labels === "require") {
    throw fileError(path, `no y.npy array in the archive (found: ${found})`);
  }
  if (x.shape.length !== 2) {
    throw fileError(path, `X has shape (${x.shape.join(", ")}), expected rows x features`);
  }
  const [n, d] = x.shape;
  if (n === 0 || d === 0) throw fileError(path, `X is empty (${n}x${d})`);
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i];
    if (!Number.isFinite(v)) {
      throw fileError(
        path,
        `X row ${Math.floor(i / d) + 1}, column f${(i % d) + 1}: ${v} is not allowed`,
      );
    }
  }
  const table: Table = {
    name: basename(path, extname(path)),
    source: path,
    columns: Array.from({ length: d }, (_, j) => `f${j + 1}`),
    n,
    d,
    values: x.data,
    labels: null,
  };
  if (labels === "ignore" || !y) return table;
  const yOk = (y.shape.length === 1 && y.shape[0] === n) ||
    (y.shape.length === 2 && y.shape[0] === n && y.shape[1] === 1);
  if (!yOk) {
    throw fileError(path, `shape mismatch: X is ${n}x${d} but y has shape (${y.shape.join(", ")})`);
  }
  const classes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i];
    if (v !== 0 && v !== 1) throw fileError(path, `y row ${i + 1} is ${v}, expected 0 or 1`);
    classes[i] = v;
  }
  return { ...table, labels: classes };
}

function readBytes(path: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (isNotFound(e)) throw fileError(path, "file not found");
    if (e instanceof Deno.errors.IsADirectory) throw fileError(path, "is a directory, not a file");
    throw fileError(path, `cannot read file: ${e instanceof Error ? e.message : e}`);
  }
}

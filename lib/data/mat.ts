/**
 * A reader for MATLAB level-5 MAT-files (as published by ODDS), enough for numeric matrices:
 * plain and zlib-compressed elements, little- and big-endian files, the small-data-element
 * form and every numeric storage type.
 *
 * @module
 */
import { inflateSync } from "node:zlib";
import { basename, extname } from "node:path";
import { fileError, isNotFound } from "../errors.ts";
import type { Table } from "./types.ts";

/** A numeric matrix from a MAT-file, data column-major as MATLAB stores it. */
export interface MatMatrix {
  name: string;
  /** Dimensions, e.g. `[rows, cols]`. */
  dims: number[];
  /** Real part, column-major, converted to doubles. */
  data: Float64Array;
  /** Whether the matrix is complex: its imaginary part is not read. */
  complex?: boolean;
}

const MI_INT8 = 1;
const MI_INT32 = 5;
const MI_UINT32 = 6;
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
/** mxSPARSE_CLASS: compressed-column sparse matrices (read as dense). */
const MX_SPARSE = 5;
/** The array-flags bit of a complex matrix (its imaginary part follows the real part). */
const COMPLEX_FLAG = 0x0800;

/** Bytes per value of each numeric data type, and how to read one. */
const NUMERIC: Record<number, [number, (v: DataView, o: number, le: boolean) => number]> = {
  1: [1, (v, o) => v.getInt8(o)],
  2: [1, (v, o) => v.getUint8(o)],
  3: [2, (v, o, le) => v.getInt16(o, le)],
  4: [2, (v, o, le) => v.getUint16(o, le)],
  5: [4, (v, o, le) => v.getInt32(o, le)],
  6: [4, (v, o, le) => v.getUint32(o, le)],
  7: [4, (v, o, le) => v.getFloat32(o, le)],
  9: [8, (v, o, le) => v.getFloat64(o, le)],
  12: [8, (v, o, le) => Number(v.getBigInt64(o, le))],
  13: [8, (v, o, le) => Number(v.getBigUint64(o, le))],
};

/** mxCLASS values of numeric (and logical-as-uint8) arrays. */
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

/**
 * Parses every numeric matrix in a MAT-file (level 5), sparse ones made dense. Non-numeric
 * variables (cells, structs, chars) are skipped.
 *
 * @throws {MadError} `PATH: problem` when the file is missing, not a level-5 MAT-file,
 * truncated or corrupt.
 */
export function readMatFile(path: string): Map<string, MatMatrix> {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (isNotFound(e)) throw fileError(path, "file not found");
    throw fileError(path, `cannot read file: ${e instanceof Error ? e.message : e}`);
  }
  return parseMat(path, bytes);
}

/** Parses MAT-file bytes; `path` is only used in error messages. */
export function parseMat(path: string, bytes: Uint8Array): Map<string, MatMatrix> {
  // A v4 file has no 128-byte header and may be shorter than one: tell it first.
  if (looksLikeMatV4(bytes)) {
    throw fileError(
      path,
      "looks like a MATLAB v4 MAT-file, which is not read; save it again with save(..., '-v7')",
    );
  }
  if (bytes.length < 128) {
    throw fileError(path, "not a MATLAB 5 MAT-file (shorter than its header)");
  }
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 116));
  const endian = String.fromCharCode(bytes[126], bytes[127]);
  const le = endian === "IM";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = endian === "IM" || endian === "MI" ? view.getUint16(124, le) : -1;
  // A v7.3 file is HDF5 behind a level-5-looking header: its text says "MATLAB 7.3" and it
  // carries the endian bytes with version 0x0200, so test for it before the version check.
  if (head.startsWith("MATLAB 7.3") || version === 0x0200) {
    throw fileError(
      path,
      "MATLAB v7.3 (HDF5) MAT-files are not supported; save it again with save(..., '-v7')",
    );
  }
  if (endian !== "IM" && endian !== "MI") {
    throw fileError(
      path,
      "not a MATLAB 5 MAT-file (no endian indicator in the header); if it is a MAT-file of " +
        "another version, save it again with save(..., '-v7')",
    );
  }
  if (version !== 0x0100) {
    throw fileError(path, `unsupported MAT-file version 0x${version.toString(16)}`);
  }
  const out = new Map<string, MatMatrix>();
  readElements(path, bytes, 128, le, out);
  return out;
}

function readElements(
  path: string,
  bytes: Uint8Array,
  start: number,
  le: boolean,
  out: Map<string, MatMatrix>,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  while (pos < bytes.length) {
    // Files may end in zero padding.
    if (bytes.length - pos < 8) {
      if (bytes.subarray(pos).every((b) => b === 0)) return;
      throw fileError(path, `truncated: partial element tag at byte ${pos}`);
    }
    const { type, size, dataStart, next } = readTag(path, view, pos, le);
    if (type === MI_COMPRESSED) {
      let inflated: Uint8Array;
      try {
        inflated = new Uint8Array(inflateSync(bytes.subarray(dataStart, dataStart + size)));
      } catch (e) {
        throw fileError(
          path,
          `corrupt compressed element at byte ${pos}: ${e instanceof Error ? e.message : e}`,
        );
      }
      readElements(path, inflated, 0, le, out);
    } else if (type === MI_MATRIX) {
      const m = readMatrix(path, bytes.subarray(dataStart, dataStart + size), le);
      if (m) out.set(m.name, m);
    }
    pos = next;
  }
}

interface Tag {
  type: number;
  size: number;
  dataStart: number;
  /** Offset of the following element (data padded to 8 bytes, except compressed data). */
  next: number;
}

function readTag(path: string, view: DataView, pos: number, le: boolean): Tag {
  if (pos + 8 > view.byteLength) throw fileError(path, `truncated: element tag at byte ${pos}`);
  const first = view.getUint32(pos, le);
  // Small data element: size in the upper 16 bits, data packed into the tag's second word.
  if (first >>> 16 !== 0) {
    return { type: first & 0xffff, size: first >>> 16, dataStart: pos + 4, next: pos + 8 };
  }
  const size = view.getUint32(pos + 4, le);
  const dataStart = pos + 8;
  if (dataStart + size > view.byteLength) {
    throw fileError(
      path,
      `truncated: element at byte ${pos} needs ${size} bytes, ${
        view.byteLength - dataStart
      } remain`,
    );
  }
  const padded = first === MI_COMPRESSED ? size : Math.ceil(size / 8) * 8;
  return { type: first, size, dataStart, next: dataStart + padded };
}

function readMatrix(path: string, bytes: Uint8Array, le: boolean): MatMatrix | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 0) return null; // an empty miMATRIX is an empty placeholder
  const flags = readTag(path, view, 0, le);
  if (flags.type !== MI_UINT32 || flags.size < 8) {
    throw fileError(path, "corrupt matrix: bad array-flags sub-element");
  }
  const flagWord = view.getUint32(flags.dataStart, le);
  const mxClass = flagWord & 0xff;
  const complex = (flagWord & COMPLEX_FLAG) !== 0;
  const dimsTag = readTag(path, view, flags.next, le);
  if (dimsTag.type !== MI_INT32) {
    throw fileError(path, "corrupt matrix: bad dimensions sub-element");
  }
  const dims: number[] = [];
  for (let o = 0; o < dimsTag.size; o += 4) dims.push(view.getInt32(dimsTag.dataStart + o, le));
  const nameTag = readTag(path, view, dimsTag.next, le);
  if (nameTag.type !== MI_INT8) throw fileError(path, "corrupt matrix: bad name sub-element");
  const name = new TextDecoder().decode(
    bytes.subarray(nameTag.dataStart, nameTag.dataStart + nameTag.size),
  );
  if (mxClass === MX_SPARSE && dims.length === 2) {
    const sparse = readSparse(path, view, nameTag.next, le, name, dims);
    return complex ? { ...sparse, complex } : sparse;
  }
  if (!NUMERIC_CLASSES.has(mxClass)) return null;
  const count = dims.reduce((a, b) => a * b, 1);
  const real = readTag(path, view, nameTag.next, le);
  const numeric = NUMERIC[real.type];
  if (!numeric) {
    throw fileError(path, `variable "${name}": unsupported data type ${real.type}`);
  }
  const [width, get] = numeric;
  if (real.size !== count * width) {
    throw fileError(
      path,
      `variable "${name}": ${real.size / width} values stored for dimensions ${dims.join("x")}`,
    );
  }
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = get(view, real.dataStart + i * width, le);
  return complex ? { name, dims, data, complex } : { name, dims, data };
}

/**
 * A sparse matrix (compressed columns: row indices `ir`, column starts `jc`, then the nonzero
 * values) made dense, column-major like the other matrices.
 */
function readSparse(
  path: string,
  view: DataView,
  at: number,
  le: boolean,
  name: string,
  dims: number[],
): MatMatrix {
  const [rows, cols] = dims;
  const ir = readTag(path, view, at, le);
  const jc = readTag(path, view, ir.next, le);
  const pr = readTag(path, view, jc.next, le);
  const numeric = NUMERIC[pr.type];
  if (ir.type !== MI_INT32 || jc.type !== MI_INT32 || !numeric || jc.size < (cols + 1) * 4) {
    throw fileError(path, `variable "${name}": corrupt sparse matrix`);
  }
  const [width, get] = numeric;
  const data = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    const from = view.getInt32(jc.dataStart + c * 4, le);
    const to = view.getInt32(jc.dataStart + (c + 1) * 4, le);
    for (let k = from; k < to; k++) {
      const r = view.getInt32(ir.dataStart + k * 4, le);
      if (r < 0 || r >= rows || k < 0 || (k + 1) * 4 > ir.size || (k + 1) * width > pr.size) {
        throw fileError(path, `variable "${name}": corrupt sparse matrix`);
      }
      data[c * rows + r] = get(view, pr.dataStart + k * width, le);
    }
  }
  return { name, dims, data };
}

/**
 * Reads an ODDS-style MAT-file with variables `X` (n×d) and `y` (n×1, 0/1) into a Table with
 * columns `f1..fd`, named after the file (e.g. `thyroid`). With `labels` "ignore" (scoring),
 * `y` is neither needed nor read and the table's labels are null.
 *
 * @throws {MadError} `PATH: problem` for a file that is not a MAT-file, is truncated, lacks
 * `X` or `y`, has mismatched shapes, or has labels other than 0/1.
 */
export function readOddsMat(path: string, labels: "require" | "ignore" = "require"): Table {
  const vars = readMatFile(path);
  const x = vars.get("X");
  const y = labels === "ignore" ? undefined : vars.get("y");
  if (!x) throw fileError(path, `no numeric variable "X" (found: ${names(vars)})`);
  // Only the real part is read: dropping the imaginary part silently changed the data.
  if (x.complex) throw fileError(path, complexProblem("X"));
  if (x.dims.length !== 2) throw fileError(path, `X has ${x.dims.length} dimensions, expected 2`);
  const [n, d] = x.dims;
  if (labels === "ignore") return { ...oddsTable(path, x), labels: null };
  if (!y) throw fileError(path, `no numeric variable "y" (found: ${names(vars)})`);
  if (y.complex) throw fileError(path, complexProblem("y"));
  if (y.data.length !== n || (y.dims.length === 2 && Math.min(y.dims[0], y.dims[1]) !== 1)) {
    throw fileError(path, `shape mismatch: X is ${n}x${d} but y is ${y.dims.join("x")}`);
  }
  const table = oddsTable(path, x);
  const classes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i];
    if (v !== 0 && v !== 1) throw fileError(path, `y(${i + 1}) is ${v}, expected 0 or 1`);
    classes[i] = v;
  }
  return { ...table, labels: classes };
}

/** The Table of an n×d `X` (columns `f1..fd`), labels not yet read. */
function oddsTable(path: string, x: MatMatrix): Table {
  const [n, d] = x.dims;
  if (n === 0 || d === 0) throw fileError(path, `X is empty (${n}x${d})`);
  const values = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) {
      const v = x.data[j * n + i];
      if (!Number.isFinite(v)) throw fileError(path, `X(${i + 1},${j + 1}) is ${v}`);
      values[i * d + j] = v;
    }
  }
  return {
    name: basename(path, extname(path)),
    source: path,
    columns: Array.from({ length: d }, (_, j) => `f${j + 1}`),
    n,
    d,
    values,
    labels: null,
  };
}

function complexProblem(variable: string): string {
  return `${variable} is complex, which is not supported (use real numbers: save real(${variable}), ` +
    `abs(${variable}) or both parts as columns)`;
}

/**
 * Whether `bytes` begin like a MATLAB v4 MAT-file: a 20-byte matrix header whose type word
 * MOPT (machine M 0-4, O 0, precision P 0-5, type T 0-2, little- or big-endian) is valid, with
 * a name length of at least 2 (the name and its NUL).
 */
function looksLikeMatV4(bytes: Uint8Array): boolean {
  if (bytes.length < 20) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [true, false].some((le) => {
    const mopt = view.getInt32(0, le);
    const [m, o, p, t] = [
      Math.floor(mopt / 1000),
      Math.floor(mopt / 100) % 10,
      Math.floor(mopt / 10) % 10,
      mopt % 10,
    ];
    const imagf = view.getInt32(12, le);
    const namelen = view.getInt32(16, le);
    return mopt >= 0 && m <= 4 && o === 0 && p <= 5 && t <= 2 && (imagf === 0 || imagf === 1) &&
      namelen >= 2 && namelen < 64 && view.getInt32(4, le) >= 0 && view.getInt32(8, le) >= 0;
  });
}

function names(vars: Map<string, MatMatrix>): string {
  return vars.size === 0 ? "none" : [...vars.keys()].join(", ");
}

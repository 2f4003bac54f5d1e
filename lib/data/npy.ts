/**
 * A reader for NumPy `.npy` arrays (format versions 1, 2 and 3) of plain numbers: little-endian
 * or single-byte integers, floats (16, 32 and 64 bits) and booleans, in C or Fortran order.
 * Values come back as doubles in C (row-major) order.
 *
 * @module
 */
import { fileError } from "../errors.ts";

/** A numeric array from a `.npy` file. */
export interface NpyArray {
  /** The dtype as written, e.g. `<f8`, `|u1`. */
  descr: string;
  shape: number[];
  /** Every value, in C (row-major) order whatever the file's order. */
  data: Float64Array;
}

type Reader = (v: DataView, o: number) => number;

/** Byte width and reader of each supported dtype (kind + size, byte order stripped). */
const DTYPES: Record<string, [number, Reader]> = {
  b1: [1, (v, o) => v.getUint8(o)],
  i1: [1, (v, o) => v.getInt8(o)],
  u1: [1, (v, o) => v.getUint8(o)],
  i2: [2, (v, o) => v.getInt16(o, true)],
  u2: [2, (v, o) => v.getUint16(o, true)],
  i4: [4, (v, o) => v.getInt32(o, true)],
  u4: [4, (v, o) => v.getUint32(o, true)],
  i8: [8, (v, o) => Number(v.getBigInt64(o, true))],
  u8: [8, (v, o) => Number(v.getBigUint64(o, true))],
  // float16 (numpy's half precision), widened exactly.
  f2: [2, (v, o) => halfToNumber(v.getUint16(o, true))],
  f4: [4, (v, o) => v.getFloat32(o, true)],
  f8: [8, (v, o) => v.getFloat64(o, true)],
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Parses the bytes of a `.npy` file.
 *
 * @param path The file named in errors (for an `.npz`, the archive).
 * @param label What the bytes are within `path` (e.g. `X.npy`), prefixed to each problem.
 * @throws {MadError} `PATH: LABEL: problem` for a missing magic string, an unknown format
 * version, an unreadable header, a big-endian, object, structured or otherwise unsupported
 * dtype, or data shorter or longer than the shape needs.
 */
export function parseNpy(path: string, label: string, bytes: Uint8Array): NpyArray {
  const fail = (problem: string) => fileError(path, `${label}: ${problem}`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail("not a NumPy .npy array (no \\x93NUMPY magic)");
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw fail(`unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) throw fail("truncated header");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw fail("truncated header");
  // Versions 1 and 2 write the header in latin-1, version 3 in UTF-8.
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const { descr, fortran, shape } = parseHeader(header, fail);

  const order = descr[0];
  const kind = /^[<>|=]/.test(descr) ? descr.slice(1) : descr;
  if (kind.startsWith("O")) throw fail("object arrays (pickled Python objects) are not supported");
  const dtype = DTYPES[kind];
  if (!dtype) {
    throw fail(
      `dtype '${descr}' is not supported (supported: booleans, integers of 8 to 64 bits, ` +
        "float16, float32 and float64)",
    );
  }
  const [width, read] = dtype;
  if (order === ">" && width > 1) {
    throw fail(`big-endian dtype '${descr}' is not supported; save it as '<${kind}'`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const stored = bytes.length - dataStart;
  if (stored !== count * width) {
    throw fail(
      `holds ${stored} data bytes, shape (${shape.join(", ")}) of '${descr}' needs ${
        count * width
      }`,
    );
  }
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, dataStart + i * width);
  return { descr, shape, data: fortran && shape.length > 1 ? toCOrder(data, shape) : data };
}

function parseHeader(
  header: string,
  fail: (problem: string) => Error,
): { descr: string; fortran: boolean; shape: number[] } {
  const text = header.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) throw fail("header is not a Python dict");
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) {
      throw fail("structured (record) arrays are not supported");
    }
    throw fail("header has no 'descr'");
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw fail("header has no 'fortran_order'");
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape) throw fail("header has no 'shape'");
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (dims.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw fail(`bad shape (${shape[1]})`);
  }
  return { descr: descr[1], fortran: fortran[1] === "True", shape: dims };
}

/** Reorders column-major (Fortran) data of `shape` into row-major (C) order. */
function toCOrder(data: Float64Array, shape: number[]): Float64Array {
  const out = new Float64Array(data.length);
  if (shape.length === 2) {
    const [n, d] = shape;
    for (let j = 0; j < d; j++) {
      for (let i = 0; i < n; i++) out[i * d + j] = data[j * n + i];
    }
    return out;
  }
  // Any rank: walk C order with an index counter, tracking the Fortran offset.
  const fStrides = shape.map((_, k) => shape.slice(0, k).reduce((a, b) => a * b, 1));
  const index = new Array(shape.length).fill(0);
  for (let c = 0; c < data.length; c++) {
    let f = 0;
    for (let k = 0; k < shape.length; k++) f += index[k] * fStrides[k];
    out[c] = data[f];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

/** The value of IEEE 754 half-precision bits `h` (subnormals, infinities and NaN included). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Hand-made NumPy `.npy` arrays and `.npz` (ZIP) archives for the tests: a writer independent
 * of the reader under test (deflate through the web's `CompressionStream`, not `node:zlib`).
 */
import { concat, crc32 } from "./fixtures.ts";

/** An array to write as `.npy`. */
export interface NpySpec {
  /** dtype string as NumPy writes it, e.g. `<f8`, `|u1`, `>f8`. */
  descr: string;
  shape: number[];
  /** Values in C (row-major) order. */
  values: number[];
  /** Write the data in Fortran (column-major) order. Default false. */
  fortran?: boolean;
  /** Format version 1, 2 or 3. Default 1. */
  version?: number;
  /** Replaces the whole header dict text (for malformed headers). */
  header?: string;
}

const WRITERS: Record<string, [number, (v: DataView, o: number, x: number, le: boolean) => void]> =
  {
    b1: [1, (v, o, x) => v.setUint8(o, x)],
    i1: [1, (v, o, x) => v.setInt8(o, x)],
    u1: [1, (v, o, x) => v.setUint8(o, x)],
    i2: [2, (v, o, x, le) => v.setInt16(o, x, le)],
    i4: [4, (v, o, x, le) => v.setInt32(o, x, le)],
    u4: [4, (v, o, x, le) => v.setUint32(o, x, le)],
    i8: [8, (v, o, x, le) => v.setBigInt64(o, BigInt(x), le)],
    u8: [8, (v, o, x, le) => v.setBigUint64(o, BigInt(x), le)],
    f4: [4, (v, o, x, le) => v.setFloat32(o, x, le)],
    f8: [8, (v, o, x, le) => v.setFloat64(o, x, le)],
    O: [8, () => {}],
  };

/** The bytes of a `.npy` file for `spec`, header padded to 64 bytes as NumPy does. */
export function npyBytes(spec: NpySpec): Uint8Array {
  const version = spec.version ?? 1;
  const shape = spec.shape.length === 1 ? `(${spec.shape[0]},)` : `(${spec.shape.join(", ")})`;
  const dict = spec.header ??
    `{'descr': '${spec.descr}', 'fortran_order': ${
      spec.fortran ? "True" : "False"
    }, 'shape': ${shape}, }`;
  const prefix = version === 1 ? 10 : 12;
  const padded = dict + " ".repeat(63 - ((prefix + dict.length) % 64)) + "\n";
  const header = new TextEncoder().encode(padded);
  const kind = spec.descr.replace(/^[<>|=]/, "");
  const [width, write] = WRITERS[kind] ?? [8, () => {}];
  const order = spec.fortran ? fortranOrder(spec.values, spec.shape) : spec.values;
  const data = new Uint8Array(order.length * width);
  const view = new DataView(data.buffer);
  order.forEach((x, i) => write(view, i * width, x, !spec.descr.startsWith(">")));
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), version, 0]);
  const head = new DataView(out.buffer);
  if (version === 1) head.setUint16(8, header.length, true);
  else head.setUint32(8, header.length, true);
  out.set(header, prefix);
  out.set(data, prefix + header.length);
  return out;
}

function fortranOrder(values: number[], shape: number[]): number[] {
  if (shape.length !== 2) return values;
  const [n, d] = shape;
  const out: number[] = [];
  for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) out.push(values[i * d + j]);
  return out;
}

/** One file to put in a ZIP archive. */
export interface ZipFile {
  name: string;
  data: Uint8Array;
  /** Deflate the entry (else store it). Default true. */
  deflate?: boolean;
  /** Compression method to record instead of the real one (for bad-input tests). */
  method?: number;
  /** Record this CRC-32 instead of the real one (for bad-input tests). */
  crc?: number;
}

/** A ZIP archive of `files` (local headers, central directory, end record). */
export async function zipBytes(files: ZipFile[]): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const deflate = f.deflate ?? true;
    const body = deflate ? await deflateRaw(f.data) : f.data;
    const name = enc.encode(f.name);
    const method = f.method ?? (deflate ? 8 : 0);
    const crc = f.crc ?? crc32(f.data);
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const dirSize = centrals.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  return concat(...locals, ...centrals, end);
}

async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An `.npz` of `X` and `y` (either may be left out or replaced), each entry deflated or not. */
export function npzBytes(
  x: NpySpec | null,
  y: NpySpec | null,
  options: { deflate?: boolean; extra?: ZipFile[] } = {},
): Promise<Uint8Array> {
  const files: ZipFile[] = [];
  if (x) files.push({ name: "X.npy", data: npyBytes(x), deflate: options.deflate });
  if (y) files.push({ name: "y.npy", data: npyBytes(y), deflate: options.deflate });
  return zipBytes([...files, ...(options.extra ?? [])]);
}

/**
 * A minimal reader for ZIP archives such as NumPy's `.npz`: the central directory (ZIP64 sizes
 * and offsets included), stored and deflated entries, CRC-32 checked. No encryption, no other
 * compression methods, no multi-disk archives.
 *
 * Inflating is synchronous (`node:zlib`, as the MAT-file reader does) rather than the web's
 * `DecompressionStream`, so that table loading stays synchronous for its many callers.
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";
import { fileError } from "../errors.ts";

/** One file of a ZIP archive, as the central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the entry's local file header. */
  headerOffset: number;
  /** General-purpose flags (bit 0: encrypted). */
  flags: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

/**
 * The entries of a ZIP archive by name, from its central directory.
 *
 * @param path The archive's path, named in errors.
 * @throws {MadError} `PATH: problem` when the bytes are not a ZIP archive or its directory is
 * truncated or corrupt.
 */
export function zipEntries(path: string, bytes: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findEndRecord(path, view);
  let count = view.getUint16(end + 10, true);
  let dirSize = view.getUint32(end + 12, true);
  let dirOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    // ZIP64: the real values are in the ZIP64 end record the locator before `end` points to.
    const locator = end - 20;
    if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR) {
      throw fileError(path, "corrupt ZIP archive: ZIP64 end record locator missing");
    }
    const at = safeNumber(path, view.getBigUint64(locator + 8, true));
    if (at + 56 > bytes.length || view.getUint32(at, true) !== ZIP64_EOCD) {
      throw fileError(path, "corrupt ZIP archive: ZIP64 end record missing");
    }
    count = safeNumber(path, view.getBigUint64(at + 32, true));
    dirSize = safeNumber(path, view.getBigUint64(at + 40, true));
    dirOffset = safeNumber(path, view.getBigUint64(at + 48, true));
  }
  if (dirOffset + dirSize > bytes.length) {
    throw fileError(path, "truncated ZIP archive: central directory runs past the end of the file");
  }
  const out = new Map<string, ZipEntry>();
  let pos = dirOffset;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > bytes.length || view.getUint32(pos, true) !== CENTRAL) {
      throw fileError(path, `corrupt ZIP archive: central directory entry ${i + 1} is damaged`);
    }
    const nameLength = view.getUint16(pos + 28, true);
    const extraLength = view.getUint16(pos + 30, true);
    const commentLength = view.getUint16(pos + 32, true);
    const next = pos + 46 + nameLength + extraLength + commentLength;
    if (next > bytes.length) {
      throw fileError(path, `truncated ZIP archive: central directory entry ${i + 1}`);
    }
    const name = new TextDecoder().decode(bytes.subarray(pos + 46, pos + 46 + nameLength));
    const entry: ZipEntry = {
      name,
      flags: view.getUint16(pos + 8, true),
      method: view.getUint16(pos + 10, true),
      crc32: view.getUint32(pos + 16, true),
      compressedSize: view.getUint32(pos + 20, true),
      size: view.getUint32(pos + 24, true),
      headerOffset: view.getUint32(pos + 42, true),
    };
    readZip64Extra(path, view, pos + 46 + nameLength, extraLength, entry);
    out.set(name, entry);
    pos = next;
  }
  return out;
}

/**
 * The uncompressed bytes of one entry.
 *
 * @throws {MadError} `PATH: NAME: problem` for an encrypted entry, an unsupported compression
 * method, truncated or corrupt data, or a CRC-32 mismatch.
 */
export function zipEntryData(path: string, bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const fail = (problem: string) => fileError(path, `${entry.name}: ${problem}`);
  if (entry.flags & 1) throw fail("encrypted ZIP entries are not supported");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.headerOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL) {
    throw fail("corrupt ZIP archive: local file header missing");
  }
  // The local header's own sizes may be placeholders (NumPy writes ZIP64 ones); only its name
  // and extra-field lengths are needed to find the data.
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const stored = bytes.subarray(start, start + entry.compressedSize);
  if (stored.length !== entry.compressedSize) throw fail("truncated: data runs past the end");
  let data: Uint8Array;
  if (entry.method === 0) {
    data = stored;
  } else if (entry.method === 8) {
    try {
      data = new Uint8Array(inflateRawSync(stored));
    } catch (e) {
      throw fail(`corrupt deflate data (${(e instanceof Error ? e.message : String(e))})`);
    }
  } else {
    throw fail(`compression method ${entry.method} is not supported (only stored and deflate)`);
  }
  if (data.length !== entry.size) {
    throw fail(`holds ${data.length} bytes, the directory says ${entry.size}`);
  }
  if (crc32(data) !== entry.crc32) throw fail("CRC-32 mismatch: the archive is corrupt");
  return data;
}

let crcTable: Uint32Array | null = null;

/** The CRC-32 (ZIP, IEEE 802.3) of `data`. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function findEndRecord(path: string, view: DataView): number {
  const last = view.byteLength - 22;
  if (last < 0) throw fileError(path, "not a ZIP archive (too short)");
  for (let at = last; at >= Math.max(0, last - MAX_COMMENT); at--) {
    if (view.getUint32(at, true) === EOCD) return at;
  }
  throw fileError(path, "not a ZIP archive, or truncated (no end of central directory record)");
}

/** Replaces the 0xffffffff placeholders of `entry` with the ZIP64 extra field's values. */
function readZip64Extra(
  path: string,
  view: DataView,
  start: number,
  length: number,
  entry: ZipEntry,
): void {
  const fields = (["size", "compressedSize", "headerOffset"] as const).filter((k) =>
    entry[k] === 0xffffffff
  );
  if (fields.length === 0) return;
  for (let pos = start; pos + 4 <= start + length;) {
    const id = view.getUint16(pos, true);
    const size = view.getUint16(pos + 2, true);
    if (id === 0x0001) {
      // The values present are exactly the ones whose 32-bit field is 0xffffffff, in this order.
      fields.forEach((k, i) => {
        if (8 * (i + 1) > size) {
          throw fileError(path, `${entry.name}: corrupt ZIP64 extra field`);
        }
        entry[k] = safeNumber(path, view.getBigUint64(pos + 4 + 8 * i, true));
      });
      return;
    }
    pos += 4 + size;
  }
  throw fileError(path, `${entry.name}: ZIP64 sizes announced but no ZIP64 extra field`);
}

function safeNumber(path: string, v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fileError(path, "corrupt ZIP archive: huge size");
  return Number(v);
}

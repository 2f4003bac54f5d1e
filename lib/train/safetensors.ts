/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range (plus a string-to-string `__metadata__`), then the raw
 * little-endian bytes. Only F32 is used here.
 *
 * @module
 */
import { MadError } from "../errors.ts";

/** A float32 tensor as plain data. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Serialises tensors and string metadata to safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4), at);
    at += t.data.length * 4;
  }
  return out;
}

/**
 * Parses safetensors bytes; `source` names the file in error messages. Every structural problem
 * (short file, bad header length, header not a JSON object, metadata not string to string, a
 * tensor that is not F32, has a malformed shape or offsets, or lies outside the file) is a
 * one-line MadError.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const fail = (problem: string): never => {
    throw new MadError(`${source}: not a valid checkpoint (${problem})`);
  };
  if (bytes.length < 8) fail(bytes.length === 0 ? "empty file" : "file too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength < 2 || 8 + headerLength > bytes.length) {
    fail(`bad header length ${headerLength} for a file of ${bytes.length} bytes (truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    ));
  } catch {
    return fail("header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return fail("header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (
        typeof entry !== "object" || entry === null || Array.isArray(entry) ||
        !Object.values(entry).every((v) => typeof v === "string")
      ) {
        fail("__metadata__ must map strings to strings");
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      fail(`tensor ${name} is not described by an object`);
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== "F32") fail(`tensor ${name} has dtype ${String(e.dtype)}, expected F32`);
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      return fail(`tensor ${name} has no valid shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      return fail(`tensor ${name} has no valid data offsets`);
    }
    const [begin, end] = offsets as number[];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!(begin <= end && end <= dataLength && end - begin === count * 4)) {
      fail(`tensor ${name} lies outside the file or does not match its shape (truncated?)`);
    }
    // Copy so the tensor is 4-byte aligned whatever the header length.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: [...shape as number[]], data });
  }
  return { tensors, metadata };
}

/**
 * A cache of decoded images, in memory and optionally on disk, so that a second epoch or a
 * second run does not decode the same PNGs again.
 *
 * On-disk entries are `<dir>/<sha1>.f32`, named by the SHA-1 of the file's real path, mtime,
 * byte size, target size, channels and {@linkcode DECODER_VERSION}, so an edited image, another
 * size or another way of decoding is a different entry. Each holds a 16-byte header (`MADI`, width, height, channels as little-endian u32)
 * then the float32 HWC data, little-endian.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomic } from "../util/files.ts";
import type { FlagSpec } from "../util/flags.ts";
import { fileError, isNotFound } from "../errors.ts";
import { decodeImage, readProblem } from "./images.ts";
import type { DecodedImage } from "./types.ts";

const MAGIC = 0x4944414d; // "MADI" read as a little-endian u32

/**
 * Bumped when `decodeImage` reads some files differently, so that entries decoded the old way
 * are not read back: 2 turns images by their EXIF orientation and reads floating-point pixels
 * on their own scale.
 */
const DECODER_VERSION = 2;
const HEADER_BYTES = 16;

/** The `--cache DIR` flag of the commands that decode images: where decoded images are kept. */
export const IMAGE_CACHE_FLAG = {
  type: "string",
  default: join("data", ".cache", "images"),
  value: "DIR",
  description: "decoded-image cache folder (a rerun reads images from it, not the files)",
} as const satisfies FlagSpec;

/** Counters of how requests were served. */
export interface ImageCacheStats {
  /** Images decoded from their PNG/JPEG file. */
  decodes: number;
  /** Requests served from memory. */
  memoryHits: number;
  /** Requests served from the on-disk cache. */
  diskHits: number;
  /** On-disk entries that were unreadable or inconsistent and were rewritten. */
  corrupt: number;
}

/** Options of {@linkcode ImageCache}. */
export interface ImageCacheOptions {
  /**
   * Upper bound on decoded bytes kept in memory; the oldest entries are dropped beyond it.
   * Default 1 GiB. 0 disables the memory layer.
   */
  maxMemoryBytes?: number;
}

/** Serialises an image to the on-disk format. */
export function encodeCacheEntry(image: DecodedImage): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES + image.data.length * 4);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, image.width, true);
  view.setUint32(8, image.height, true);
  view.setUint32(12, image.channels, true);
  for (let i = 0; i < image.data.length; i++) {
    view.setFloat32(HEADER_BYTES + i * 4, image.data[i], true);
  }
  return bytes;
}

/** Parses an on-disk entry; null when it is not a complete entry of the expected shape. */
export function decodeCacheEntry(
  bytes: Uint8Array,
  expect: { size: number; channels: 1 | 3 },
): DecodedImage | null {
  if (bytes.length < HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return null;
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  const channels = view.getUint32(12, true);
  if (width !== expect.size || height !== expect.size || channels !== expect.channels) return null;
  const n = width * height * channels;
  if (bytes.length !== HEADER_BYTES + n * 4) return null;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = view.getFloat32(HEADER_BYTES + i * 4, true);
    if (!(v >= 0 && v <= 1)) return null;
    data[i] = v;
  }
  return { width, height, channels: expect.channels, data };
}

/** Cache folders a write failed in: not tried again, so the warning comes once per process. */
const UNWRITABLE_CACHES = new Set<string>();

/**
 * Decoded images by path, size and channel count. Returned images are shared between callers
 * and must not be modified.
 */
export class ImageCache {
  /** Counters, for tests and progress output. */
  readonly stats: ImageCacheStats = { decodes: 0, memoryHits: 0, diskHits: 0, corrupt: 0 };
  readonly #dir: string | undefined;
  readonly #maxMemoryBytes: number;
  readonly #memory = new Map<string, Promise<DecodedImage>>();
  readonly #sizes = new Map<string, number>();
  #memoryBytes = 0;
  #dirReady = false;

  /**
   * @param dir Folder of the on-disk cache (e.g. `data/.cache/images`), created on first
   * write; omit for a memory-only cache.
   */
  constructor(dir?: string, options: ImageCacheOptions = {}) {
    this.#dir = dir;
    this.#maxMemoryBytes = options.maxMemoryBytes ?? 1024 ** 3;
  }

  /** Number of images currently held in memory. */
  get memoryEntries(): number {
    return this.#memory.size;
  }

  /**
   * The decoded image at `path`, resized to `size`×`size` with `channels` channels, from
   * memory, disk or a fresh decode (in that order).
   *
   * @throws {MadError} as {@linkcode decodeImage}.
   */
  async get(path: string, options: { size: number; channels: 1 | 3 }): Promise<DecodedImage> {
    let info: Deno.FileInfo;
    let real: string;
    try {
      real = await Deno.realPath(path);
      info = await Deno.stat(real);
    } catch (e) {
      if (isNotFound(e)) throw fileError(path, "image file not found");
      throw fileError(path, readProblem(e));
    }
    const key = [
      real,
      info.mtime?.getTime() ?? 0,
      info.size,
      options.size,
      options.channels,
      DECODER_VERSION,
    ].join("|");
    const cached = this.#memory.get(key);
    if (cached) {
      this.stats.memoryHits++;
      // Re-insert so eviction drops the least recently used entries first.
      this.#memory.delete(key);
      this.#memory.set(key, cached);
      return cached;
    }
    const pending = this.#load(path, key, options);
    if (this.#maxMemoryBytes > 0) {
      this.#memory.set(key, pending);
      pending.then((image) => this.#account(key, image), () => this.#memory.delete(key));
    }
    return await pending;
  }

  /** Drops the in-memory entries (the on-disk cache stays). */
  clearMemory(): void {
    this.#memory.clear();
    this.#sizes.clear();
    this.#memoryBytes = 0;
  }

  #account(key: string, image: DecodedImage): void {
    if (!this.#memory.has(key)) return;
    const bytes = image.data.byteLength;
    this.#sizes.set(key, bytes);
    this.#memoryBytes += bytes;
    for (const old of this.#memory.keys()) {
      if (this.#memoryBytes <= this.#maxMemoryBytes) break;
      const size = this.#sizes.get(old);
      if (size === undefined) continue; // still loading
      this.#memory.delete(old);
      this.#sizes.delete(old);
      this.#memoryBytes -= size;
    }
  }

  async #load(
    path: string,
    key: string,
    options: { size: number; channels: 1 | 3 },
  ): Promise<DecodedImage> {
    const file = this.#dir
      ? join(this.#dir, `${createHash("sha1").update(key).digest("hex")}.f32`)
      : undefined;
    if (file) {
      let bytes: Uint8Array | null = null;
      try {
        bytes = await Deno.readFile(file);
      } catch (e) {
        if (!isNotFound(e)) this.stats.corrupt++;
      }
      if (bytes) {
        const image = decodeCacheEntry(bytes, options);
        if (image) {
          this.stats.diskHits++;
          return image;
        }
        this.stats.corrupt++;
      }
    }
    const image = await decodeImage(path, options);
    this.stats.decodes++;
    if (file) await this.#write(file, image);
    return image;
  }

  async #write(file: string, image: DecodedImage): Promise<void> {
    const dir = this.#dir!;
    if (UNWRITABLE_CACHES.has(dir)) return;
    try {
      if (!this.#dirReady) {
        await Deno.mkdir(dir, { recursive: true });
        this.#dirReady = true;
      }
      await writeFileAtomic(file, encodeCacheEntry(image));
    } catch (e) {
      // The cache only saves time: a read-only or full disk must not stop training. Said once
      // per folder and process, then the folder is left alone (not one line per image).
      if (UNWRITABLE_CACHES.has(dir)) return; // another write of the moment failed first
      UNWRITABLE_CACHES.add(dir);
      const info = await Deno.stat(dir).catch(() => null);
      const why = info && !info.isDirectory
        ? "it is a file, not a folder"
        : e instanceof Error
        ? e.message.split("\n")[0]
        : String(e);
      console.warn(
        `warning: ${dir}: cannot write the image cache (${why}); images are decoded without it`,
      );
    }
  }
}

/**
 * What a dataset source holds, as a short digest kept with the training run, so that evaluating
 * a checkpoint can tell whether its data is still what it was trained on: the split is drawn
 * again from the data at evaluation, and from changed data it may put training normals in the
 * test part.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join, relative } from "node:path";

/** Bytes read at a time while a file is hashed. */
const CHUNK_BYTES = 8 * 2 ** 20;

/**
 * Sixteen hex digits of SHA-256: of a file's bytes (a table); of a folder's files, their paths
 * below it and sizes, in order (an image category: renaming, adding or removing an image, or
 * replacing one by another of a different size, changes it; the time a file was written does
 * not, so a copy on another machine reads the same). `null` when the path cannot be read.
 */
export function sourceDigest(path: string): string | null {
  const hash = createHash("sha256");
  try {
    if (Deno.statSync(path).isDirectory) {
      for (const [name, size] of filesBelow(path)) hash.update(`${name}\u0000${size}\n`);
    } else {
      const file = Deno.openSync(path);
      try {
        const buffer = new Uint8Array(CHUNK_BYTES);
        for (let n = file.readSync(buffer); n !== null; n = file.readSync(buffer)) {
          hash.update(buffer.subarray(0, n));
        }
      } finally {
        file.close();
      }
    }
  } catch {
    return null;
  }
  return hash.digest("hex").slice(0, 16);
}

/** Every file below `root` as [its path below root, its size], sorted by path. */
function filesBelow(root: string): [string, number][] {
  const out: [string, number][] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.isFile || entry.isSymlink) {
        // A link to a file counts as the file (image folders of links read their targets).
        const info = Deno.statSync(path);
        if (info.isFile) out.push([relative(root, path), info.size]);
      }
    }
  };
  walk(root);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

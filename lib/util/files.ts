/**
 * Files written whole or not at all: a reader never sees half a checkpoint, cache entry or
 * report, even when the writer is interrupted.
 *
 * @module
 */

/** Writes a file atomically: to a temporary sibling first, then a rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  if (typeof data === "string") await Deno.writeTextFile(tmp, data);
  else await Deno.writeFile(tmp, data);
  const file = await Deno.open(tmp, { read: true, write: true });
  try {
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

import assert from "node:assert/strict";
import { join } from "node:path";
import { sourceDigest } from "../lib/data/source_digest.ts";

Deno.test("sourceDigest: a file by its bytes, a folder by its files' paths and sizes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_digest_" });
  try {
    const a = join(dir, "a.csv");
    await Deno.writeTextFile(a, "x,label\n1,0\n2,1\n");
    const first = sourceDigest(a)!;
    assert.match(first, /^[0-9a-f]{16}$/);
    // The same bytes elsewhere (a copy on another machine), or written again later: the same.
    const copy = join(dir, "copy.csv");
    await Deno.copyFile(a, copy);
    assert.equal(sourceDigest(copy), first);
    await Deno.utime(a, new Date(2020, 0, 1), new Date(2020, 0, 1));
    assert.equal(sourceDigest(a), first);
    // Rows reordered: another digest.
    await Deno.writeTextFile(a, "x,label\n2,1\n1,0\n");
    assert.notEqual(sourceDigest(a), first);
    assert.equal(sourceDigest(join(dir, "missing.csv")), null);

    const images = join(dir, "cat", "train", "good");
    await Deno.mkdir(images, { recursive: true });
    await Deno.writeFile(join(images, "000.png"), new Uint8Array(10));
    const folder = sourceDigest(join(dir, "cat"))!;
    await Deno.writeFile(join(images, "001.png"), new Uint8Array(10));
    const added = sourceDigest(join(dir, "cat"))!;
    assert.notEqual(added, folder);
    await Deno.rename(join(images, "001.png"), join(images, "002.png"));
    assert.notEqual(sourceDigest(join(dir, "cat")), added);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import {
  decodeImage,
  decodeMask,
  discoverImageCategories,
  listImagesToScore,
  smallImagesWarning,
} from "../lib/data/images.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { bombPng, madErrorAsync } from "./fixtures.ts";

const REAL_COURSE = new URL("../../shared/datasets/images/course", import.meta.url);
const hasRealCourse = (() => {
  try {
    return Deno.statSync(REAL_COURSE).isDirectory;
  } catch {
    return false;
  }
})();

/** Writes a small PNG with sharp from a generator of channel values. */
async function png(
  path: string,
  options: { width?: number; height?: number; channels?: 1 | 2 | 3 | 4; value?: number } = {},
): Promise<void> {
  const { width = 6, height = 6, channels = 3, value = 128 } = options;
  const raw = new Uint8Array(width * height * channels);
  for (let i = 0; i < raw.length; i++) raw[i] = (value + i) % 256;
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await sharp(raw, { raw: { width, height, channels } }).png().toFile(path);
}

/**
 * A grey TIFF of 32-bit floating-point pixels (sharp writes none): little-endian, one
 * uncompressed strip, SampleFormat 3 (IEEE float).
 */
function floatTiff(width: number, height: number, values: number[]): Uint8Array {
  const entries: [tag: number, type: 3 | 4, value: number][] = [
    [256, 4, width],
    [257, 4, height],
    [258, 3, 32], // bits per sample
    [259, 3, 1], // no compression
    [262, 3, 1], // black is zero
    [273, 4, 0], // strip offset, set below
    [277, 3, 1], // samples per pixel
    [278, 4, height], // rows per strip
    [279, 4, values.length * 4], // strip bytes
    [339, 3, 3], // sample format: float
  ];
  const dataOffset = 8 + 2 + entries.length * 12 + 4;
  const out = new DataView(new ArrayBuffer(dataOffset + values.length * 4));
  out.setUint32(0, 0x002a4949, true); // "II*\0"
  out.setUint32(4, 8, true);
  out.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, value], i) => {
    const at = 10 + i * 12;
    out.setUint16(at, tag, true);
    out.setUint16(at + 2, type, true);
    out.setUint32(at + 4, 1, true);
    const v = tag === 273 ? dataOffset : value;
    if (type === 3) out.setUint16(at + 8, v, true);
    else out.setUint32(at + 8, v, true);
  });
  values.forEach((v, i) => out.setFloat32(dataOffset + i * 4, v, true));
  return new Uint8Array(out.buffer);
}

/** An MVTec-layout category `bottle` and a course-layout parent, under a path with spaces. */
async function makeLayouts(): Promise<string> {
  const base = join(await Deno.makeTempDir(), "anomaly detection");
  const mv = join(base, "mvtec", "bottle");
  for (const name of ["001.png", "000.png", "002.png"]) await png(join(mv, "train/good", name));
  await Deno.writeTextFile(join(mv, "train/good/notes.txt"), "not an image");
  for (const name of ["000.png", "001.png"]) await png(join(mv, "test/good", name));
  for (const name of ["000.png", "001.png"]) await png(join(mv, "test/broken large", name));
  await png(join(mv, "test/crack/000.png"));
  await png(join(mv, "ground_truth/broken large/000_mask.png"), { channels: 1, value: 0 });
  await png(join(mv, "ground_truth/crack/000_mask.png"), { channels: 1 });

  const course = join(base, "course");
  for (const cat of ["nut", "zip"]) {
    for (const name of ["a.png", "b.png"]) await png(join(course, cat, "train/good", name));
    for (const name of ["002.png", "001.png", "003.png"]) {
      await png(join(course, cat, "test", name));
    }
  }
  const labels: Record<string, unknown> = {};
  for (const cat of ["nut", "zip"]) {
    labels[`${cat}/test/001.png`] = { original_category: cat, label: "good" };
    labels[`${cat}/test/002.png`] = { original_category: cat, label: "bad" };
    labels[`${cat}/test/003.png`] = { original_category: cat, label: "good" };
  }
  await Deno.writeTextFile(join(course, "image_anomaly_labels.json"), JSON.stringify(labels));
  return base;
}

Deno.test("discover: MVTec layout with spaces, masks, sorted", async () => {
  const base = await makeLayouts();
  const cats = await discoverImageCategories(join(base, "mvtec"));
  assert.equal(cats.length, 1);
  const [c] = cats;
  assert.equal(c.category, "bottle");
  assert.equal(c.layout, "mvtec");
  assert.equal(c.root, join(base, "mvtec", "bottle"));
  assert.deepEqual(c.train.map((s) => s.path.split("/").pop()), ["000.png", "001.png", "002.png"]);
  assert.ok(c.train.every((s) => s.label === 0 && s.category === "bottle"));
  assert.deepEqual(
    c.test.map((s) => [s.defect, s.label, s.path.split("/").pop(), s.maskPath !== undefined]),
    [
      ["broken large", 1, "000.png", true],
      ["broken large", 1, "001.png", false],
      ["crack", 1, "000.png", true],
      ["good", 0, "000.png", false],
      ["good", 0, "001.png", false],
    ],
  );
  assert.ok(c.test[0].maskPath!.endsWith("ground_truth/broken large/000_mask.png"));
  // The category folder itself works too.
  const single = await discoverImageCategories(join(base, "mvtec", "bottle"));
  assert.deepEqual(single, cats);
});

Deno.test("discover: course layout labelled by parent JSON and by own JSON", async () => {
  const base = await makeLayouts();
  const cats = await discoverImageCategories(join(base, "course"));
  assert.deepEqual(cats.map((c) => [c.category, c.layout, c.train.length, c.test.length]), [
    ["nut", "course", 2, 3],
    ["zip", "course", 2, 3],
  ]);
  assert.deepEqual(cats[0].test.map((s) => [s.path.split("/").pop(), s.label]), [
    ["001.png", 0],
    ["002.png", 1],
    ["003.png", 0],
  ]);
  // A category given alone still finds the labels in its parent.
  const nut = await discoverImageCategories(join(base, "course", "nut"));
  assert.deepEqual(nut, [cats[0]]);
  // Labels inside the category folder take precedence.
  await Deno.writeTextFile(
    join(base, "course", "zip", "image_anomaly_labels.json"),
    JSON.stringify({
      "zip/test/001.png": { label: "bad" },
      "zip/test/002.png": { label: "BAD" },
      "zip/test/003.png": { label: "Good" },
    }),
  );
  const zip = await discoverImageCategories(join(base, "course", "zip"));
  assert.deepEqual(zip[0].test.map((s) => s.label), [1, 1, 0]);
  // Keys written with Windows' separator name the same files.
  await Deno.writeTextFile(
    join(base, "course", "zip", "image_anomaly_labels.json"),
    JSON.stringify({
      "zip\\test\\001.png": { label: "good" },
      "zip\\test\\002.png": { label: "bad" },
      "zip\\test\\003.png": { label: "good" },
    }),
  );
  const windows = await discoverImageCategories(join(base, "course", "zip"));
  assert.deepEqual(windows[0].test.map((s) => s.label), [0, 1, 0]);
});

Deno.test("discover: a test/normal folder is read as a defect type, with one warning saying so", async () => {
  const base = join(await Deno.makeTempDir(), "cats");
  const cat = join(base, "part");
  for (const name of ["000.png", "001.png"]) await png(join(cat, "train/good", name));
  await png(join(cat, "test/normal/000.png"));
  await png(join(cat, "test/scratch/000.png"));
  const lines: string[] = [];
  const [c] = await discoverImageCategories(base, { warn: (l) => lines.push(l) });
  // Not relabelled (only test/good and test/Good are normal), but named in one line.
  assert.deepEqual(c.test.map((s) => [s.defect, s.label]), [["normal", 1], ["scratch", 1]]);
  assert.deepEqual(lines, [
    `warning: ${join(cat, "test", "normal")}: read as a defect type (its images count as ` +
    "anomalies); normal test images belong in test/good: rename it if they are normal",
  ]);
  // test/good, and an ordinary defect name, say nothing.
  await Deno.rename(join(cat, "test/normal"), join(cat, "test/good"));
  lines.length = 0;
  await discoverImageCategories(base, { warn: (l) => lines.push(l) });
  assert.deepEqual(lines, []);
});

Deno.test("discover: errors are one line and name the path", async () => {
  const base = await makeLayouts();
  await madErrorAsync(
    () => discoverImageCategories(join(base, "nope")),
    join(base, "nope"),
    "not found",
  );
  const empty = join(base, "empty");
  await Deno.mkdir(empty);
  await madErrorAsync(() => discoverImageCategories(empty), empty, "no image categories");
  await Deno.mkdir(join(empty, "cat", "test"), { recursive: true });
  await madErrorAsync(() => discoverImageCategories(empty), "cat", "no train/good folder");
  await Deno.mkdir(join(empty, "cat", "train", "good"), { recursive: true });
  await madErrorAsync(() => discoverImageCategories(empty), "train/good", "no images found");

  const course = join(base, "course");
  await png(join(course, "nut", "test", "004.png"));
  await madErrorAsync(
    () => discoverImageCategories(course),
    join(course, "nut", "test", "004.png"),
    "no label",
  );
  await Deno.remove(join(course, "image_anomaly_labels.json"));
  await madErrorAsync(() => discoverImageCategories(course), "image_anomaly_labels.json");
});

Deno.test({
  name: "discover: real course data counts",
  ignore: !hasRealCourse,
  fn: async () => {
    const cats = await discoverImageCategories(fileURLToPath(REAL_COURSE));
    const summary = cats.map((c) => [
      c.category,
      c.train.length,
      c.test.length,
      c.test.filter((s) => s.label === 0).length,
      c.test.filter((s) => s.label === 1).length,
    ]);
    assert.deepEqual(summary, [["hazelnut", 200, 55, 40, 15], ["zipper", 200, 47, 32, 15]]);
  },
});

Deno.test("listImagesToScore: file, folder, symlink loop, errors", async () => {
  const base = await makeLayouts();
  const one = join(base, "mvtec/bottle/test/crack/000.png");
  assert.deepEqual(await listImagesToScore(one), [
    { path: one, category: "crack", label: null },
  ]);
  const dir = join(base, "mvtec");
  // A link back to an ancestor must not make the walk loop forever.
  await Deno.symlink(dir, join(dir, "bottle", "loop"));
  const all = await listImagesToScore(dir);
  assert.equal(all.length, 8); // 3 train + 5 test; masks and the loop skipped
  assert.ok(all.every((s) => s.label === null && !s.path.includes("ground_truth")));
  assert.deepEqual(all.map((s) => s.path), [...all.map((s) => s.path)].sort());
  await madErrorAsync(() => listImagesToScore(join(base, "missing")), "missing", "not found");
  const bare = join(base, "bare");
  await Deno.mkdir(bare);
  await Deno.writeTextFile(join(bare, "x.txt"), "x");
  await madErrorAsync(() => listImagesToScore(bare), bare, "no images found");
  await madErrorAsync(() => listImagesToScore(join(bare, "x.txt")), "x.txt", "not a .png");
});

Deno.test("decodeImage: RGB, gray, RGBA, palette and 16-bit inputs", async () => {
  const dir = await Deno.makeTempDir();
  // RGB with distinct channels.
  const rgb = new Uint8Array(4 * 4 * 3);
  for (let i = 0; i < 16; i++) rgb.set([255, 128, 0], i * 3);
  await sharp(rgb, { raw: { width: 4, height: 4, channels: 3 } }).png().toFile(`${dir}/rgb.png`);
  const a = await decodeImage(`${dir}/rgb.png`, { size: 4, channels: 3 });
  assert.equal(a.data.length, 48);
  assert.deepEqual([a.width, a.height, a.channels], [4, 4, 3]);
  assert.deepEqual(Array.from(a.data.slice(0, 3)), [1, 128 / 255, 0].map(Math.fround));
  const a1 = await decodeImage(`${dir}/rgb.png`, { size: 2, channels: 1 });
  assert.equal(a1.data.length, 4);
  assert.ok(a1.data[0] > 0.3 && a1.data[0] < 0.8, `luminance ${a1.data[0]}`);

  // Gray replicated to three channels.
  await sharp(new Uint8Array(16).fill(51), { raw: { width: 4, height: 4, channels: 1 } }).png()
    .toFile(`${dir}/gray.png`);
  const g = await decodeImage(`${dir}/gray.png`, { size: 8, channels: 3 });
  assert.equal(g.data.length, 8 * 8 * 3);
  assert.ok(g.data.every((v) => Math.abs(v - 0.2) < 1e-6));

  // RGBA: transparent pixels flatten on black, alpha dropped.
  const rgba = new Uint8Array(4 * 4 * 4);
  for (let i = 0; i < 16; i++) rgba.set(i < 8 ? [255, 255, 255, 0] : [255, 255, 255, 255], i * 4);
  await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } }).png().toFile(`${dir}/rgba.png`);
  const t = await decodeImage(`${dir}/rgba.png`, { size: 4, channels: 3 });
  assert.equal(t.data.length, 48);
  assert.deepEqual(Array.from(t.data.slice(0, 3)), [0, 0, 0]);
  assert.deepEqual(Array.from(t.data.slice(45)), [1, 1, 1]);

  // Palette PNG.
  const pal = new Uint8Array(8 * 8 * 3);
  for (let i = 0; i < 64; i++) pal.set(i % 2 ? [200, 10, 10] : [10, 10, 200], i * 3);
  await sharp(pal, { raw: { width: 8, height: 8, channels: 3 } }).png({ palette: true })
    .toFile(`${dir}/pal.png`);
  assert.ok((await sharp(`${dir}/pal.png`).metadata()).isPalette);
  const p = await decodeImage(`${dir}/pal.png`, { size: 8, channels: 3 });
  assert.ok(Math.abs(p.data[2] - 200 / 255) < 0.03 && Math.abs(p.data[3] - 200 / 255) < 0.03);

  // 16-bit RGB and gray become the same 8-bit scale.
  const ramp = new Uint8Array(8 * 8 * 3);
  for (let i = 0; i < ramp.length; i++) ramp[i] = (i * 3) % 256;
  await sharp(ramp, { raw: { width: 8, height: 8, channels: 3 } }).toColourspace("rgb16").png()
    .toFile(`${dir}/rgb16.png`);
  assert.equal((await sharp(`${dir}/rgb16.png`).metadata()).depth, "ushort");
  const s = await decodeImage(`${dir}/rgb16.png`, { size: 8, channels: 3 });
  for (let i = 0; i < ramp.length; i++) assert.ok(Math.abs(s.data[i] - ramp[i] / 255) < 1e-6);
  await sharp(new Uint8Array(64).fill(100), { raw: { width: 8, height: 8, channels: 1 } })
    .toColourspace("grey16").png().toFile(`${dir}/g16.png`);
  const s1 = await decodeImage(`${dir}/g16.png`, { size: 4, channels: 1 });
  assert.ok(s1.data.every((v) => Math.abs(v - 100 / 255) < 1e-6));

  for (const img of [a, a1, g, t, p, s, s1]) assert.ok(img.data.every((v) => v >= 0 && v <= 1));
});

Deno.test("decodeMask: nearest resize to 0/1", async () => {
  const dir = await Deno.makeTempDir();
  const mask = new Uint8Array(8 * 8);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 4; x++) mask[y * 8 + x] = 255;
  await sharp(mask, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(`${dir}/m.png`);
  const m = await decodeMask(`${dir}/m.png`, 4);
  assert.deepEqual(Array.from(m), [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
});

Deno.test("decodeMask: a mask of 0s and 1s marks its defect with 1; noise near 0 stays normal", async () => {
  const dir = await Deno.makeTempDir();
  const ones = new Uint8Array(4 * 4);
  for (let i = 0; i < 8; i++) ones[i] = 1;
  await sharp(ones, { raw: { width: 4, height: 4, channels: 1 } }).png().toFile(`${dir}/01.png`);
  assert.deepEqual(Array.from(await decodeMask(`${dir}/01.png`, 4)), [...ones]);
  // Low values beside 255s (a JPEG's ringing) are not defect.
  const noisy = new Uint8Array(4 * 4).fill(3);
  noisy[0] = 255;
  noisy[1] = 1;
  await sharp(noisy, { raw: { width: 4, height: 4, channels: 1 } }).png().toFile(`${dir}/n.png`);
  const n = await decodeMask(`${dir}/n.png`, 4);
  assert.deepEqual(Array.from(n.slice(0, 3)), [1, 0, 0]);
  assert.equal(n.reduce((a, b) => a + b, 0), 1);
});

Deno.test("decodeImage: EXIF orientation turns the image as viewers show it", async () => {
  const dir = await Deno.makeTempDir();
  // Stored 4 wide and 2 high, left half white: orientation 6 shows it turned 90° clockwise,
  // 2 wide and 4 high with the white half on top.
  const raw = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 2; x++) raw.fill(255, (y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
  }
  await sharp(raw, { raw: { width: 4, height: 2, channels: 3 } }).withMetadata({ orientation: 6 })
    .jpeg({ quality: 100 }).toFile(`${dir}/turned.jpg`);
  assert.equal((await sharp(`${dir}/turned.jpg`).metadata()).orientation, 6);
  const img = await decodeImage(`${dir}/turned.jpg`, { size: 2, channels: 1 });
  assert.ok(img.data[0] > 0.9 && img.data[1] > 0.9, `top row white: ${img.data}`);
  assert.ok(img.data[2] < 0.1 && img.data[3] < 0.1, `bottom row black: ${img.data}`);
});

Deno.test("decodeImage: floating-point pixels are read on their own scale, or refused", async () => {
  const dir = await Deno.makeTempDir();
  const write = async (name: string, values: number[]) => {
    await Deno.writeFile(`${dir}/${name}.tif`, floatTiff(2, 2, values));
    assert.equal((await sharp(`${dir}/${name}.tif`).metadata()).depth, "float");
  };
  await write("unit", [0, 0.25, 0.5, 1]);
  const unit = await decodeImage(`${dir}/unit.tif`, { size: 2, channels: 1 });
  assert.deepEqual(Array.from(unit.data), [0, 0.25, 0.5, 1]);
  await write("bytes", [0, 51, 102, 255]);
  const bytes = await decodeImage(`${dir}/bytes.tif`, { size: 2, channels: 3 });
  assert.ok(Math.abs(bytes.data[3] - 0.2) < 1e-6 && bytes.data[11] === 1, `${bytes.data}`);
  await write("signed", [-1, 0, 0.5, 1]);
  await madErrorAsync(
    () => decodeImage(`${dir}/signed.tif`, { size: 2, channels: 1 }),
    "signed.tif",
    "floating-point pixels from -1 to 1",
  );
});

Deno.test("decodeImage: bad files give one-line errors naming the file", async () => {
  const dir = join(await Deno.makeTempDir(), "bad images");
  await Deno.mkdir(dir);
  await png(`${dir}/good.png`, { width: 32, height: 32 });
  const bytes = await Deno.readFile(`${dir}/good.png`);
  await Deno.writeFile(`${dir}/empty.png`, new Uint8Array());
  await Deno.writeFile(`${dir}/truncated.png`, bytes.slice(0, Math.floor(bytes.length / 2)));
  const corrupt = bytes.slice();
  for (let i = 60; i < corrupt.length - 20; i++) corrupt[i] ^= 0x5a;
  await Deno.writeFile(`${dir}/corrupt.png`, corrupt);
  await Deno.writeTextFile(`${dir}/notes.png`, "this is text, not a PNG\nsecond line\n");
  await Deno.writeFile(`${dir}/bomb.png`, bombPng(100_000, 100_000));
  const opts = { size: 8, channels: 3 } as const;
  for (const name of ["empty", "truncated", "corrupt", "notes"]) {
    const path = `${dir}/${name}.png`;
    const message = await madErrorAsync(() => decodeImage(path, opts), "not a readable image");
    assert.ok(message.startsWith(`${path}: `), message);
  }
  // The refusal says what to do: downscale (or tile) first; the default limit is 8192x8192.
  await madErrorAsync(
    () => decodeImage(`${dir}/bomb.png`, opts),
    "bomb.png",
    "100000x100000",
    "(8192x8192; refused as a possible decompression bomb): downscale it below that first",
  );
  await madErrorAsync(
    () => decodeImage(`${dir}/good.png`, { ...opts, maxPixels: 100 }),
    "good.png",
    "above the limit",
  );
  await madErrorAsync(() => decodeImage(`${dir}/missing.png`, opts), "missing.png", "not found");
  await madErrorAsync(() => decodeMask(`${dir}/truncated.png`, 8), "truncated.png");
  assert.equal((await decodeImage(`${dir}/good.png`, opts)).data.length, 8 * 8 * 3);
});

Deno.test("ImageCache: second pass and second instance do not decode", async () => {
  const dir = join(await Deno.makeTempDir(), "with space");
  const paths = [0, 1, 2].map((i) => `${dir}/img${i}.png`);
  for (const [i, p] of paths.entries()) await png(p, { width: 16, height: 16, value: i * 40 });
  const cacheDir = join(dir, ".cache", "images");
  const opts = { size: 8, channels: 3 } as const;

  const memOnly = new ImageCache();
  for (let epoch = 0; epoch < 2; epoch++) for (const p of paths) await memOnly.get(p, opts);
  assert.deepEqual(memOnly.stats, { decodes: 3, memoryHits: 3, diskHits: 0, corrupt: 0 });

  const first = new ImageCache(cacheDir);
  const fresh = await Promise.all(paths.map((p) => first.get(p, opts)));
  await Promise.all(paths.map((p) => first.get(p, opts)));
  assert.equal(first.stats.decodes, 3);
  assert.equal(first.stats.memoryHits, 3);
  assert.equal([...Deno.readDirSync(cacheDir)].filter((e) => e.name.endsWith(".f32")).length, 3);

  const second = new ImageCache(cacheDir);
  const again = await Promise.all(paths.map((p) => second.get(p, opts)));
  assert.deepEqual(second.stats, { decodes: 0, memoryHits: 0, diskHits: 3, corrupt: 0 });
  assert.deepEqual(again, fresh);
  // Another size or channel count is another entry.
  await second.get(paths[0], { size: 4, channels: 1 });
  assert.equal(second.stats.decodes, 1);

  // A corrupt entry is ignored, re-decoded and rewritten.
  for (const e of Deno.readDirSync(cacheDir)) {
    await Deno.writeFile(join(cacheDir, e.name), new Uint8Array([1, 2, 3]));
  }
  const third = new ImageCache(cacheDir);
  const repaired = await Promise.all(paths.map((p) => third.get(p, opts)));
  assert.equal(third.stats.decodes, 3);
  assert.equal(third.stats.corrupt, 3);
  assert.deepEqual(repaired, fresh);
  const fourth = new ImageCache(cacheDir);
  await Promise.all(paths.map((p) => fourth.get(p, opts)));
  assert.equal(fourth.stats.diskHits, 3);

  // A changed file is a different entry.
  await png(paths[1], { width: 16, height: 16, value: 7, channels: 1 });
  await Deno.utime(paths[1], new Date(), new Date(Date.now() + 5000));
  const fifth = new ImageCache(cacheDir);
  await fifth.get(paths[1], opts);
  assert.equal(fifth.stats.decodes, 1);
  await madErrorAsync(() => fifth.get(`${dir}/none.png`, opts), "none.png", "not found");
});

Deno.test("smallImagesWarning: names images smaller than the model's input, none otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-small-" });
  try {
    const png = (side: number) =>
      sharp({ create: { width: side, height: side, channels: 3, background: "#808080" } }).png()
        .toBuffer();
    const small = join(dir, "small.png");
    const large = join(dir, "large.png");
    await Deno.writeFile(small, await png(16));
    await Deno.writeFile(large, await png(256));
    const warning = await smallImagesWarning([large, small], 128);
    assert.ok(warning);
    assert.match(warning, /^1 of 2 images are smaller than the model's 128 px input/);
    assert.ok(warning.includes(`${small}: 16x16`), warning);
    assert.ok(!warning.includes("\n"));
    assert.equal(await smallImagesWarning([large], 128), null);
    // A sample of the files is read, and the warning says so.
    const sampled = await smallImagesWarning(Array(20).fill(small), 128, 4);
    assert.match(sampled ?? "", /^4 of the 4 images checked \(of 20\) are smaller/);
    // Unreadable files are decoding's to name, not this check's.
    await Deno.writeTextFile(join(dir, "broken.png"), "not a png");
    assert.equal(await smallImagesWarning([join(dir, "broken.png"), large], 128), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

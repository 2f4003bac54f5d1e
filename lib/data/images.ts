/**
 * Image datasets: finding the images of the two supported folder layouts (MVTec AD and the
 * course subset with a JSON label file) and decoding PNG/JPEG/TIFF/WebP files to float tensors.
 *
 * @module
 */
import { basename, dirname, extname, join, resolve } from "node:path";
import sharp from "sharp";
import { fileError, isNotFound, MadError } from "../errors.ts";
import type { DecodedImage, ImageCategory, ImageSample } from "./types.ts";

/** File extensions treated as images: the formats sharp decodes that image data sets use. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".png",
  ".jpg",
  ".jpeg",
  ".tif",
  ".tiff",
  ".webp",
];

/** The accepted extensions in words, for messages: `.png/.jpg/.jpeg/.tif/.tiff/.webp`. */
export const IMAGE_EXTENSIONS_TEXT = IMAGE_EXTENSIONS.join("/");

/** Name of the course layout's label file, looked for in the category folder or its parent. */
export const COURSE_LABELS_FILE = "image_anomaly_labels.json";

/** Default refusal threshold: larger images are treated as decompression bombs. */
export const DEFAULT_MAX_PIXELS = 8192 * 8192;

/** True when `name` has an image extension (case-insensitive). */
export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

/** Plain code-point order, so listings do not depend on the locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw fileError(path, readProblem(e));
  }
}

/** What went wrong reading a path, in words (a symlink loop gets its own message). */
export function readProblem(e: unknown): string {
  if (e instanceof Deno.errors.FilesystemLoop) {
    return "symbolic link loop (the link leads back to itself); remove or fix it";
  }
  return `cannot read (${oneLine(e)})`;
}

async function isDir(path: string): Promise<boolean> {
  return (await statOrNull(path))?.isDirectory ?? false;
}

/** Entries of a folder, symlinks followed (broken ones skipped), sorted by name. */
async function listDir(path: string): Promise<{ name: string; isDir: boolean; isFile: boolean }[]> {
  const out: { name: string; isDir: boolean; isFile: boolean }[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      let dir = entry.isDirectory;
      let file = entry.isFile;
      if (entry.isSymlink) {
        const info = await statOrNull(join(path, entry.name));
        if (!info) continue;
        dir = info.isDirectory;
        file = info.isFile;
      }
      out.push({ name: entry.name, isDir: dir, isFile: file });
    }
  } catch (e) {
    if (e instanceof MadError) throw e;
    throw fileError(path, `cannot list folder (${oneLine(e)})`);
  }
  return out.sort((a, b) => byName(a.name, b.name));
}

/**
 * Files in image folders left out because of their extension (hidden files such as `.DS_Store`
 * are not counted), so that one warning can say how many and which.
 */
export class SkippedFiles {
  readonly files: string[] = [];

  /**
   * Remembers `path` (a folder's with a trailing `/`) unless its name is hidden or it is the
   * course layout's label file.
   */
  add(path: string): void {
    const name = basename(path);
    if (!name.startsWith(".") && name !== COURSE_LABELS_FILE) this.files.push(path);
  }

  /** `warning: skipped 2 files that are not images read here (.bmp 1, .txt 1): ...`, or null. */
  warning(): string | null {
    if (this.files.length === 0) return null;
    const byExt = new Map<string, number>();
    for (const f of this.files) {
      const ext = f.endsWith("/") ? "folder" : extname(f).toLowerCase() || "(no extension)";
      byExt.set(ext, (byExt.get(ext) ?? 0) + 1);
    }
    const exts = [...byExt].map(([ext, n]) => `${ext} ${n}`).join(", ");
    const n = this.files.length;
    const shown = this.files.slice(0, 3).join(", ") + (n > 3 ? `, ... (${n - 3} more)` : "");
    return `warning: skipped ${n} file${n === 1 ? "" : "s"} in image folders that ` +
      `${n === 1 ? "is" : "are"} not ${IMAGE_EXTENSIONS_TEXT} (${exts}): ${shown}`;
  }
}

/**
 * The image files directly in `dir`; other files, and subfolders unless `hasSubfolders` (a
 * test/ folder of the MVTec layout), are noted in `skipped`: their images are not read.
 */
async function imagesIn(
  dir: string,
  skipped?: SkippedFiles,
  hasSubfolders = false,
): Promise<string[]> {
  const out: string[] = [];
  for (const e of await listDir(dir)) {
    // Hidden files are no one's images: macOS copies leave `._000.png` (its metadata) beside
    // each image on a foreign disk, which is no PNG.
    if (e.name.startsWith(".")) continue;
    if (e.isDir) {
      if (!hasSubfolders) skipped?.add(join(dir, e.name) + "/");
    } else if (!e.isFile) continue;
    else if (isImageFile(e.name)) out.push(join(dir, e.name));
    else skipped?.add(join(dir, e.name));
  }
  return out;
}

/** The first line of an error's message, for one-line user-facing errors. */
function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n").map((s) => s.trim()).find((s) => s.length > 0) ?? "unknown error";
}

/** A category folder has `train/good` or `test` inside it. */
async function looksLikeCategory(dir: string): Promise<boolean> {
  return await isDir(join(dir, "train", "good")) || await isDir(join(dir, "test"));
}

/**
 * Finds the image categories in `dir`, which is either one category folder or a parent of
 * several. Each category's layout is detected on its own: subfolders of `test/` mean MVTec AD
 * (`test/good` normal, other subfolders defect types, masks in `ground_truth/`), image files
 * directly in `test/` mean the course layout, labelled by `image_anomaly_labels.json` in the
 * category folder or its parent. Results are sorted by category and file name.
 *
 * Files skipped for their extension are reported once, in one line to `options.warn` (default
 * `console.warn`), which also hears a line for each `test/` folder named like normal images
 * (`normal`, `ok`): it is read as a defect type.
 *
 * @throws {MadError} when the folder is missing, holds no categories or images, a course
 * test image has no label, or `test/` mixes subfolders of images with loose images.
 */
export async function discoverImageCategories(
  dir: string,
  options: {
    warn?: (line: string) => void;
    /**
     * When given, a category that cannot be loaded is passed here (with a one-line reason) and
     * left out.
     */
    skipCategory?: (root: string, reason: string) => void;
  } = {},
): Promise<ImageCategory[]> {
  const root = resolve(dir);
  const info = await statOrNull(root);
  if (!info) throw fileError(dir, "folder not found");
  if (!info.isDirectory) throw fileError(dir, "not a folder");
  let roots: string[];
  if (await looksLikeCategory(root)) {
    roots = [root];
  } else {
    roots = [];
    for (const entry of await listDir(root)) {
      const sub = join(root, entry.name);
      if (entry.isDir && !entry.name.startsWith(".") && await looksLikeCategory(sub)) {
        roots.push(sub);
      }
    }
  }
  if (roots.length === 0) {
    throw fileError(dir, "no image categories found (expected CATEGORY/train/good/*.png)");
  }
  const warn = options.warn ?? console.warn;
  const labelCache = new Map<string, Record<string, unknown> | null>();
  const categories: ImageCategory[] = [];
  const skipped = new SkippedFiles();
  for (const categoryRoot of roots) {
    if (!options.skipCategory) {
      categories.push(await loadCategory(categoryRoot, labelCache, skipped, warn));
      continue;
    }
    try {
      categories.push(await loadCategory(categoryRoot, labelCache, skipped, warn));
    } catch (e) {
      options.skipCategory(categoryRoot, oneLine(e));
    }
  }
  const warning = skipped.warning();
  if (warning) warn(warning);
  return categories;
}

/** Names of a `test/` subfolder that mean normal images elsewhere, lower case (`good` is read). */
const NORMAL_FOLDER_NAMES = new Set([
  "normal",
  "normals",
  "ok",
  "nominal",
  "defect_free",
  "no_defect",
]);

async function loadCategory(
  root: string,
  labelCache: Map<string, Record<string, unknown> | null>,
  skipped: SkippedFiles,
  warn: (line: string) => void,
): Promise<ImageCategory> {
  const category = basename(root);
  const trainDir = join(root, "train", "good");
  if (!(await isDir(trainDir))) {
    const other = (await isDir(join(root, "train")))
      ? (await listDir(join(root, "train"))).find((e) => e.isDir && e.name.toLowerCase() === "good")
      : undefined;
    throw fileError(
      root,
      "no train/good folder: a category holds its normal training images in train/good " +
        "(MVTec AD and course layouts)" +
        (other ? `; rename train/${other.name} to train/good (names are case-sensitive)` : ""),
    );
  }
  const train: ImageSample[] = (await imagesIn(trainDir, skipped))
    .map((path) => ({ path, category, label: 0, defect: "good" }));
  if (train.length === 0) throw fileError(trainDir, `no images found (${IMAGE_EXTENSIONS_TEXT})`);

  const testDir = join(root, "test");
  if (!(await isDir(testDir))) return { root, category, layout: "mvtec", train, test: [] };
  const flat = await imagesIn(testDir, skipped, true);
  const subfolders = (await listDir(testDir)).filter((e) => e.isDir && !e.name.startsWith("."));
  if (flat.length > 0 && subfolders.length > 0) {
    const names = flat.slice(0, 3).map((f) => basename(f)).join(", ") +
      (flat.length > 3 ? `, ... (${flat.length - 3} more)` : "");
    const folders = subfolders.slice(0, 4).map((e) => `${e.name}/`).join(", ") +
      (subfolders.length > 4 ? ", ..." : "");
    throw fileError(
      testDir,
      `mixes subfolders (${folders}) with ${flat.length} loose image${
        flat.length === 1 ? "" : "s"
      } (${names}); the MVTec layout keeps test images in test/good/ and test/<defect>/, the ` +
        `course layout keeps them all directly in test/ with ${COURSE_LABELS_FILE}: move or ` +
        `remove the loose ones`,
    );
  }
  if (flat.length > 0) {
    return {
      root,
      category,
      layout: "course",
      train,
      test: await courseTest(root, flat, labelCache),
    };
  }
  const test: ImageSample[] = [];
  for (const entry of await listDir(testDir)) {
    if (!entry.isDir || entry.name.startsWith(".")) continue;
    const defect = entry.name;
    // `test/Good` means what `test/good` does.
    const good = defect.toLowerCase() === "good";
    if (NORMAL_FOLDER_NAMES.has(defect.toLowerCase())) {
      // MVTec names normal test images `good`: any other folder is a defect type.
      warn(
        `warning: ${join(testDir, defect)}: read as a defect type (its images count as ` +
          "anomalies); normal test images belong in test/good: rename it if they are normal",
      );
    }
    for (const path of await imagesIn(join(testDir, defect), skipped)) {
      const sample: ImageSample = {
        path,
        category,
        label: good ? 0 : 1,
        defect: good ? "good" : defect,
      };
      if (!good) {
        const stem = basename(path, extname(path));
        const maskPath = join(root, "ground_truth", defect, `${stem}_mask.png`);
        if ((await statOrNull(maskPath))?.isFile) sample.maskPath = maskPath;
      }
      test.push(sample);
    }
  }
  return { root, category, layout: "mvtec", train, test };
}

async function readLabels(
  path: string,
  labelCache: Map<string, Record<string, unknown> | null>,
): Promise<Record<string, unknown> | null> {
  if (labelCache.has(path)) return labelCache.get(path)!;
  let parsed: Record<string, unknown> | null = null;
  if ((await statOrNull(path))?.isFile) {
    let value: unknown;
    try {
      value = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw fileError(path, `not valid JSON (${oneLine(e)})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw fileError(path, "expected a JSON object mapping image paths to labels");
    }
    // Keys written on Windows (`nuts\test\000.png`) name the same files.
    parsed = Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map((
        [k, v],
      ) => [k.replaceAll("\\", "/"), v]),
    );
  }
  labelCache.set(path, parsed);
  return parsed;
}

async function courseTest(
  root: string,
  files: string[],
  labelCache: Map<string, Record<string, unknown> | null>,
): Promise<ImageSample[]> {
  const category = basename(root);
  let labelsPath = join(root, COURSE_LABELS_FILE);
  let labels = await readLabels(labelsPath, labelCache);
  if (!labels) {
    labelsPath = join(dirname(root), COURSE_LABELS_FILE);
    labels = await readLabels(labelsPath, labelCache);
  }
  if (!labels) {
    throw fileError(
      join(root, "test"),
      `test images without subfolders need ${COURSE_LABELS_FILE} in ${root} or its parent`,
    );
  }
  return files.map((path) => {
    const name = basename(path);
    // Keys are relative to the labels file's folder; accept either anchoring.
    const entry = labels[`${category}/test/${name}`] ?? labels[`test/${name}`];
    if (entry === undefined) throw fileError(path, `test image has no label in ${labelsPath}`);
    const raw = typeof entry === "object" && entry !== null
      ? (entry as { label?: unknown }).label
      : entry;
    // Any case: a label file written as "GOOD"/"BAD" means the same.
    const label = typeof raw === "string" ? raw.toLowerCase() : raw;
    if (label !== "good" && label !== "bad") {
      throw fileError(labelsPath, `label of ${category}/test/${name} must be "good" or "bad"`);
    }
    const sample: ImageSample = label === "good"
      ? { path, category, label: 0, defect: "good" }
      : { path, category, label: 1 };
    return sample;
  });
}

/**
 * Lists images to score without labels: `pathOrDir` is one image file or a folder searched
 * recursively (hidden folders and `ground_truth` mask folders skipped, symlink loops
 * visited once). Each sample's category is its parent folder's name and its label is null.
 * Files skipped for their extension are reported once to `options.warn` (default
 * `console.warn`).
 *
 * @throws {MadError} when the path is missing, is not an image, or no images are found.
 */
export async function listImagesToScore(
  pathOrDir: string,
  options: { warn?: (line: string) => void } = {},
): Promise<ImageSample[]> {
  const root = resolve(pathOrDir);
  const info = await statOrNull(root);
  if (!info) throw fileError(pathOrDir, "not found");
  if (info.isFile) {
    if (!isImageFile(root)) {
      throw fileError(pathOrDir, `not a ${IMAGE_EXTENSIONS_TEXT} image file`);
    }
    return [{ path: root, category: basename(dirname(root)), label: null }];
  }
  const found: string[] = [];
  const skipped = new SkippedFiles();
  const visited = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch (e) {
      throw fileError(dir, readProblem(e));
    }
    if (visited.has(real)) return;
    visited.add(real);
    for (const entry of await listDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDir) {
        if (!entry.name.startsWith(".") && entry.name !== "ground_truth") await walk(path);
      } else if (entry.isFile && isImageFile(entry.name) && !entry.name.startsWith(".")) {
        found.push(path);
      } else if (entry.isFile) {
        skipped.add(path);
      }
    }
  };
  await walk(root);
  if (found.length === 0) throw fileError(pathOrDir, `no images found (${IMAGE_EXTENSIONS_TEXT})`);
  const warning = skipped.warning();
  if (warning) (options.warn ?? console.warn)(warning);
  return found.sort(byName).map((path) => ({
    path,
    category: basename(dirname(path)),
    label: null,
  }));
}

/**
 * Why a category's test part gives no AUROC (it holds one class, or nothing), or null: what
 * compares methods or variants by AUROC (benchmark, ablation) cannot use such a category.
 */
export function testClassProblem(
  category: { test: readonly Pick<ImageSample, "label">[] },
): string | null {
  const anomalies = category.test.filter((s) => s.label === 1).length;
  const n = category.test.length;
  if (anomalies > 0 && anomalies < n) return null;
  const holds = n === 0
    ? "none"
    : anomalies === 0
    ? `only good ones, ${n}`
    : `only defects, ${anomalies}`;
  return `needs both normal and anomalous test images (test/ holds ${holds})`;
}

/** Options of {@linkcode decodeImage}. */
export interface DecodeOptions {
  /** Output width and height (the image is resized to size×size). */
  size: number;
  /** 1 = grayscale (luminance), 3 = RGB (gray replicated). */
  channels: 1 | 3;
  /** Refuse images with more pixels than this; default {@linkcode DEFAULT_MAX_PIXELS}. */
  maxPixels?: number;
}

type SharpPipeline = ReturnType<typeof sharp>;

/** A file opened for decoding, and the sample format its pixels are stored in. */
interface OpenedImage {
  pipeline: SharpPipeline;
  /** libvips' band format: "uchar" for 8-bit files, "ushort" for 16-bit, "float", ... */
  depth: string;
}

/**
 * Checks the file exists, is not empty and is not too large, reading only the header; the
 * pipeline turns the image as its EXIF orientation says, as every viewer shows it (a phone's
 * JPEG is often stored on its side).
 */
async function openChecked(path: string, maxPixels: number): Promise<OpenedImage> {
  const info = await statOrNull(path);
  if (!info) throw fileError(path, "image file not found");
  if (!info.isFile) throw fileError(path, "not a file");
  if (info.size === 0) throw fileError(path, "not a readable image (empty file)");
  let width = 0;
  let height = 0;
  let depth = "uchar";
  try {
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
    depth = meta.depth ?? depth;
  } catch (e) {
    throw fileError(path, `not a readable image (${oneLine(e)})`);
  }
  if (width * height > maxPixels) {
    throw fileError(
      path,
      `image is ${width}x${height} pixels, above the limit of ${maxPixels} (${
        maxPixels === DEFAULT_MAX_PIXELS ? "8192x8192; " : ""
      }refused as a possible decompression bomb): downscale it below that first, or cut it ` +
        "into tiles (the model reads images at model.imageSize, 128 px by default, anyway)",
    );
  }
  // failOn "truncated" makes libvips reject PNGs cut short instead of returning grey rows.
  const pipeline = sharp(path, {
    failOn: "truncated",
    limitInputPixels: maxPixels,
    sequentialRead: true,
  })
    .rotate();
  return { pipeline, depth };
}

/** Band formats of floating-point pixels, whose values are not on the 8-bit scale. */
const FLOAT_DEPTHS = new Set(["float", "double"]);

async function runPipeline(path: string, pipeline: SharpPipeline) {
  try {
    return await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw fileError(path, `not a readable image (${oneLine(e)})`);
  }
}

/**
 * The pixels of a floating-point image (a scientific TIFF) in [0, 1]: as stored when they lie in
 * [0, 1], else divided by 255 or 65,535 when they lie within that range. Cast to 8 bits as other
 * images are, values of 0 to 1 all became 0, and a category of black images trained without a
 * word. Any other range is refused: no one scale would fit every image of a category.
 */
async function floatPixels(path: string, pipeline: SharpPipeline) {
  let decoded;
  try {
    decoded = await pipeline.raw({ depth: "float" }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw fileError(path, `not a readable image (${oneLine(e)})`);
  }
  const { data, info } = decoded;
  const values = new Float32Array(data.buffer, data.byteOffset, data.length / 4);
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const scale = [1, 255, 65535].find((top) => min >= 0 && max <= top * (1 + 1e-6));
  if (scale === undefined) {
    throw fileError(
      path,
      `floating-point pixels from ${min} to ${max}: expected 0 to 1 (or 255, or 65535); ` +
        "save the image as 8- or 16-bit, or scaled to 0..1",
    );
  }
  return { values, info, scale };
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 8192) {
    throw new MadError(`image size must be an integer in 1..8192, got ${size}`);
  }
}

/**
 * Decodes an image file to HWC float32 in [0, 1], resized to `size`×`size`, turned as its EXIF
 * orientation says. Alpha is flattened on black and dropped; palette and 16-bit images become
 * 8-bit; floating-point pixels are read on their own scale ({@linkcode floatPixels}); grayscale
 * becomes three equal channels when `channels` is 3, colour becomes luminance when it is 1.
 *
 * @throws {MadError} `PATH: not a readable image (...)` for empty, corrupt, truncated or
 * non-image files, a refusal for images above `maxPixels`, and one for floating-point pixels
 * outside 0..1, 0..255 and 0..65535.
 */
export async function decodeImage(path: string, options: DecodeOptions): Promise<DecodedImage> {
  const { size, channels } = options;
  checkSize(size);
  const opened = await openChecked(path, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  const float = FLOAT_DEPTHS.has(opened.depth);
  let pipeline = opened.pipeline.flatten({ background: { r: 0, g: 0, b: 0 } });
  // libvips' grey conversion casts floating-point pixels to 8 bits: they are made grey below.
  if (channels === 1 && !float) pipeline = pipeline.grayscale();
  else pipeline = pipeline.toColourspace("srgb");
  pipeline = pipeline.resize(size, size, { fit: "fill" });
  const { values, info, scale } = float
    ? await floatPixels(path, pipeline)
    : await runPipeline(path, pipeline).then(({ data, info }) => ({
      values: data,
      info,
      scale: 255,
    }));
  const inC = info.channels;
  const n = size * size;
  if (info.width !== size || info.height !== size || values.length < n * inC) {
    throw fileError(path, `not a readable image (decoded to an unexpected shape)`);
  }
  const out = new Float32Array(n * channels);
  // libvips may keep one band for grey input even after srgb; replicate or pick as needed.
  const gray = inC < 3;
  for (let i = 0; i < n; i++) {
    if (channels === 1) {
      const at = i * inC;
      // Rec. 709 luminance, as libvips' own grey conversion weighs the channels.
      out[i] = (gray ? values[at] : 0.2126 * values[at] + 0.7152 * values[at + 1] +
        0.0722 * values[at + 2]) / scale;
    } else if (gray) {
      const v = values[i * inC] / scale;
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    } else {
      out[i * 3] = values[i * inC] / scale;
      out[i * 3 + 1] = values[i * inC + 1] / scale;
      out[i * 3 + 2] = values[i * inC + 2] / scale;
    }
  }
  return { width: size, height: size, channels, data: out };
}

/**
 * A warning (one line, without "warning: ") when images among `paths` are smaller than `size`
 * px on a side, or null: they are enlarged to `size` x `size`, so the model reads interpolated
 * pixels, which a user with small images (28 px digits, thumbnails) should know. Reads the
 * headers of up to `sample` files spread over the list, not every file: images of one category
 * come alike. Unreadable files are passed over here; decoding names them.
 */
export async function smallImagesWarning(
  paths: readonly string[],
  size: number,
  sample = 16,
): Promise<string | null> {
  const step = Math.max(1, Math.floor(paths.length / sample));
  const small: { path: string; width: number; height: number }[] = [];
  let read = 0;
  for (let i = 0; i < paths.length && read < sample; i += step, read++) {
    const stored = await storedSize(paths[i]).catch(() => null);
    if (stored && (stored.width < size || stored.height < size)) {
      small.push({ path: paths[i], ...stored });
    }
  }
  if (small.length === 0) return null;
  const { path, width, height } = small[0];
  // Only a sample's headers are read: say so, or "11 of 11" reads as if 11 were all there are.
  const checked = read < paths.length
    ? `${small.length} of the ${read} images checked (of ${paths.length})`
    : `${small.length} of ${read} images`;
  return `${checked} are smaller than the model's ${size} ` +
    `px input and are enlarged to it (${path}: ${width}x${height}); the model reads interpolated ` +
    "pixels (a config with a smaller model.imageSize may suit them)";
}

/** Width and height of an image file as shown (its header's, turned by its EXIF orientation). */
async function storedSize(path: string): Promise<{ width: number; height: number }> {
  try {
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    return {
      width: meta.autoOrient?.width ?? meta.width ?? 0,
      height: meta.autoOrient?.height ?? meta.height ?? 0,
    };
  } catch (e) {
    throw fileError(path, `not a readable image (${oneLine(e)})`);
  }
}

/**
 * Refuses a mask whose aspect ratio differs from its image's by more than a pixel's rounding:
 * stretching it would mark the wrong pixels. Another resolution at the same aspect is fine.
 */
async function checkMaskShape(maskPath: string, imagePath: string): Promise<void> {
  const mask = await storedSize(maskPath);
  const image = await storedSize(imagePath);
  if (!mask.width || !mask.height || !image.width || !image.height) return;
  // The mask's height at the image's aspect, within half a pixel of either side's rounding.
  const expected = (mask.width * image.height) / image.width;
  const tolerance = 0.5 + mask.width / image.width + mask.height / image.height;
  if (Math.abs(mask.height - expected) > tolerance) {
    throw fileError(
      maskPath,
      `mask is ${mask.width}x${mask.height} but its image ${imagePath} is ` +
        `${image.width}x${image.height} (another aspect ratio); masks must cover their image`,
    );
  }
}

/**
 * Decodes a ground-truth mask to `size`×`size` values of 0 or 1 (nearest-neighbour resize,
 * threshold at half intensity, or at 1 for a mask of 0s and 1s). With `options.imagePath`, a mask of another aspect ratio than
 * its image is refused (one of another resolution is resized).
 *
 * @throws {MadError} as {@linkcode decodeImage}, and `MASK: mask is WxH but its image ... is
 * WxH (another aspect ratio)`.
 */
export async function decodeMask(
  path: string,
  size: number,
  options: { maxPixels?: number; imagePath?: string } = {},
): Promise<Float32Array> {
  checkSize(size);
  if (options.imagePath) await checkMaskShape(path, options.imagePath);
  const pipeline = (await openChecked(path, options.maxPixels ?? DEFAULT_MAX_PIXELS)).pipeline
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .grayscale()
    .resize(size, size, { fit: "fill", kernel: "nearest" });
  const { data, info } = await runPipeline(path, pipeline);
  const inC = info.channels;
  let top = 0;
  for (let i = 0; i < size * size; i++) top = Math.max(top, data[i * inC]);
  // A mask of 0s and 1s (numpy's export of a boolean array) marks its defect with 1; any other
  // mask is 0 to 255, as MVTec's, and halfway splits it (JPEG noise near 0 stays normal).
  const threshold = top === 1 ? 1 : 128;
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = data[i * inC] >= threshold ? 1 : 0;
  return out;
}

/**
 * Small synthetic datasets, deterministic by seed, for the offline demo and the tests: an
 * image dataset in the MVTec AD layout with planted defects and masks, and a numeric table
 * with correlated normals and planted outliers.
 *
 * @module
 */
import { dirname, join } from "node:path";
import sharp from "sharp";
import { writeFileAtomic } from "../util/files.ts";
import { fileError, isNotFound, MadError } from "../errors.ts";
import { Rng } from "../rng.ts";
import type { Table } from "./types.ts";
import { paintStripe } from "./stripe.ts";

/** Texture kinds the generator knows; other category names reuse them in turn. */
export const SYNTHETIC_KINDS = ["weave", "dots"] as const;
/** A texture kind. */
export type SyntheticKind = typeof SYNTHETIC_KINDS[number];
/** Defect types planted in test images. */
export const SYNTHETIC_DEFECTS = ["scratch", "stain", "hole"] as const;
/** A defect type. */
export type SyntheticDefect = typeof SYNTHETIC_DEFECTS[number];

/** Marker file that lets a later run replace a folder it generated itself. */
const MARKER = ".synthetic.json";

/** One generated picture: 8-bit HWC pixels, and the defect mask (255 = defect) if any. */
export interface SyntheticPicture {
  size: number;
  channels: 1 | 3;
  pixels: Uint8Array;
  /** The same picture before the defect was painted. */
  clean: Uint8Array;
  mask: Uint8Array | null;
}

/** A stable 32-bit seed from a base seed and a label, so categories get independent streams. */
function deriveSeed(seed: number, label: string): number {
  let h = (seed >>> 0) ^ 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function clamp255(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** The kind used for a category name: its own when it is one, else by position. */
export function kindOf(category: string, index: number): SyntheticKind {
  return (SYNTHETIC_KINDS as readonly string[]).includes(category)
    ? category as SyntheticKind
    : SYNTHETIC_KINDS[index % SYNTHETIC_KINDS.length];
}

function renderWeave(size: number, rng: Rng): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const period = 8;
  // Small per-image jitter in phase, contrast and tint keeps "normal" from being one image.
  const px = rng.uniform(0, period);
  const py = rng.uniform(0, period);
  const contrast = rng.uniform(0.85, 1.15);
  const tint = [rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-8, 8)];
  const base = [150, 120, 80];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = Math.sin((2 * Math.PI * (x + px)) / period);
      const v = Math.sin((2 * Math.PI * (y + py)) / period);
      // Over-under threads: horizontal or vertical thread on top by checkerboard cell.
      const cell = (Math.floor((x + px) / period) + Math.floor((y + py) / period)) & 1;
      const thread = cell ? Math.abs(u) : Math.abs(v);
      const shade = 55 * contrast * (thread - 0.5);
      for (let c = 0; c < 3; c++) {
        out[(y * size + x) * 3 + c] = clamp255(base[c] + tint[c] + shade + 4 * rng.normal());
      }
    }
  }
  return out;
}

function renderDots(size: number, rng: Rng): Uint8Array {
  const out = new Float64Array(size * size).fill(60);
  const step = 10;
  const radius = 3;
  const ox = rng.uniform(0, step);
  const oy = rng.uniform(0, step);
  for (let gy = -1; gy * step < size + step; gy++) {
    for (let gx = -1; gx * step < size + step; gx++) {
      const cx = ox + gx * step + rng.uniform(-1, 1);
      const cy = oy + gy * step + rng.uniform(-1, 1);
      const r = radius * rng.uniform(0.85, 1.15);
      const x0 = Math.max(0, Math.floor(cx - 2 * r));
      const x1 = Math.min(size - 1, Math.ceil(cx + 2 * r));
      const y0 = Math.max(0, Math.floor(cy - 2 * r));
      const y1 = Math.min(size - 1, Math.ceil(cy + 2 * r));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const d2 = ((x - cx) ** 2 + (y - cy) ** 2) / (r * r);
          out[y * size + x] += 140 * Math.exp(-d2);
        }
      }
    }
  }
  const pixels = new Uint8Array(size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = clamp255(out[i] + 4 * rng.normal());
  return pixels;
}

/** Boolean footprint of a defect (1 inside), sized relative to the image. */
function defectFootprint(defect: SyntheticDefect, size: number, rng: Rng): Uint8Array {
  const mask = new Uint8Array(size * size);
  const margin = Math.max(2, Math.round(size * 0.15));
  const cx = rng.uniform(margin, size - margin);
  const cy = rng.uniform(margin, size - margin);
  if (defect === "scratch") {
    const angle = rng.uniform(0, Math.PI);
    const half = size * rng.uniform(0.15, 0.3);
    const width = Math.max(0.75, size / 64);
    paintStripe(mask, size, cx, cy, angle, half, width);
  } else {
    const r = size * (defect === "stain" ? rng.uniform(0.08, 0.14) : rng.uniform(0.05, 0.1));
    const squash = defect === "stain" ? rng.uniform(0.6, 1) : 1;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if ((x - cx) ** 2 + ((y - cy) / squash) ** 2 <= r * r) mask[y * size + x] = 1;
      }
    }
  }
  // A single pixel at minimum, so tiny sizes still carry a defect.
  if (!mask.some((v) => v === 1)) mask[Math.floor(cy) * size + Math.floor(cx)] = 1;
  return mask;
}

function paintDefect(
  pixels: Uint8Array,
  channels: 1 | 3,
  footprint: Uint8Array,
  defect: SyntheticDefect,
  rng: Rng,
): void {
  const colour = defect === "scratch"
    ? [235, 235, 235]
    : defect === "hole"
    ? [10, 8, 6]
    : channels === 3
    ? [rng.uniform(20, 80), rng.uniform(120, 200), rng.uniform(160, 230)]
    : [rng.uniform(170, 220)];
  for (let i = 0; i < footprint.length; i++) {
    if (!footprint[i]) continue;
    for (let c = 0; c < channels; c++) {
      pixels[i * channels + c] = clamp255(colour[c] + 3 * rng.normal());
    }
  }
}

/**
 * Renders one synthetic picture of `kind`, with `defect` planted when given. Deterministic
 * for the state of `rng`.
 */
export function renderSyntheticPicture(
  kind: SyntheticKind,
  size: number,
  rng: Rng,
  defect: SyntheticDefect | null = null,
): SyntheticPicture {
  const channels = kind === "weave" ? 3 : 1;
  const clean = kind === "weave" ? renderWeave(size, rng) : renderDots(size, rng);
  const pixels = clean.slice();
  let mask: Uint8Array | null = null;
  if (defect) {
    const footprint = defectFootprint(defect, size, rng);
    paintDefect(pixels, channels, footprint, defect, rng);
    mask = footprint.map((v) => v * 255);
  }
  return { size, channels, pixels, clean, mask };
}

async function encodePng(pixels: Uint8Array, size: number, channels: 1 | 3): Promise<Uint8Array> {
  const buffer = await sharp(pixels, { raw: { width: size, height: size, channels } })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
  return new Uint8Array(buffer);
}

/** Options of {@linkcode writeSyntheticImages}. */
export interface SyntheticImageOptions {
  /** Default 0. */
  seed?: number;
  /** Image width and height; default 64. */
  size?: number;
  /** Default `["weave", "dots"]`; unknown names reuse those textures in turn. */
  categories?: string[];
  /** Normal training images per category; default 40. */
  nTrain?: number;
  /** Normal test images per category; default 10. */
  nTestGood?: number;
  /** Defective test images per category, spread over the defect types; default 10. */
  nTestBad?: number;
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new MadError(`synthetic images: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Removes a category folder only when this generator made it (it holds the marker). */
async function clearOwnFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
  } catch (e) {
    if (isNotFound(e)) return;
    throw fileError(dir, `cannot list folder (${e instanceof Error ? e.message : e})`);
  }
  if (entries.length === 0) return;
  if (!entries.includes(MARKER)) {
    throw fileError(dir, "exists and was not made by the synthetic generator; refusing to replace");
  }
  await Deno.remove(dir, { recursive: true });
}

/**
 * Writes a synthetic image dataset in the MVTec AD layout under `dir`:
 * `CAT/train/good/NNN.png`, `CAT/test/good/NNN.png`, `CAT/test/<defect>/NNN.png` and
 * `CAT/ground_truth/<defect>/NNN_mask.png` (255 on the defect). `weave` is an RGB woven
 * texture, `dots` a grayscale dot grid; defects are scratch, stain and hole. The same options
 * give byte-identical files. A category folder left by an earlier call is replaced; any other
 * existing non-empty folder of that name is an error.
 */
export async function writeSyntheticImages(
  dir: string,
  options: SyntheticImageOptions = {},
): Promise<void> {
  const seed = options.seed ?? 0;
  const size = options.size ?? 64;
  const categories = options.categories ?? [...SYNTHETIC_KINDS];
  const nTrain = options.nTrain ?? 40;
  const nTestGood = options.nTestGood ?? 10;
  const nTestBad = options.nTestBad ?? 10;
  checkCount("size", size, 8);
  checkCount("nTrain", nTrain, 1);
  checkCount("nTestGood", nTestGood, 0);
  checkCount("nTestBad", nTestBad, 0);
  if (categories.length === 0 || new Set(categories).size !== categories.length) {
    throw new MadError("synthetic images: categories must be distinct and non-empty");
  }
  for (const [index, category] of categories.entries()) {
    if (!/^[A-Za-z0-9_-]+$/.test(category)) {
      throw new MadError(`synthetic images: bad category name ${JSON.stringify(category)}`);
    }
    const kind = kindOf(category, index);
    const root = join(dir, category);
    await clearOwnFolder(root);
    await Deno.mkdir(root, { recursive: true });
    await writeFileAtomic(
      join(root, MARKER),
      JSON.stringify({ seed, size, kind, nTrain, nTestGood, nTestBad }) + "\n",
    );
    const rng = new Rng(deriveSeed(seed, category));
    const write = async (sub: string, i: number, pixels: Uint8Array, channels: 1 | 3) => {
      const folder = join(root, sub);
      await Deno.mkdir(folder, { recursive: true });
      const name = `${String(i).padStart(3, "0")}${sub.startsWith("ground_truth") ? "_mask" : ""}`;
      await Deno.writeFile(join(folder, `${name}.png`), await encodePng(pixels, size, channels));
    };
    for (let i = 0; i < nTrain; i++) {
      const p = renderSyntheticPicture(kind, size, rng);
      await write("train/good", i, p.pixels, p.channels);
    }
    for (let i = 0; i < nTestGood; i++) {
      const p = renderSyntheticPicture(kind, size, rng);
      await write("test/good", i, p.pixels, p.channels);
    }
    const perDefect = new Map<SyntheticDefect, number>();
    for (let i = 0; i < nTestBad; i++) {
      const defect = SYNTHETIC_DEFECTS[i % SYNTHETIC_DEFECTS.length];
      const k = perDefect.get(defect) ?? 0;
      perDefect.set(defect, k + 1);
      const p = renderSyntheticPicture(kind, size, rng, defect);
      await write(`test/${defect}`, k, p.pixels, p.channels);
      await write(`ground_truth/${defect}`, k, p.mask!, 1);
    }
  }
}

/** Options of {@linkcode makeSyntheticTable}. */
export interface SyntheticTableOptions {
  /** Default 0. */
  seed?: number;
  /** Rows; default 1000. */
  n?: number;
  /** Features; default 8. */
  d?: number;
  /** Share of planted anomalies; default 0.05. */
  anomalyShare?: number;
}

/**
 * A numeric table of `n` rows and `d` features: normal rows come from a few latent factors
 * plus noise (so features are correlated), planted anomalies (label 1) either push one or two
 * features far out of range or keep each feature's marginal spread but break the
 * correlations. Anomaly rows sit at seeded random positions.
 */
export function makeSyntheticTable(options: SyntheticTableOptions = {}): Table {
  const seed = options.seed ?? 0;
  const n = options.n ?? 1000;
  const d = options.d ?? 8;
  const share = options.anomalyShare ?? 0.05;
  checkTableCount("n", n, 2);
  checkTableCount("d", d, 2);
  if (!(share >= 0 && share < 1)) {
    throw new MadError(`synthetic table: anomalyShare must be in [0, 1), got ${share}`);
  }
  const rng = new Rng(deriveSeed(seed, "table"));
  const k = Math.max(1, Math.min(3, d - 1));
  const loadings = Array.from({ length: d }, () => Array.from({ length: k }, () => rng.normal()));
  const offsets = Array.from({ length: d }, () => rng.uniform(-2, 2));
  const noise = 0.3;
  const scale = loadings.map((row) => Math.sqrt(row.reduce((s, w) => s + w * w, 0) + noise ** 2));

  const nAnomalies = Math.round(n * share);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const labels = new Uint8Array(n);
  for (let i = 0; i < nAnomalies; i++) labels[order[i]] = 1;

  const values = new Float64Array(n * d);
  let planted = 0;
  for (let r = 0; r < n; r++) {
    const z = Array.from({ length: k }, () => rng.normal());
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let f = 0; f < k; f++) v += loadings[j][f] * z[f];
      values[r * d + j] = offsets[j] + v + noise * rng.normal();
    }
    if (!labels[r]) continue;
    if (planted++ % 2 === 0) {
      // Out of range: one or two features 5-8 marginal standard deviations away.
      const count = 1 + rng.int(2);
      for (let c = 0; c < count; c++) {
        const j = rng.int(d);
        const sign = rng.next() < 0.5 ? -1 : 1;
        values[r * d + j] = offsets[j] + sign * rng.uniform(5, 8) * scale[j];
      }
    } else {
      // Broken correlation: independent draws with each feature's own marginal spread.
      for (let j = 0; j < d; j++) values[r * d + j] = offsets[j] + scale[j] * rng.normal();
    }
  }
  return {
    name: "synthetic",
    source: `synthetic(seed=${seed},n=${n},d=${d},anomalyShare=${share})`,
    columns: Array.from({ length: d }, (_, j) => `f${j + 1}`),
    n,
    d,
    values,
    labels,
  };
}

function checkTableCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new MadError(`synthetic table: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Writes {@linkcode makeSyntheticTable}'s table as CSV (`f1..fd,label`), atomically. */
export async function writeSyntheticTableCsv(
  path: string,
  options: SyntheticTableOptions = {},
): Promise<Table> {
  const table = makeSyntheticTable(options);
  const lines = [[...table.columns, "label"].join(",")];
  for (let r = 0; r < table.n; r++) {
    const row: string[] = [];
    for (let j = 0; j < table.d; j++) row.push(table.values[r * table.d + j].toFixed(6));
    row.push(String(table.labels![r]));
    lines.push(row.join(","));
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, lines.join("\n") + "\n");
  return table;
}

/**
 * Anomaly-map overlays and image grids as PNG, for reports and notebooks.
 *
 * @module
 */

import sharp from "sharp";
import type { DecodedImage } from "../data/types.ts";
import type { ImageCache } from "../data/image_cache.ts";
import { alignForCategory, type PoseAlignment } from "../data/pose.ts";
import { MadError } from "../errors.ts";
import { pixelMap } from "../model/maps.ts";
import { drawText, textSize } from "./bitmap_text.ts";

export { resizeBilinear } from "../model/maps.ts";

/** Options of {@linkcode heatmapOverlayPng}. */
export interface OverlayOptions {
  /** Map value shown as the coldest colour; default the map's minimum. */
  min?: number;
  /** Map value shown as the hottest colour; default the map's maximum. */
  max?: number;
  /** Weight of the heatmap over the image, 0..1; default 0.5. */
  alpha?: number;
}

function checkImage(image: DecodedImage, what: string): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new MadError(`${what}: size ${width}×${height} must be positive integers`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new MadError(`${what}: ${channels} channels; expected 1 or 3`);
  }
  if (data.length !== width * height * channels) {
    throw new MadError(
      `${what}: ${data.length} values but ${width}×${height}×${channels} expected`,
    );
  }
}

/** The jet colormap at t in [0, 1] as RGB in [0, 1]. */
export function jet(t: number): [number, number, number] {
  const c = (v: number) => Math.min(1, Math.max(0, v));
  return [c(1.5 - Math.abs(4 * t - 3)), c(1.5 - Math.abs(4 * t - 2)), c(1.5 - Math.abs(4 * t - 1))];
}

/** RGB bytes of an HWC [0, 1] image, grey images replicated to three channels. */
function toRgbBytes(image: DecodedImage): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = image.channels === 3 ? image.data[i * 3 + c] : image.data[i];
      out[i * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return out;
}

/**
 * PNG bytes of RGB pixels; `palette`: 256 colours, dithered (about a fifth of the size: a report
 * with a panel per category stayed megabytes smaller, at no difference one sees at its size).
 */
async function encodePng(
  rgb: Uint8Array,
  width: number,
  height: number,
  palette = false,
): Promise<Uint8Array> {
  const buffer = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png(palette ? { palette: true, compressionLevel: 9 } : {}).toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * The anomaly map upsampled to the image size and smoothed ({@linkcode pixelMap}), coloured with the jet colormap and
 * blended over the image, as PNG bytes of the image's size.
 *
 * @param image HWC image with values in [0, 1].
 * @param map Row-major anomaly map of `mapSize`, any range.
 * @param mapSize Width and height of `map`.
 */
export async function heatmapOverlayPng(
  image: DecodedImage,
  map: Float32Array,
  mapSize: { width: number; height: number },
  options: OverlayOptions = {},
): Promise<Uint8Array> {
  return await encodePng(overlayRgb(image, map, mapSize, options), image.width, image.height);
}

/** {@linkcode heatmapOverlayPng}'s pixels: RGB bytes of the image's size. */
function overlayRgb(
  image: DecodedImage,
  map: Float32Array,
  mapSize: { width: number; height: number },
  options: OverlayOptions,
): Uint8Array {
  checkImage(image, "overlay image");
  checkImage({ ...mapSize, channels: 1, data: map }, "anomaly map");
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new MadError(`overlay alpha ${alpha} must be in [0, 1]`);
  let lo = Infinity, hi = -Infinity;
  for (const v of map) {
    if (!Number.isFinite(v)) throw new MadError("anomaly map has non-finite values");
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  lo = options.min ?? lo;
  hi = options.max ?? hi;
  const span = hi - lo;
  const up = pixelMap(map, mapSize, image);
  const rgb = toRgbBytes(image);
  for (let i = 0; i < up.length; i++) {
    const t = span > 0 ? Math.min(1, Math.max(0, (up[i] - lo) / span)) : 0;
    const colour = jet(t);
    for (let c = 0; c < 3; c++) {
      rgb[i * 3 + c] = Math.round((1 - alpha) * rgb[i * 3 + c] + alpha * colour[c] * 255);
    }
  }
  return rgb;
}

/**
 * The fixed colour scale of score maps, in standard deviations of the normal cells' values
 * (each component standardised on them, then weighted as in the score): blue at or below their
 * mean, red at 6 or more. Fixed, so that heat maps compare across images and runs.
 */
export const MAP_SCALE = { min: 0, max: 6 } as const;

/** The image at `path` as the model sees it: read at `size` px, turned to its pose if aligned. */
async function imageAsSeen(
  cache: ImageCache,
  path: string,
  size: number,
  pose?: PoseAlignment,
): Promise<DecodedImage> {
  const decoded = await cache.get(path, { size, channels: 3 });
  return { ...decoded, data: alignForCategory(decoded.data, size, decoded.channels, pose) };
}

/** What the colours of a score map stand for, written along its colour bar. */
export const MAP_LEGEND = ["anomaly score", "(SD above normal)"] as const;

/**
 * The colour bar beside a score map `size` px high, as RGB bytes on white: a vertical strip of
 * {@linkcode MAP_SCALE}'s colours at full strength (the map shows them at half, over the image),
 * blue at the bottom, with a tick at each standard deviation, its low and high values ("0", "3",
 * "6+": the colours end there) beside it, and what the value is ({@linkcode MAP_LEGEND}) read
 * upward along it. Drawn with {@linkcode drawText}'s built-in font, the same on every machine.
 */
export function mapLegendRgb(size: number): { rgb: Uint8Array; width: number; height: number } {
  const longest = Math.max(...MAP_LEGEND.map((line) => textSize(line).length));
  // Text twice as large from 256 px up, while the longest line still fits along the bar.
  const scale = Math.max(1, Math.min(Math.floor(size / 128), Math.floor((size - 8) / longest)));
  const pad = 4 * scale, barWidth = 7 * scale, tick = 3 * scale;
  const line = textSize("0", scale).height;
  const top = pad + Math.ceil(line / 2), bottom = size - 1 - pad - Math.ceil(line / 2);
  const units = MAP_SCALE.max - MAP_SCALE.min;
  const labels: [number, string][] = [
    [MAP_SCALE.min, String(MAP_SCALE.min)],
    [(MAP_SCALE.min + MAP_SCALE.max) / 2, String((MAP_SCALE.min + MAP_SCALE.max) / 2)],
    [MAP_SCALE.max, `${MAP_SCALE.max}+`],
  ];
  const barX = pad, labelX = barX + barWidth + tick + 2 * scale;
  const labelWidth = Math.max(...labels.map(([, text]) => textSize(text, scale).length));
  const textX = labelX + labelWidth + 3 * scale;
  const width = textX + MAP_LEGEND.length * (line + 2 * scale) + pad;
  const rgb = new Uint8Array(width * size * 3).fill(255);
  const ink = [40, 40, 40];
  const yOf = (value: number) =>
    Math.round(bottom - ((value - MAP_SCALE.min) / units) * (bottom - top));
  for (let y = top; y <= bottom; y++) {
    const colour = jet((bottom - y) / (bottom - top)).map((v) => Math.round(v * 255));
    for (let x = barX; x < barX + barWidth; x++) rgb.set(colour, (y * width + x) * 3);
  }
  for (let u = 0; u <= units; u++) {
    const y = yOf(MAP_SCALE.min + u);
    for (let x = barX + barWidth; x < barX + barWidth + tick; x++) {
      rgb.set(ink, (y * width + x) * 3);
    }
  }
  for (const [value, text] of labels) {
    drawText(rgb, width, labelX, yOf(value) - Math.floor(line / 2) + scale, text, {
      scale,
      colour: ink,
    });
  }
  for (const [k, text] of MAP_LEGEND.entries()) {
    const length = textSize(text, scale).length;
    drawText(rgb, width, textX + k * (line + 2 * scale), Math.round((size + length) / 2), text, {
      scale,
      colour: ink,
      upward: true,
    });
  }
  return { rgb, width, height: size };
}

/**
 * The image at `path` (read through `cache` at `size` px, turned to its object's pose when `pose`
 * says the category is aligned) under its `grid` x `grid` anomaly map (default: a square map's
 * side), on {@linkcode MAP_SCALE}, with the colour bar of {@linkcode mapLegendRgb} to its right:
 * the map keeps the image's `size` x `size` pixels at the left, where a reader's tools expect
 * it, and a reader learns what the colours mean.
 */
export async function scoreMapPng(
  cache: ImageCache,
  path: string,
  size: number,
  map: Float32Array,
  grid = Math.round(Math.sqrt(map.length)),
  pose?: PoseAlignment,
): Promise<Uint8Array> {
  // An aligned category's map lies over the image as the model saw it, turned to its pose.
  const image = await imageAsSeen(cache, path, size, pose);
  const overlay = overlayRgb(image, map, { width: grid, height: grid }, MAP_SCALE);
  const legend = mapLegendRgb(image.height);
  const width = image.width + legend.width;
  const out = new Uint8Array(width * image.height * 3);
  for (let y = 0; y < image.height; y++) {
    out.set(
      overlay.subarray(y * image.width * 3, (y + 1) * image.width * 3),
      y * width * 3,
    );
    out.set(
      legend.rgb.subarray(y * legend.width * 3, (y + 1) * legend.width * 3),
      (y * width + image.width) * 3,
    );
  }
  return await encodePng(out, width, image.height);
}

/**
 * A panel for a report: one row per item, the image as the model sees it (as
 * {@linkcode scoreMapPng} reads it) beside its anomaly map over it, and under the maps a colour
 * bar of {@linkcode MAP_SCALE} with a tick at each standard deviation, on white.
 */
export async function scoreMapPanelPng(
  cache: ImageCache,
  items: { path: string; map: Float32Array }[],
  size: number,
  grid: number,
  pose?: PoseAlignment,
): Promise<Uint8Array> {
  if (items.length === 0) throw new MadError("score map panel: no images given");
  const gap = 6, bar = 14, tick = 5;
  const width = 3 * gap + 2 * size;
  const height = gap + items.length * (size + gap) + bar + tick + gap;
  const out = new Uint8Array(width * height * 3).fill(255);
  const paste = (rgb: Uint8Array, x0: number, y0: number) => {
    for (let y = 0; y < size; y++) {
      out.set(rgb.subarray(y * size * 3, (y + 1) * size * 3), ((y0 + y) * width + x0) * 3);
    }
  };
  for (const [k, item] of items.entries()) {
    const image = await imageAsSeen(cache, item.path, size, pose);
    const y0 = gap + k * (size + gap);
    paste(toRgbBytes(image), gap, y0);
    paste(
      overlayRgb(image, item.map, { width: grid, height: grid }, MAP_SCALE),
      2 * gap + size,
      y0,
    );
  }
  // The bar under the maps: the colours at full strength (the maps show them at half).
  const x0 = 2 * gap + size, y0 = gap + items.length * (size + gap);
  for (let x = 0; x < size; x++) {
    const colour = jet(x / (size - 1)).map((v) => Math.round(v * 255));
    for (let y = y0; y < y0 + bar; y++) out.set(colour, (y * width + x0 + x) * 3);
  }
  const units = MAP_SCALE.max - MAP_SCALE.min;
  for (let u = 0; u <= units; u++) {
    const x = x0 + Math.round((u / units) * (size - 1));
    for (let y = y0 + bar; y < y0 + bar + tick; y++) {
      out.fill(60, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return await encodePng(out, width, height, true);
}

/**
 * Images tiled row by row in a grid of `columns`, each in a cell of the largest image's size
 * on a dark background, as PNG bytes. Labels are accepted for a later version but not drawn yet,
 * since text rendering would depend on the fonts installed.
 */
export async function imageGridPng(
  images: DecodedImage[],
  columns: number,
  _labels?: string[],
): Promise<Uint8Array> {
  if (images.length === 0) throw new MadError("image grid: no images given");
  if (!Number.isInteger(columns) || columns < 1) {
    throw new MadError(`image grid: columns ${columns} must be a positive integer`);
  }
  images.forEach((im, i) => checkImage(im, `image grid image ${i}`));
  const gap = 4;
  const cellW = Math.max(...images.map((im) => im.width));
  const cellH = Math.max(...images.map((im) => im.height));
  const cols = Math.min(columns, images.length);
  const rows = Math.ceil(images.length / cols);
  const width = cols * cellW + (cols + 1) * gap;
  const height = rows * cellH + (rows + 1) * gap;
  const out = new Uint8Array(width * height * 3).fill(40);
  images.forEach((im, k) => {
    const rgb = toRgbBytes(im);
    const ox = gap + (k % cols) * (cellW + gap);
    const oy = gap + Math.floor(k / cols) * (cellH + gap);
    for (let y = 0; y < im.height; y++) {
      const src = y * im.width * 3;
      out.set(rgb.subarray(src, src + im.width * 3), ((oy + y) * width + ox) * 3);
    }
  });
  return await encodePng(out, width, height);
}

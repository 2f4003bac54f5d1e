/**
 * Anomaly maps from the token grid to pixels: bilinear upsampling and a Gaussian blur.
 *
 * Scores live on a grid of cells; pixel metrics and overlays want one value per pixel. A cell's
 * score says "somewhere in this cell", so the pixel map is the bilinear upsampling blurred by a
 * Gaussian of half a cell (as PatchCore and PaDiM smooth theirs): the block edges of the grid go,
 * a defect's peak stays where it was.
 *
 * @module
 */

/** Width and height of a row-major single-channel map. */
export interface MapSize {
  width: number;
  height: number;
}

/** Standard deviation of the pixel maps' Gaussian blur, in cells of the score grid. */
export const MAP_BLUR_CELLS = 0.5;

/**
 * Bilinear resize of a single-channel map, sampling at pixel centres (like `align_corners`
 * false) and clamping at the borders.
 */
export function resizeBilinear(map: ArrayLike<number>, from: MapSize, to: MapSize): Float32Array {
  const out = new Float32Array(to.width * to.height);
  const sx = from.width / to.width, sy = from.height / to.height;
  for (let y = 0; y < to.height; y++) {
    const fy = Math.min(from.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(from.height - 1, y0 + 1), wy = fy - y0;
    for (let x = 0; x < to.width; x++) {
      const fx = Math.min(from.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(from.width - 1, x0 + 1), wx = fx - x0;
      const top = map[y0 * from.width + x0] * (1 - wx) + map[y0 * from.width + x1] * wx;
      const bottom = map[y1 * from.width + x0] * (1 - wx) + map[y1 * from.width + x1] * wx;
      out[y * to.width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** Bilinear upsampling of a grid x grid map to size x size (pixel-centre aligned). */
export function upsampleMap(map: Float32Array, grid: number, size: number): Float32Array {
  return resizeBilinear(map, { width: grid, height: grid }, { width: size, height: size });
}

/** Normalised Gaussian taps for a standard deviation in pixels, cut at three of them. */
function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(0, Math.ceil(3 * sigma));
  const taps = Float32Array.from(
    { length: 2 * radius + 1 },
    (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)),
  );
  const sum = taps.reduce((s, v) => s + v, 0);
  return taps.map((v) => v / sum);
}

/** One pass of a 1-D kernel along rows (`horizontal`) or columns, borders clamped. */
function blurPass(
  map: Float32Array,
  size: MapSize,
  kernel: Float32Array,
  horizontal: boolean,
): Float32Array {
  const { width, height } = size;
  const radius = (kernel.length - 1) / 2;
  const out = new Float32Array(map.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = horizontal ? Math.min(width - 1, Math.max(0, x + k)) : x;
        const yy = horizontal ? y : Math.min(height - 1, Math.max(0, y + k));
        s += kernel[k + radius] * map[yy * width + xx];
      }
      out[y * width + x] = s;
    }
  }
  return out;
}

/**
 * Separable Gaussian blur of a row-major map, standard deviations in pixels along x and y
 * (0 leaves that axis alone); borders are clamped, so a constant map stays constant.
 */
export function gaussianBlur(
  map: Float32Array,
  size: MapSize,
  sigmaX: number,
  sigmaY = sigmaX,
): Float32Array {
  let out = map;
  if (sigmaX > 0) out = blurPass(out, size, gaussianKernel(sigmaX), true);
  if (sigmaY > 0) out = blurPass(out, size, gaussianKernel(sigmaY), false);
  return out === map ? map.slice() : out;
}

/**
 * The pixel anomaly map of a score grid: bilinear upsampling to `to`, then a Gaussian blur of
 * {@linkcode MAP_BLUR_CELLS} cells. Pixel metrics and overlays use it alike.
 */
export function pixelMap(map: ArrayLike<number>, from: MapSize, to: MapSize): Float32Array {
  const up = resizeBilinear(map, from, to);
  return gaussianBlur(
    up,
    to,
    MAP_BLUR_CELLS * to.width / from.width,
    MAP_BLUR_CELLS * to.height / from.height,
  );
}

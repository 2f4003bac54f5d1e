/**
 * Pose alignment of image categories whose objects lie at any angle (MVTec screw): each image is
 * turned so that its object's long axis is horizontal, the same end on the same side, and its
 * centre of mass in the middle. Patches of aligned images then meet their like at the same
 * place in the training normals, where unaligned ones meet a thread or a head turned another way.
 *
 * Whether a category is aligned is decided from its training normals alone
 * ({@linkcode choosePoseAlignment}): only when their objects have a clear long axis and that axis
 * points in different directions from image to image. Round objects (hazelnut), frame-filling
 * textures (zipper) and objects that always lie the same way keep their images as they are.
 *
 * @module
 */

/** An object's place and direction in one image, from the pixels that differ from the background. */
export interface ObjectPose {
  /** Centre of mass, in pixels (row, column). */
  cy: number;
  cx: number;
  /**
   * Unit vector of the long axis (row, column), pointing to the end whose mass lies further from
   * the centre (a screw's tip rather than its head, which pulls the centre towards itself).
   */
  vy: number;
  vx: number;
  /** Variance along the long axis over that across it (1 for a disc, large for a rod). */
  elongation: number;
  /**
   * How far the object reaches from its centre along the axis, in pixels: its furthest pixel at
   * either end, among those within three across-axis standard deviations of the axis (a speck
   * of dust beside the object does not count).
   */
  reach: number;
}

/** A category's alignment decision, fitted on its training normals and kept in checkpoints. */
export interface PoseAlignment {
  /** Images of the category are aligned before the model sees them. */
  aligned: boolean;
  /** Median elongation of the training normals' objects. */
  elongation: number;
  /**
   * How consistently the training normals' long axes point the same way, as the length of the
   * mean of their doubled angles: 1 = always the same line, 0 = any angle.
   */
  axisConsistency: number;
  /**
   * How much an aligned image is zoomed out (source pixels per output pixel) so that the
   * training normals' objects fit the frame end to end: turned level, a long object lying
   * diagonally can reach past the frame's sides, and a screw's tip, where its defects are, fell
   * outside. 1 when they fit as they are; absent in checkpoints before `v32` (1).
   */
  scale?: number;
}

/**
 * Objects at least this elongated have a long axis that an alignment can rely on. A disc-like
 * object's axis turns with noise and shading (hazelnut: 1.3; the screw: 18).
 */
export const MIN_ELONGATION = 3;
/**
 * Axes more consistent than this already lie the same way: aligning would only add resampling.
 */
export const MAX_AXIS_CONSISTENCY = 0.9;
/**
 * Share of a category's training normals whose objects must fit the aligned frame. Zooming out
 * costs every image detail (a cell then covers more of the object), so the longest quarter may
 * lose a few pixels at their ends: chosen on the dev category screw, where fitting 95% (1.21x)
 * read 0.942 and the Transformer's evidence alone 0.888, three in four (1.12x) 0.948 and 0.907.
 */
export const FIT_SHARE = 0.75;

/**
 * The pose of the object in an HWC image of side `size` with values in [0, 1], or null when
 * nothing stands out of the background. The background level is the median of the image's border
 * ring; a pixel weighs by how far its grey level is from it beyond three times the ring's spread.
 */
export function objectPose(data: Float32Array, size: number, channels: number): ObjectPose | null {
  const n = size * size;
  const grey = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += data[p * channels + c];
    grey[p] = s / channels;
  }
  const ring = Math.max(2, Math.round(size / 32));
  const border: number[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (y < ring || y >= size - ring || x < ring || x >= size - ring) {
        border.push(grey[y * size + x]);
      }
    }
  }
  const bg = median(border);
  const spread = median(border.map((v) => Math.abs(v - bg))) + 1e-3;
  const floor = 3 * spread + 0.03;
  let m = 0, sy = 0, sx = 0;
  const w = new Float32Array(n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      const v = Math.abs(grey[p] - bg) - floor;
      if (v <= 0) continue;
      w[p] = v;
      m += v;
      sy += v * y;
      sx += v * x;
    }
  }
  // Fewer than a few pixels' worth of object: no pose to speak of.
  if (m < 4 * 0.05) return null;
  const cy = sy / m, cx = sx / m;
  let cyy = 0, cxx = 0, cyx = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = w[y * size + x];
      if (v === 0) continue;
      const dy = y - cy, dx = x - cx;
      cyy += v * dy * dy;
      cxx += v * dx * dx;
      cyx += v * dy * dx;
    }
  }
  cyy /= m;
  cxx /= m;
  cyx /= m;
  // Eigen-decomposition of the 2x2 covariance, in closed form.
  const half = (cyy + cxx) / 2;
  const root = Math.sqrt(((cyy - cxx) / 2) ** 2 + cyx * cyx);
  const major = half + root, minor = Math.max(half - root, 1e-9);
  let vy: number, vx: number;
  if (Math.abs(cyx) > 1e-12) {
    vy = major - cxx;
    vx = cyx;
  } else if (cyy >= cxx) {
    vy = 1;
    vx = 0;
  } else {
    vy = 0;
    vx = 1;
  }
  const len = Math.hypot(vy, vx);
  vy /= len;
  vx /= len;
  // The third moment along the axis says which end reaches further out.
  let skew = 0, reach = 0;
  const band = 3 * Math.sqrt(minor);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = w[y * size + x];
      if (v === 0) continue;
      const t = (y - cy) * vy + (x - cx) * vx;
      skew += v * t * t * t;
      if (Math.abs((x - cx) * vy - (y - cy) * vx) <= band) reach = Math.max(reach, Math.abs(t));
    }
  }
  if (skew < 0) {
    vy = -vy;
    vx = -vx;
  }
  return { cy, cx, vy, vx, elongation: major / minor, reach };
}

/**
 * Decides from the training normals' poses whether a category is aligned: their median
 * elongation reaches {@linkcode MIN_ELONGATION} and their axes are no more consistent than
 * {@linkcode MAX_AXIS_CONSISTENCY}. Images without a pose count as round. An aligned category
 * is zoomed out just enough that {@linkcode FIT_SHARE} of its objects reach no further than the
 * frame's side (`size` px images).
 */
export function choosePoseAlignment(
  poses: readonly (ObjectPose | null)[],
  size: number,
): PoseAlignment {
  if (poses.length === 0) return { aligned: false, elongation: 1, axisConsistency: 1, scale: 1 };
  const elongation = median(poses.map((p) => p?.elongation ?? 1));
  let c = 0, s = 0, k = 0;
  for (const p of poses) {
    if (!p) continue;
    const angle = 2 * Math.atan2(p.vy, p.vx);
    c += Math.cos(angle);
    s += Math.sin(angle);
    k++;
  }
  const axisConsistency = k === 0 ? 1 : Math.hypot(c, s) / k;
  const aligned = elongation >= MIN_ELONGATION && axisConsistency <= MAX_AXIS_CONSISTENCY;
  const reaches = poses.filter((p) => p !== null).map((p) => p.reach).sort((a, b) => a - b);
  const reach = reaches.length === 0
    ? 0
    : reaches[Math.min(reaches.length - 1, Math.floor(FIT_SHARE * reaches.length))];
  // The frame's last column lies size / 2 - 1 pixels from its centre; one more to spare, so the
  // object's last pixel is not the frame's.
  const scale = aligned ? Math.max(1, reach / (size / 2 - 2)) : 1;
  return { aligned, elongation, axisConsistency, scale };
}

/**
 * An image of a category as the model sees it: turned to its own pose and zoomed out by the
 * category's scale when the category is aligned, else as it is. `pose`: the image's own, when
 * already known (null: it has none).
 */
export function alignForCategory(
  data: Float32Array,
  size: number,
  channels: number,
  alignment: PoseAlignment | undefined,
  pose?: ObjectPose | null,
): Float32Array {
  if (!alignment?.aligned) return data;
  return alignToPose(
    data,
    size,
    channels,
    pose === undefined ? objectPose(data, size, channels) : pose,
    alignment.scale ?? 1,
  );
}

/** How a category's images are shown to the model, for logs: "" when they are not aligned. */
export function describeAlignment(pose: PoseAlignment | undefined): string {
  if (!pose?.aligned) return "";
  const scale = pose.scale ?? 1;
  return scale > 1 ? `aligned to pose, zoomed out ${scale.toFixed(2)}x` : "aligned to pose";
}

/**
 * The HWC image turned and shifted so that its object's long axis runs along the rows through the
 * centre, the end that reaches further out to the right (bilinear sampling, edges repeated). An image
 * without a pose is returned as it is. `pose`: the image's own, when already known; `scale`: the
 * category's zoom ({@linkcode PoseAlignment.scale}).
 */
export function alignToPose(
  data: Float32Array,
  size: number,
  channels: number,
  pose: ObjectPose | null = objectPose(data, size, channels),
  scale = 1,
): Float32Array {
  if (!pose) return data;
  const { cy, cx } = pose;
  const vy = pose.vy * scale, vx = pose.vx * scale;
  // Output (row r, column c) reads input centre + (c - mid) * axis + (r - mid) * across, where
  // across = (-vx, vy) in (row, column) terms, both `scale` source pixels long.
  return sampleRigid(data, size, channels, cy, cx, vy, vx, -vx, vy);
}

/** A small change of an aligned image's pose: pixels along and across its axis, and a turn. */
export interface PoseJitter {
  /** Shift along the object's axis (level after alignment), in pixels. */
  along: number;
  /** Shift across it (up and down), in pixels. */
  across: number;
  /** Turn about the image's centre, in degrees. */
  degrees: number;
}

/**
 * An aligned HWC image as it would have been aligned with its pose changed by `jitter` (the same
 * bilinear sampling as {@linkcode alignToPose}, edges repeated). The pose found from moments is
 * uncertain by a pixel or so and a degree or two; scoring an image at a few such poses and
 * averaging the maps keeps that uncertainty out of the comparison with normals.
 */
export function jitterAligned(
  data: Float32Array,
  size: number,
  channels: number,
  jitter: PoseJitter,
): Float32Array {
  const mid = size / 2;
  const turn = jitter.degrees * Math.PI / 180;
  const cos = Math.cos(turn), sin = Math.sin(turn);
  return sampleRigid(
    data,
    size,
    channels,
    mid + jitter.across,
    mid + jitter.along,
    sin,
    cos,
    cos,
    -sin,
  );
}

/**
 * Bilinear sampling of a rigid map: output (row r, column c) reads the input at (cy, cx) +
 * (c - mid) * (ay, ax) + (r - mid) * (by, bx), in (row, column) terms, clamped to the image.
 */
function sampleRigid(
  data: Float32Array,
  size: number,
  channels: number,
  cy: number,
  cx: number,
  ay: number,
  ax: number,
  by: number,
  bx: number,
): Float32Array {
  const out = new Float32Array(data.length);
  const mid = size / 2;
  const last = size - 1;
  for (let r = 0; r < size; r++) {
    for (let col = 0; col < size; col++) {
      const a = col - mid, b = r - mid;
      let y = cy + a * ay + b * by;
      let x = cx + a * ax + b * bx;
      y = y < 0 ? 0 : y > last ? last : y;
      x = x < 0 ? 0 : x > last ? last : x;
      const y0 = Math.floor(y), x0 = Math.floor(x);
      const y1 = y0 < last ? y0 + 1 : y0, x1 = x0 < last ? x0 + 1 : x0;
      const fy = y - y0, fx = x - x0;
      const o = (r * size + col) * channels;
      const p00 = (y0 * size + x0) * channels, p01 = (y0 * size + x1) * channels;
      const p10 = (y1 * size + x0) * channels, p11 = (y1 * size + x1) * channels;
      for (let ch = 0; ch < channels; ch++) {
        const top = data[p00 + ch] + (data[p01 + ch] - data[p00 + ch]) * fx;
        const bottom = data[p10 + ch] + (data[p11 + ch] - data[p10 + ch]) * fx;
        out[o + ch] = top + (bottom - top) * fy;
      }
    }
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

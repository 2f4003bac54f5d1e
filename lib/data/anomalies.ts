/**
 * Synthetic anomalies made from normal samples, which the sigmoid head trains against and
 * validation scores. They are generic on purpose (shapes, textures, noise, cut-paste for images;
 * swaps and out-of-range values for tables), never imitations of any test defect.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { paintStripe } from "./stripe.ts";

/** An HWC float image in [0, 1] with 3 channels and side `size`. */
export interface RgbImage {
  size: number;
  data: Float32Array;
}

/** A synthetic anomaly: the altered image and its mask (size*size, 1 = altered). */
export interface SyntheticImageAnomaly {
  data: Float32Array;
  mask: Float32Array;
  kind: string;
}

/** Smooth value noise in [0, 1] on a size x size grid with `cells` lattice cells per side. */
export function valueNoise(rng: Rng, size: number, cells: number): Float32Array {
  const lattice = new Float32Array((cells + 1) * (cells + 1)).map(() => rng.next());
  const out = new Float32Array(size * size);
  const fade = (t: number) => t * t * (3 - 2 * t);
  for (let y = 0; y < size; y++) {
    const gy = (y / size) * cells;
    const y0 = Math.floor(gy);
    const ty = fade(gy - y0);
    for (let x = 0; x < size; x++) {
      const gx = (x / size) * cells;
      const x0 = Math.floor(gx);
      const tx = fade(gx - x0);
      const at = (i: number, j: number) => lattice[i * (cells + 1) + j];
      const top = at(y0, x0) * (1 - tx) + at(y0, x0 + 1) * tx;
      const bottom = at(y0 + 1, x0) * (1 - tx) + at(y0 + 1, x0 + 1) * tx;
      out[y * size + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** A noise-shaped blob mask (DRAEM-style): thresholded two-octave value noise. */
function noiseMask(rng: Rng, size: number): Float32Array {
  const cells = 2 + rng.int(6);
  const a = valueNoise(rng, size, cells);
  const b = valueNoise(rng, size, cells * 2);
  const threshold = rng.uniform(0.62, 0.75);
  const mask = new Float32Array(size * size);
  let covered = 0;
  for (let i = 0; i < mask.length; i++) {
    if (0.7 * a[i] + 0.3 * b[i] > threshold) {
      mask[i] = 1;
      covered++;
    }
  }
  // Regions too small to matter or covering most of the image teach nothing useful.
  if (covered < size * size * 0.005 || covered > size * size * 0.4) return rectMask(rng, size);
  return mask;
}

function rectMask(rng: Rng, size: number): Float32Array {
  const area = rng.uniform(0.01, 0.08) * size * size;
  const aspect = Math.exp(rng.uniform(Math.log(0.3), Math.log(3.3)));
  const h = Math.max(2, Math.min(size - 1, Math.round(Math.sqrt(area * aspect))));
  const w = Math.max(2, Math.min(size - 1, Math.round(Math.sqrt(area / aspect))));
  const y0 = rng.int(size - h);
  const x0 = rng.int(size - w);
  const mask = new Float32Array(size * size);
  for (let y = y0; y < y0 + h; y++) mask.fill(1, y * size + x0, y * size + x0 + w);
  return mask;
}

/** A thin line ("scar") at a random angle. */
function scarMask(rng: Rng, size: number): Float32Array {
  const mask = new Float32Array(size * size);
  const length = rng.uniform(0.15, 0.45) * size;
  const width = Math.max(1, rng.uniform(0.01, 0.03) * size);
  const angle = rng.uniform(0, Math.PI);
  const cx = rng.uniform(0.2, 0.8) * size;
  const cy = rng.uniform(0.2, 0.8) * size;
  paintStripe(mask, size, cx, cy, angle, length / 2, width / 2);
  return mask;
}

/** Kinds of synthetic image anomaly. */
export type ImageAnomalyKind = "cutpaste" | "noise-shape" | "scar" | "smudge";

/** What the heads train against. */
export const TRAIN_ANOMALY_KINDS: ImageAnomalyKind[] = ["cutpaste", "noise-shape"];

/**
 * What validation scores against: kinds held out from training, so that validation rewards
 * evidence that generalises beyond the anomalies the heads were trained on.
 */
export const VALIDATION_ANOMALY_KINDS: ImageAnomalyKind[] = ["scar", "smudge"];

/**
 * Makes one synthetic anomaly from a normal image. `donor` is another normal image (of any
 * category) whose content may be pasted in; `kinds` restricts the kinds drawn from.
 */
export function syntheticImageAnomaly(
  rng: Rng,
  image: RgbImage,
  donor: RgbImage,
  kinds: ImageAnomalyKind[] = TRAIN_ANOMALY_KINDS,
): SyntheticImageAnomaly {
  const made = colourAnomaly(rng, image, donor, kinds);
  // A grey image's defects are grey too: a tint would be found by colour alone, which no real
  // defect of a greyscale product shows.
  if (isGrey(image.data)) toGrey(made.data);
  return made;
}

/** Whether every pixel of an HWC RGB image has equal channels. */
export function isGrey(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i += 3) {
    if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) return false;
  }
  return true;
}

function toGrey(data: Float32Array): void {
  for (let i = 0; i < data.length; i += 3) {
    const v = (data[i] + data[i + 1] + data[i + 2]) / 3;
    data[i] = data[i + 1] = data[i + 2] = v;
  }
}

function colourAnomaly(
  rng: Rng,
  image: RgbImage,
  donor: RgbImage,
  kinds: ImageAnomalyKind[],
): SyntheticImageAnomaly {
  const size = image.size;
  const kind = kinds[rng.int(kinds.length)];
  if (kind === "smudge") return smudge(rng, image);
  const out = new Float32Array(image.data);
  const choice = kind === "cutpaste" ? 0 : kind === "noise-shape" ? 0.5 : 0.9;
  let mask: Float32Array;
  // Source of the altered pixels: a shifted copy of this image or the donor, plain noise,
  // or a flat colour, blended in with a random opacity.
  const shiftY = rng.int(size);
  const shiftX = rng.int(size);
  const source = rng.next() < 0.5 ? image : donor;
  const colour = [rng.next(), rng.next(), rng.next()];
  const fill = rng.next();
  const opacity = rng.uniform(0.5, 1);
  const brightness = rng.uniform(-0.2, 0.2);
  if (choice < 0.35) mask = rectMask(rng, size);
  else if (choice < 0.8) mask = noiseMask(rng, size);
  else mask = scarMask(rng, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      if (mask[i] === 0) continue;
      const sy = (y + shiftY) % size;
      const sx = (x + shiftX) % size;
      for (let c = 0; c < 3; c++) {
        let value: number;
        if (kind === "cutpaste" || (kind === "noise-shape" && fill < 0.6)) {
          value = source.data[(sy * size + sx) * 3 + c] + brightness;
        } else if (fill < 0.8) {
          value = rng.next();
        } else {
          value = colour[c];
        }
        const o = i * 3 + c;
        out[o] = Math.min(1, Math.max(0, opacity * value + (1 - opacity) * out[o]));
      }
    }
  }
  return { data: out, mask, kind };
}

/**
 * Opacity at which validation anomalies are blended into their normal image. Full-strength
 * synthetic defects are found by every kind of evidence (validation AUROC 0.95-1.0 for all of
 * them), so validation could not tell strong evidence from weak; faint ones spread the
 * components apart, as real defects do.
 */
export const VALIDATION_OPACITY = 0.4;

/** Validation anomalies made per validation normal (more of them make validation AUROC steadier). */
export const VALIDATION_ANOMALIES_PER_NORMAL = 2;

/**
 * The deterministic validation anomalies of an image category: two per validation normal, of
 * the held-out kinds, with content donated by training normals, blended in faintly
 * (`VALIDATION_OPACITY`). Anomaly k is made from `val[k % val.length]`.
 */
export function validationImageAnomalies(
  seed: number,
  val: Float32Array[],
  train: Float32Array[],
  size: number,
): Float32Array[] {
  return [...eachValidationImageAnomaly(seed, val, train, size)];
}

/**
 * The anomalies of {@linkcode validationImageAnomalies} one at a time, in the same order from
 * the same draws: calibration makes two per training normal, which for thousands of images
 * would be gigabytes at once, so it takes them a chunk at a time.
 */
export function* eachValidationImageAnomaly(
  seed: number,
  val: Float32Array[],
  train: Float32Array[],
  size: number,
): Generator<Float32Array> {
  const rng = new Rng(seed);
  for (let round = 0; round < VALIDATION_ANOMALIES_PER_NORMAL; round++) {
    for (let j = 0; j < val.length; j++) {
      const img = val[j];
      const donor = train[(j * 7 + round * 13) % train.length];
      const altered = syntheticImageAnomaly(
        rng,
        { size, data: img },
        { size, data: donor },
        VALIDATION_ANOMALY_KINDS,
      ).data;
      yield altered.map((v, k) => img[k] + VALIDATION_OPACITY * (v - img[k]));
    }
  }
}

/** A noise-shaped region darkened or tinted and blurred: a stain-like change of texture. */
function smudge(rng: Rng, image: RgbImage): SyntheticImageAnomaly {
  const size = image.size;
  const mask = noiseMask(rng, size);
  const out = new Float32Array(image.data);
  const gain = [rng.uniform(0.4, 1.4), rng.uniform(0.4, 1.4), rng.uniform(0.4, 1.4)];
  const radius = 1 + rng.int(2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      if (mask[i] === 0) continue;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        let count = 0;
        for (let dy = -radius; dy <= radius; dy++) {
          for (let dx = -radius; dx <= radius; dx++) {
            const yy = Math.min(size - 1, Math.max(0, y + dy));
            const xx = Math.min(size - 1, Math.max(0, x + dx));
            sum += image.data[(yy * size + xx) * 3 + c];
            count++;
          }
        }
        out[i * 3 + c] = Math.min(1, Math.max(0, (sum / count) * gain[c]));
      }
    }
  }
  return { data: out, mask, kind: "smudge" };
}

/**
 * Rows wider than this many features also get chimeras among their synthetic anomalies (see
 * {@linkcode syntheticTableAnomaly}); the same width beyond which a token holds several features
 * (`model.tableMaxTokens`), so every table measured before `v33` makes the anomalies it made.
 */
export const CHIMERA_WIDTH = 64;

/**
 * Makes a synthetic anomaly from a normalised table row: replaces 1-3 features with values
 * from another normal row (breaking correlations), or pushes 1-2 features out of range. A row
 * wider than {@linkcode CHIMERA_WIDTH} features becomes, one time in three, a chimera instead:
 * half its features, drawn at random, from the other row. In a wide row 1-3 features hide from
 * every comparison of whole rows, so without chimeras only per-feature evidence separated the
 * calibration's anomalies, and it was kept alone even where the real anomalies differ as whole
 * rows: scikit-learn's digits at 256 pixels read 0.871 on the densities alone against kNN's 0.962
 * (docs/results.md, "v33"). A chimera keeps every feature's values, so per-feature evidence
 * cannot see it.
 */
export function syntheticTableAnomaly(
  rng: Rng,
  row: Float32Array,
  donor: Float32Array,
): Float32Array {
  const out = new Float32Array(row);
  const d = row.length;
  if (d > CHIMERA_WIDTH && rng.next() < 1 / 3) {
    for (const j of rng.shuffle([...Array(d).keys()]).slice(0, d >> 1)) out[j] = donor[j];
    return out;
  }
  const count = 1 + rng.int(Math.min(3, d));
  const features = rng.shuffle([...Array(d).keys()]).slice(0, count);
  if (rng.next() < 0.5) {
    for (const j of features) out[j] = donor[j];
    // A donor value that happens to sit close gives no anomaly; nudge it apart.
    for (const j of features) {
      if (Math.abs(out[j] - row[j]) < 0.5) out[j] = row[j] + (rng.next() < 0.5 ? -1 : 1);
    }
  } else {
    for (const j of features.slice(0, 2)) {
      out[j] = row[j] + (rng.next() < 0.5 ? -1 : 1) * rng.uniform(2, 6);
    }
  }
  return out;
}

/**
 * One synthetic anomaly per row of `rows` (normalised, `d` features each), as
 * {@linkcode syntheticTableAnomaly} makes them, each with a donor drawn from `donors`.
 */
export function tableAnomalies(
  rows: Float32Array,
  donors: Float32Array,
  d: number,
  rng: Rng,
): Float32Array {
  const n = rows.length / d;
  const nDonors = donors.length / d;
  const out = new Float32Array(rows.length);
  for (let i = 0; i < n; i++) {
    const at = rng.int(nDonors) * d;
    const donor = donors.subarray(at, at + d);
    out.set(syntheticTableAnomaly(rng, rows.subarray(i * d, i * d + d), donor), i * d);
  }
  return out;
}

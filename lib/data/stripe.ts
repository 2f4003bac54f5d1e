/**
 * A straight stripe painted into a square mask: the shape of a scratch, which both the
 * synthetic anomalies of training (`anomalies.ts`) and the demo's synthetic defects
 * (`synthetic.ts`) draw.
 *
 * @module
 */

/**
 * Sets to 1 every pixel of a `size` x `size` mask (row-major) within `halfAlong` of the centre
 * (`cx`, `cy`) along the direction `angle` (radians from the x axis) and within `halfAcross`
 * across it; other pixels are left as they are.
 */
export function paintStripe(
  mask: Float32Array | Uint8Array,
  size: number,
  cx: number,
  cy: number,
  angle: number,
  halfAlong: number,
  halfAcross: number,
): void {
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const along = (x - cx) * dx + (y - cy) * dy;
      const across = -(x - cx) * dy + (y - cy) * dx;
      if (Math.abs(along) <= halfAlong && Math.abs(across) <= halfAcross) mask[y * size + x] = 1;
    }
  }
}

/**
 * The tail scale of a table's one-sided components (`ModelConfig.tableOneSidedTail`): a value
 * read as minus the log of the share of calibration normals at or above it. The per-feature
 * densities and the isolation forest read a row by its rarest value, and on their quartile scale
 * one value far out in a long tail outweighs every other component; here a value beyond every
 * normal counts log m (m normals) plus how far beyond it lies, in the same quartile units.
 *
 * @module
 */

/**
 * Most of a calibration's normals a tail scale keeps in order: all of them up to this many (ODDS
 * thyroid has 1,839), evenly spaced ranks beyond, so a checkpoint holds at most this many numbers
 * per component whatever the table's length.
 */
export const TAIL_QUANTILES = 2001;

/** A component's standardised calibration normals as its tail scale reads them. */
export interface TailScale {
  /** How many normals the scale was fitted on (m). */
  normals: number;
  /** Their values in ascending order, at evenly spaced ranks: all of them when m is small enough. */
  quantiles: number[];
}

/**
 * The tail scale of `values` (a component's standardised calibration normals), keeping at most
 * `limit` of them in order (ranks evenly spaced, interpolated).
 *
 * @throws {Error} when `values` is empty or holds a value that is not finite.
 */
export function fitTailScale(values: ArrayLike<number>, limit = TAIL_QUANTILES): TailScale {
  const sorted = Float64Array.from(values).sort();
  const m = sorted.length;
  if (m === 0) throw new Error("fitTailScale: no normals to fit on");
  if (!Number.isFinite(sorted[0]) || !Number.isFinite(sorted[m - 1])) {
    throw new Error("fitTailScale: a normal's value is not finite");
  }
  const k = Math.min(m, Math.max(2, limit));
  if (m === 1) return { normals: 1, quantiles: [Math.fround(sorted[0])] };
  const quantiles = Array.from({ length: k }, (_, j) => {
    const at = (j * (m - 1)) / (k - 1);
    const lo = Math.floor(at);
    const hi = Math.min(lo + 1, m - 1);
    return Math.fround(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo));
  });
  return { normals: m, quantiles };
}

/**
 * How many of the scale's m normals lie at or above `x`: m - i, with i the rank of x among them
 * interpolated between neighbouring values (0 at the smallest, m - 1 at the largest); m below the
 * smallest, 0 beyond the largest. On tied values it takes the last of them, as numpy's `interp`
 * does. Not an integer between the kept values of a scale that keeps fewer than m.
 */
export function normalsAtOrAbove(scale: TailScale, x: number): number {
  const q = scale.quantiles;
  const k = q.length;
  const m = scale.normals;
  if (x > q[k - 1]) return 0;
  if (x < q[0]) return m;
  if (k === 1) return m;
  // The last of the ordered values at or below x.
  let lo = 0;
  let hi = k - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (q[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  const between = lo === k - 1 ? 0 : (x - q[lo]) / (q[lo + 1] - q[lo]);
  return m - ((lo + between) * (m - 1)) / (k - 1);
}

/**
 * `x` on `scale`: -log((m - i) / m), with i its rank among the m normals as
 * {@linkcode normalsAtOrAbove} counts it (so log m at the largest); beyond the largest, log m plus
 * the excess; below the smallest, the (negative) shortfall. Increasing in x, and continuous.
 */
export function tailValue(scale: TailScale, x: number): number {
  const q = scale.quantiles;
  const k = q.length;
  const m = scale.normals;
  if (x > q[k - 1]) return Math.log(m) + (x - q[k - 1]);
  if (x < q[0]) return x - q[0];
  return -Math.log(normalsAtOrAbove(scale, x) / m);
}

/**
 * The conformal p-value of a score among the m calibration normals' scores held in `scale`:
 * (1 + n) / (m + 1), n the number at or above it as {@linkcode normalsAtOrAbove} counts it:
 * interpolated linearly between neighbouring calibration scores (so 43.5 halfway between the
 * scores with 44 and 43 at or above them), never below the plain count. If the scored sample and
 * the calibration normals are alike (exchangeable), a p-value at or below r comes to at most a
 * share r of normal samples; so flagging every sample with p <= r flags about that share of
 * normals, whatever the score's scale (Bates et al., "Testing for outliers with conformal
 * p-values", Annals of Statistics 2023).
 * Between 1 / (m + 1) (above every calibration normal) and 1 (below all of them).
 */
export function pValue(scale: TailScale, score: number): number {
  return (1 + normalsAtOrAbove(scale, score)) / (scale.normals + 1);
}

/**
 * Whether `value` is a well-formed {@linkcode TailScale} (as read from a checkpoint): a positive
 * count of normals and at most that many finite values, at least one, in ascending order.
 */
export function isTailScale(value: unknown): value is TailScale {
  if (typeof value !== "object" || value === null) return false;
  const { normals, quantiles } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(normals) || (normals as number) < 1) return false;
  if (!Array.isArray(quantiles) || quantiles.length === 0) return false;
  if (quantiles.length > (normals as number)) return false;
  return quantiles.every((v, i) =>
    typeof v === "number" && Number.isFinite(v) && (i === 0 || quantiles[i - 1] <= v)
  );
}

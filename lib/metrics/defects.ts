/**
 * Image AUROC by defect type: each type's test images ranked against the good ones alone. An
 * MVTec category mixes defects a model reads well with ones it misses (on screw, a scratch on the
 * neck and a flaw on the side thread), and the one AUROC over all of them hides which is which.
 *
 * @module
 */
import { auroc } from "./ranking.ts";

/** One defect type's test images against the good ones. */
export interface DefectResult {
  /** The defect type (its folder name in the MVTec layout). */
  defect: string;
  /** Test images of that type. */
  count: number;
  /** AUROC of the scores of that type's images against those of the good images. */
  auroc: number;
}

/** The defect type of normal images in the MVTec layout. */
export const GOOD = "good";

/**
 * AUROC of each defect type against the good images, in order of type name; null unless the test
 * part has good images and at least two defect types (with one, it is the overall AUROC).
 * `defects[i]` is image i's type, `undefined` when unknown (which leaves the image out).
 */
export function defectAurocs(
  scores: ArrayLike<number>,
  defects: readonly (string | undefined)[],
): DefectResult[] | null {
  if (scores.length !== defects.length) {
    throw new RangeError(`${scores.length} scores but ${defects.length} defect types`);
  }
  const good: number[] = [];
  const byType = new Map<string, number[]>();
  for (let i = 0; i < defects.length; i++) {
    const defect = defects[i];
    if (defect === undefined) continue;
    if (defect === GOOD) good.push(scores[i]);
    else if (byType.has(defect)) byType.get(defect)!.push(scores[i]);
    else byType.set(defect, [scores[i]]);
  }
  if (good.length === 0 || byType.size < 2) return null;
  return [...byType.keys()].sort().map((defect) => {
    const bad = byType.get(defect)!;
    const labels = [...good.map(() => 0), ...bad.map(() => 1)];
    return { defect, count: bad.length, auroc: auroc([...good, ...bad], labels) };
  });
}

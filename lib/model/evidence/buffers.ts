/**
 * Reusable arrays for the feature rows of table evidence (see {@linkcode FeatureBuffers}).
 *
 * @module
 */

/**
 * Float arrays for the feature rows of table evidence, reused by the batches of one scoring: a
 * scoring batch's features are read by its memory banks and dropped, and fresh arrays of tens of
 * MB per batch had their pages faulted in anew every time, which on the 2-core VM measured cost
 * 4 to 5 ms per MB (about a second per 100,000 rows for each 768-wide feature set). The arrays
 * are handed out in the order asked for and not cleared: each writer fills every row of its own.
 */
export class FeatureBuffers {
  #arrays: Float32Array[] = [];
  #next = 0;

  /** The next array, of `length` floats (grown when the one at its place is shorter). */
  take(length: number): Float32Array {
    const i = this.#next++;
    if (!(this.#arrays[i]?.length >= length)) this.#arrays[i] = new Float32Array(length);
    return this.#arrays[i].subarray(0, length);
  }

  /** Hands the arrays out again from the first, for the next batch. */
  reset(): void {
    this.#next = 0;
  }
}

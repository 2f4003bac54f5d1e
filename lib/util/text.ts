/**
 * Wording helpers for the lines commands print.
 *
 * @module
 */

/** `1 epoch`, `3 epochs`: a count with its noun in the number it needs (plural with an s). */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * A folder's path as a message names it, with one trailing slash however it was typed:
 * `heatmaps` and `heatmaps/` both read `heatmaps/` (not `heatmaps//`); `/` stays `/`.
 */
export function asFolder(path: string): string {
  return `${path.replace(/\/+$/, "")}/`;
}

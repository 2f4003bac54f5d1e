/**
 * Metric tables as text: aligned plain text for the terminal and Markdown for reports.
 *
 * @module
 */

import { escapeHtml } from "./html.ts";
import { NOT_MEASURABLE } from "../metrics/evaluate.ts";

/**
 * One table row: a name plus metric values; null is a metric the data cannot measure (an AUROC
 * of a test part with a single class), shown as {@linkcode NOT_MEASURABLE}.
 */
export type TableRow = { name: string } & Record<string, number | string | null>;

export { NOT_MEASURABLE };

/**
 * Integers print as they are, other numbers to 4 decimals, and so do whole numbers in a
 * `fractional` column (an AUROC of 1 beside 0.9789 reads as 1.0000); missing cells stay empty,
 * null ones read "n/a".
 */
function formatCell(value: number | string | null | undefined, fractional = false): string {
  if (value === undefined) return "";
  if (value === null) return NOT_MEASURABLE;
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && !fractional) return String(value);
  return value.toFixed(4);
}

/** Each row's cells as text, a column with a non-integer number shown to 4 decimals throughout. */
export function formatRows(rows: TableRow[], cols: string[]): string[][] {
  const fractional = cols.map((c) =>
    rows.some((r) => typeof r[c] === "number" && !Number.isInteger(r[c]))
  );
  return rows.map((r) => cols.map((c, j) => formatCell(r[c], fractional[j])));
}

/** The columns to show: `columns` if given, otherwise every key in order of first use. */
function resolveColumns(rows: TableRow[], columns?: string[]): string[] {
  if (columns) return ["name", ...columns.filter((c) => c !== "name")];
  const seen = new Set<string>(["name"]);
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

/** A column is right-aligned when every present value in it is a number (or not measurable). */
function numericColumns(rows: TableRow[], cols: string[]): boolean[] {
  return cols.map((c) =>
    c !== "name" && rows.some((r) => typeof r[c] === "number") &&
    rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === "number")
  );
}

/**
 * Characters a terminal shows two columns wide: the East Asian wide and full-width ranges (CJK,
 * Hangul, kana, full-width forms), so that a table named `温度` lines up with one named `base`.
 */
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u;

/** Columns `text` takes in a terminal (combining marks none, wide characters two). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    if (/\p{M}/u.test(ch)) continue;
    width += WIDE.test(ch) ? 2 : 1;
  }
  return width;
}

/**
 * An aligned plain-text table: a header, a dashed rule, one line per row. Numeric columns are
 * right-aligned, non-integers shown to 4 decimals.
 *
 * @param rows Rows with a `name` and metric values.
 * @param columns Metric columns to show, in order; default every key used by a row.
 */
export function metricsTable(rows: TableRow[], columns?: string[]): string {
  const cols = resolveColumns(rows, columns);
  const numeric = numericColumns(rows, cols);
  const cells = formatRows(rows, cols);
  const widths = cols.map((c, j) =>
    Math.max(displayWidth(c), ...cells.map((line) => displayWidth(line[j])))
  );
  const render = (line: string[]) =>
    line.map((cell, j) => {
      const pad = " ".repeat(widths[j] - displayWidth(cell));
      return numeric[j] ? pad + cell : cell + pad;
    }).join("  ").trimEnd();
  return [
    render(cols),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.map(render),
  ].join("\n") + "\n";
}

/** Escapes a Markdown table cell. */
function markdownCell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/**
 * The same table as {@linkcode metricsTable}, as GitHub-flavoured Markdown with numeric columns
 * right-aligned.
 */
export function markdownTable(rows: TableRow[], columns?: string[]): string {
  const cols = resolveColumns(rows, columns);
  const numeric = numericColumns(rows, cols);
  const line = (cells: string[]) => `| ${cells.map(markdownCell).join(" | ")} |`;
  return [
    line(cols),
    `|${numeric.map((n) => (n ? " ---: " : " --- ")).join("|")}|`,
    ...formatRows(rows, cols).map(line),
  ].join("\n") + "\n";
}

/**
 * An HTML table of rows (every key in order of first use, or `columns`; `name` first), numbers
 * formatted as in {@linkcode metricsTable}, text escaped.
 */
export function htmlTable(rows: TableRow[], columns?: string[]): string {
  const cols = resolveColumns(rows, columns);
  const cells = formatRows(rows, cols);
  return `<table><thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>` +
    `</thead><tbody>${
      cells.map((line) => `<tr>${line.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
        .join("")
    }</tbody></table>`;
}

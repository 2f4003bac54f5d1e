/**
 * Labelled numeric CSV files → {@linkcode Table}. Parsing is done by Polars; this module adds
 * the checks that turn every malformed cell into a one-line {@linkcode MadError} naming the
 * file, the row and the column.
 *
 * @module
 */
import pl from "nodejs-polars";
import { Buffer } from "node:buffer";
import { basename, extname } from "node:path";
import { fileError, isNotFound } from "../errors.ts";
import type { Table } from "./types.ts";

/** Options for {@linkcode readLabelledCsv}. */
export interface ReadCsvOptions {
  /** When false, a file without a `label` column gives `labels = null`. Default true. */
  requireLabel?: boolean;
  /** Table name; defaults to the file name without its extension. */
  name?: string;
  /**
   * Leave a `label` column out unread (scoring, where labels are ignored): `labels` is null and
   * cells such as `?` or blanks in it are no error.
   */
  ignoreLabel?: boolean;
  /**
   * The column names a model was trained on (scoring, evaluation): a first line holding exactly
   * these, in any order, is a header even when they are numbers (spectra named by wavelength,
   * `400,410,...`), which a first line of numbers otherwise is not.
   */
  headerNames?: readonly string[];
  /** Hears one-line warnings (`warning: PATH: ...`). Default `console.warn`. */
  warn?: (line: string) => void;
}

const LABEL_WORDS: Record<string, 0 | 1> = {
  normal: 0,
  good: 0,
  anomaly: 1,
  bad: 1,
};

/**
 * Reads a CSV of numeric features with an optional `label` column (name matched
 * case-insensitively). Labels may be 0/1 (also `0.0`/`1.0`), `normal`/`anomaly` or
 * `good`/`bad`, case-insensitive. Accepts a UTF-8 BOM, CRLF line ends, blank lines and
 * `;`- or tab-separated files (the separator is the one that splits the header and the first
 * data lines alike, comma by default; Excel's `sep=;` first line sets it). A file whose first line
 * holds numbers only has no header (unless they are `options.headerNames`): that line is the
 * first row and the columns are named `1`..`d`. Warns when a column besides `label` has a name
 * labels are often found under (`outlier`, ...): it is read as a feature and may leak the labels.
 *
 * @throws {MadError} `PATH: problem` when the file is missing, is not UTF-8, is empty, has no
 * rows, lacks a required label column, or holds a bad label, a non-numeric, empty, NaN or
 * infinite cell.
 */
export function readLabelledCsv(path: string, options: ReadCsvOptions = {}): Table {
  const requireLabel = options.requireLabel ?? true;
  const text = readText(path);
  let { body, lineNumbers } = dropBlankLines(path, text);
  let line1 = body.slice(0, body.indexOf("\n"));
  // Excel's `sep=;` first line names the separator: honoured, and not read as the header.
  const directive = excelSeparator(path, line1);
  if (directive !== null) {
    body = body.slice(line1.length + 1);
    if (body === "") throw fileError(path, `only Excel's "${line1}" line, no header`);
    const kept = lineNumbers;
    lineNumbers = { length: kept.length - 1, at: (i) => kept.at(i + 1) };
    line1 = body.slice(0, body.indexOf("\n"));
  }
  const sep = directive ?? detectSeparator(line1, firstLines(body, SEPARATOR_SAMPLE));
  let header = splitHeader(line1, sep);
  const headerless = header.every(isNumber) && !isTrainedHeader(header, options.headerNames);
  if (headerless) {
    // A first line of numbers only is a row (np.savetxt writes no header): reading it as the
    // header dropped that row and shifted every id. Its columns are numbered 1..d, which
    // scoring matches by position.
    header = header.map((_, i) => String(i + 1));
    body = header.join(sep) + "\n" + body;
    const data = lineNumbers;
    lineNumbers = { length: data.length + 1, at: (i) => (i === 0 ? 0 : data.at(i - 1)) };
  }
  checkHeader(path, header);
  if (lineNumbers.length < 2) throw fileError(path, "no data rows (only a header)");
  checkSeparatorFound(path, header, body);
  checkFieldCounts(path, body, sep, header.length, lineNumbers);

  let df: pl.DataFrame;
  try {
    // A Buffer, not a string: nodejs-polars takes a one-line string for a file path.
    df = pl.readCSV(Buffer.from(body), { sep, inferSchemaLength: 0, hasHeader: true });
  } catch (e) {
    throw fileError(path, `cannot parse CSV: ${firstLine(e)}`);
  }
  // A trailing separator on every line makes an unnamed, empty last column; drop it.
  const keep = df.columns.filter((_c, i) => !(header[i] === "" && i === header.length - 1));
  df = df.select(...keep);
  const names = header.slice(0, keep.length);
  const rowLabel = (r: number) => `row ${r + 1} (line ${lineNumbers.at(r + 1)})`;

  const labelIdx = names.findIndex((c) => c.toLowerCase() === "label");
  if (labelIdx < 0 && requireLabel) throw fileError(path, noLabelColumn(names));
  const featureIdx = names.map((_, i) => i).filter((i) => i !== labelIdx);
  if (featureIdx.length === 0) throw fileError(path, "no feature columns");
  if (labelIdx >= 0 && !options.ignoreLabel) {
    // Next to the labels, a column named like them is likely a copy (AUROC 1.0 by leakage).
    const likely = featureIdx.find((i) => LIKELY_LABEL_NAMES.has(names[i].toLowerCase()));
    if (likely !== undefined) {
      (options.warn ?? console.warn)(
        `warning: ${path}: column ${names[likely]} looks like a label and is used as a ` +
          "feature; drop it if it is one",
      );
    }
  }

  const n = df.height;
  const d = featureIdx.length;
  const values = new Float64Array(n * d);
  const columns = df.columns;
  const numeric = numericColumns(df, columns);
  featureIdx.forEach((ci, j) => {
    const parsed = numeric(ci);
    for (let r = 0; r < n; r++) {
      const v = parsed[r];
      if (v === null || !Number.isFinite(v)) {
        // The cell as written, for the message only: a column's strings cost more than its parse.
        const raw = df.getColumn(columns[ci]).get(r) as string | null;
        throw fileError(path, `${rowLabel(r)}, column "${names[ci]}": ${cellProblem(raw, v)}`);
      }
      values[r * d + j] = v;
    }
  });

  let labels: Uint8Array | null = null;
  if (labelIdx >= 0 && !options.ignoreLabel) {
    labels = new Uint8Array(n);
    // Numeric 0/1 labels, the usual case, without a string per row; anything else as written.
    const column = columns[labelIdx];
    const parsed = numeric(labelIdx);
    let r = 0;
    for (; r < n && (parsed[r] === 0 || parsed[r] === 1); r++) labels[r] = parsed[r] as 0 | 1;
    const raw = r < n ? df.getColumn(column).toArray() as (string | null)[] : [];
    for (; r < n; r++) {
      const label = parseLabel(raw[r]);
      if (label === null) {
        const shown = raw[r] === null || raw[r]!.trim() === ""
          ? "empty label"
          : `label "${raw[r]!.trim()}" is not one of 0/1, normal/anomaly, good/bad`;
        throw fileError(path, `${rowLabel(r)}: ${shown}`);
      }
      labels[r] = label;
    }
  }

  return {
    name: options.name ?? basename(path, extname(path)),
    source: path,
    columns: featureIdx.map((i) => names[i]),
    ...(headerless ? {} : { header: true }),
    n,
    d,
    values,
    labels,
  };
}

/** Names a CSV's labels are often found under; `label` is the one read. */
const LIKELY_LABEL_NAMES = new Set(["y", "class", "target", "outlier", "anomaly", "is_anomaly"]);

/** Names a row number or record ID is often found under (lower case); `unnamed: N` too. */
const ROW_INDEX_NAMES = new Set([
  "id",
  "index",
  "idx",
  "row",
  "rowid",
  "row_id",
  "row_index",
  "sample_id",
]);

/** Rows a table needs before a column of 0..n-1 or 1..n is taken for a row number. */
const ROW_INDEX_MIN_ROWS = 10;

/**
 * The feature columns of `table` that look like a row number or a record ID: named like one
 * (`id`, `index`, pandas' `Unnamed: 0`, ...) or holding exactly 0..n-1 or 1..n in file order.
 * Such a column is read as a feature, and when the rows are ordered by label (anomalies first)
 * it gives the labels away.
 */
export function rowIndexColumns(table: Table): string[] {
  const { n, d, values, columns } = table;
  return columns.filter((name, j) => {
    const lower = name.trim().toLowerCase();
    if (ROW_INDEX_NAMES.has(lower) || /^unnamed: \d+$/.test(lower)) return true;
    if (n < ROW_INDEX_MIN_ROWS) return false;
    const first = values[j];
    if (first !== 0 && first !== 1) return false;
    for (let r = 1; r < n; r++) if (values[r * d + j] !== first + r) return false;
    return true;
  });
}

/**
 * The warning line for {@linkcode rowIndexColumns} `names` of the table read from `path`, or
 * null when there are none.
 */
export function rowIndexWarning(path: string, names: readonly string[]): string | null {
  if (names.length === 0) return null;
  const one = names.length === 1;
  const shown = names.map((c) => `"${c}"`).join(", ");
  return `warning: ${path}: ${one ? "column" : "columns"} ${shown} ${one ? "looks" : "look"} ` +
    "like a row number or ID (by its name, or values 0..n-1 or 1..n in file order) and " +
    `${one ? "is read as a feature" : "are read as features"}: in a file ordered by label it ` +
    `leaks the labels; drop ${one ? "it" : "them"} (pandas: to_csv(..., index=False))`;
}

/**
 * The problem of a CSV without a `label` column, for a message after its path: its columns, why
 * labels are needed (`why`), and the rename that fixes it when a column looks like the labels
 * (`y`, as ADBench names them).
 */
export function noLabelColumn(columns: readonly string[], why = ""): string {
  const likely = columns.find((c) => LIKELY_LABEL_NAMES.has(c.toLowerCase()));
  const shown = columns.length > 12
    ? `${columns.slice(0, 12).join(", ")}, ... (${columns.length})`
    : columns.join(", ");
  // A headerless CSV's columns are numbered 1..d: nothing there can hold the labels by name.
  const headerless = columns.length > 0 && columns.every((c, i) => c === String(i + 1));
  return `no 'label' column (columns: ${shown})${why ? `: ${why}` : ""}` +
    (likely ? `; if "${likely}" holds the labels, rename it to "label"` : "") +
    (headerless ? '; the file has no header: add one that names the labels\' column "label"' : "");
}

/**
 * Builds a {@linkcode Table} from row arrays (tests, generated data, converted formats).
 *
 * @throws {MadError} when a row's length differs from `columns.length`, a value is not finite,
 * or `labels` has the wrong length.
 */
export function tableFromArrays(
  name: string,
  columns: string[],
  rows: number[][],
  labels: ArrayLike<number> | null,
  source = name,
): Table {
  const d = columns.length;
  const values = new Float64Array(rows.length * d);
  rows.forEach((row, r) => {
    if (row.length !== d) {
      throw fileError(source, `row ${r + 1} has ${row.length} values, expected ${d}`);
    }
    row.forEach((v, j) => {
      if (!Number.isFinite(v)) {
        throw fileError(source, `row ${r + 1}, column "${columns[j]}": ${v} is not finite`);
      }
      values[r * d + j] = v;
    });
  });
  if (labels !== null && labels.length !== rows.length) {
    throw fileError(source, `${labels.length} labels for ${rows.length} rows`);
  }
  return {
    name,
    source,
    columns: [...columns],
    n: rows.length,
    d,
    values,
    labels: labels === null ? null : Uint8Array.from(labels, (v) => (v ? 1 : 0)),
  };
}

/** Maps one label cell to 0/1, or null when it means nothing. */
export function parseLabel(cell: string | null): 0 | 1 | null {
  if (cell === null) return null;
  const s = cell.trim().toLowerCase();
  if (s === "") return null;
  if (s in LABEL_WORDS) return LABEL_WORDS[s];
  // Accept 0/1 in any numeric spelling ("1.0", "0e0"), as written by pandas and numpy.
  if (/^[+-]?[0-9.]+(e[+-]?[0-9]+)?$/.test(s)) {
    const v = Number(s);
    if (v === 0) return 0;
    if (v === 1) return 1;
  }
  return null;
}

/** Columns cast to numbers by one expression ({@linkcode numericColumns}). */
const NUMERIC_BLOCK = 64;

/**
 * Column i's cells read as numbers (spaces and tabs around them dropped; null: not a number),
 * for i in increasing order. Columns are cast a block at a time by one expression: a select
 * and `df.columns` per column made reading quadratic in the columns (36 s for 5,000), and all
 * at once would hold every cell as a JavaScript number, several times the table's own size.
 */
function numericColumns(
  df: pl.DataFrame,
  columns: readonly string[],
): (index: number) => (number | null)[] {
  let start = -1;
  let block: (number | null)[][] = [];
  return (index) => {
    const first = index - (index % NUMERIC_BLOCK);
    if (first !== start) {
      block = df.select(
        ...columns.slice(first, first + NUMERIC_BLOCK).map((name) =>
          pl.col(name).str.stripChars(" \t").cast(pl.Float64, false)
        ),
      ).getColumns().map((series) => series.toArray() as (number | null)[]);
      start = first;
    }
    return block[index - first];
  };
}

function readText(path: string): string {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (isNotFound(e)) throw fileError(path, "file not found");
    if (e instanceof Deno.errors.IsADirectory) throw fileError(path, "is a directory, not a file");
    throw fileError(path, `cannot read file: ${firstLine(e)}`);
  }
  const binary = binaryKind(bytes);
  if (binary) throw fileError(path, `${binary}, not a CSV text file; save it as a UTF-8 CSV`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Decoded leniently, a Latin-1 `temp°C` became the column `temp\uFFFDC`, which no UTF-8
    // file to score then matched.
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 10) line++;
    throw fileError(
      path,
      `not UTF-8 text (line ${line}, byte ${at}: 0x${
        bytes[at].toString(16).padStart(2, "0")
      }; Latin-1 or Windows-1252?); save it as a UTF-8 CSV`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

/**
 * What a file that is no UTF-8 text is, judged by its first bytes (or a NUL byte anywhere), or
 * null: such files parsed as CSV gave misleading messages about field counts.
 */
function binaryKind(bytes: Uint8Array): string | null {
  const [a, b, c, d] = bytes;
  if (a === 0x1f && b === 0x8b) return "a gzip-compressed file (decompress it first)";
  if (a === 0x50 && b === 0x4b && c === 3 && d === 4) {
    return "a ZIP archive (e.g. an Excel .xlsx workbook)";
  }
  if ((a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff)) return "UTF-16 text";
  if (a === 0xd0 && b === 0xcf && c === 0x11 && d === 0xe0) return "an Excel .xls workbook";
  if (bytes.indexOf(0) >= 0) return "a binary file (it holds NUL bytes; UTF-16 text?)";
  return null;
}

/**
 * The offset of the first byte that does not belong to a well-formed UTF-8 sequence (the
 * decoder's own rules: no overlong forms, surrogates or code points past U+10FFFF), or
 * `bytes.length` when there is none.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      // Only the second byte has the narrowed range; the rest are plain continuation bytes.
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}

/**
 * Removes blank lines (Polars would read them as all-null rows) and CRs, keeping each kept
 * line's number in the file (`lineNumbers[i]`, from 1) for messages. A file with neither, the
 * usual case, is kept as it is: splitting 100,000 lines into strings and joining them again
 * cost more than parsing them.
 */
function dropBlankLines(path: string, text: string): { body: string; lineNumbers: LineNumbers } {
  const trimmed = text.replace(/\n+$/, "");
  if (trimmed !== "" && !/\r|\n[ \t]*\n|^[ \t]*\n|\n[ \t]*$/.test(trimmed)) {
    let lines = 1;
    for (let at = trimmed.indexOf("\n"); at >= 0; at = trimmed.indexOf("\n", at + 1)) lines++;
    return { body: trimmed + "\n", lineNumbers: { length: lines, at: (i) => i + 1 } };
  }
  const lines = text.split(/\r\n|\r|\n/);
  const kept: string[] = [];
  const numbers: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    kept.push(line);
    numbers.push(i + 1);
  });
  if (kept.length === 0) throw fileError(path, "file is empty");
  return {
    body: kept.join("\n") + "\n",
    lineNumbers: { length: numbers.length, at: (i) => numbers[i] },
  };
}

/** Line numbers in the file of the lines kept (the header first). */
interface LineNumbers {
  length: number;
  at(i: number): number;
}

/** Data lines after the header that {@linkcode detectSeparator} compares with it. */
const SEPARATOR_SAMPLE = 5;

/** The first `count` lines of `body` after its first (the header), without splitting it all. */
function firstLines(body: string, count: number): string[] {
  const lines: string[] = [];
  let start = body.indexOf("\n") + 1;
  while (start > 0 && start < body.length && lines.length < count) {
    const end = body.indexOf("\n", start);
    lines.push(body.slice(start, end < 0 ? body.length : end));
    start = end + 1;
  }
  return lines;
}

/**
 * The separator: the one of comma, semicolon and tab that splits the header and the first data
 * lines into the same number of fields (`temp, C;flow, l/min` over `0.1;3.4` is `;`), preferring
 * by the header's counts (a semicolon when it has more of them than commas, a tab when more than
 * either, else a comma) when several do or none does. Separators inside quotes do not count.
 */
function detectSeparator(header: string, data: readonly string[]): string {
  const unquote = (line: string) => line.replace(/"(?:[^"]|"")*"/g, "");
  const count = (line: string, ch: string) => line.split(ch).length - 1;
  const head = unquote(header);
  const rows = data.map(unquote);
  const byHeader = (candidates: readonly string[]): string => {
    const [comma, semi, tab] = [",", ";", "\t"].map((c) =>
      candidates.includes(c) ? count(head, c) : -1
    );
    if (semi > comma && semi >= tab) return ";";
    if (tab > comma && tab > semi) return "\t";
    return comma >= 0 ? "," : candidates[0];
  };
  const consistent = [",", ";", "\t"].filter((c) => {
    const n = count(head, c);
    return n > 0 && rows.length > 0 && rows.every((row) => count(row, c) === n);
  });
  return byHeader(consistent.length > 0 ? consistent : [",", ";", "\t"]);
}

/**
 * The separator named by Excel's `sep=;` first line (also `sep=,`, a tab or `|`), or null when
 * `line` is no such line.
 *
 * @throws {MadError} for a `sep=` line naming another character.
 */
function excelSeparator(path: string, line: string): string | null {
  const m = /^"?sep=(.)\1*"?\s*$/i.exec(line);
  if (!m) return null;
  if (!",;\t|".includes(m[1])) {
    throw fileError(
      path,
      `line 1 "${line.trim()}" names the separator "${m[1]}"; use a comma, semicolon, tab or |`,
    );
  }
  return m[1];
}

/** The header's names: RFC 4180 quoting, so a quoted name may hold the separator or `""`. */
function splitHeader(line: string, sep: string): string[] {
  const names: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field.trim() === "") {
      field = "";
      quoted = true;
    } else if (c === sep) {
      names.push(field.trim());
      field = "";
    } else field += c;
  }
  names.push(field.trim());
  return names;
}

function checkHeader(path: string, header: string[]): void {
  const seen = new Map<string, string>();
  header.forEach((name, i) => {
    if (name === "" && i !== header.length - 1) {
      // pandas' to_csv writes its row index first, under an empty name.
      throw fileError(
        path,
        `header column ${i + 1} has no name` +
          (i === 0 ? " (a pandas row index? save with to_csv(..., index=False))" : ""),
      );
    }
    const other = seen.get(name.toLowerCase());
    if (name !== "" && other !== undefined) {
      throw fileError(
        path,
        other === name
          ? `column "${name}" appears twice in the header`
          : `columns "${other}" and "${name}" differ only in case, and column names are ` +
            "compared ignoring case; rename or drop one",
      );
    }
    seen.set(name.toLowerCase(), name);
  });
}

/** Polars silently truncates or pads ragged rows; reject them (quoted lines are left to Polars). */
function checkFieldCounts(
  path: string,
  body: string,
  sep: string,
  expected: number,
  lineNumbers: LineNumbers,
): void {
  // One scan of the characters: splitting every line into fields made 100,000 arrays.
  const newline = 10;
  const quote = 34;
  const separator = sep.charCodeAt(0);
  let row = 0; // 0: the header
  let fields = 1;
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === separator) fields++;
    else if (c === quote) quoted = true;
    else if (c === newline) {
      if (row > 0 && !quoted && fields !== expected) {
        throw fileError(
          path,
          `row ${row} (line ${
            lineNumbers.at(row)
          }) has ${fields} fields, the header has ${expected}`,
        );
      }
      row++;
      fields = 1;
      quoted = false;
    }
  }
}

/**
 * Whether a first line of numbers is the header a model was trained with: its fields are
 * `trained` in any order (reordered columns are accepted). Not when `trained` is `1..d`, the
 * names a headerless file's columns get: a first row `1,2,3` is as likely data.
 */
function isTrainedHeader(header: readonly string[], trained?: readonly string[]): boolean {
  if (!trained || trained.length !== header.length) return false;
  if (trained.every((c, i) => c === String(i + 1))) return false;
  const names = new Set(trained);
  return names.size === header.length && header.every((c) => names.has(c));
}

/**
 * Refuses a file whose header and first row are each one field holding spaces: a
 * whitespace-separated file, whose rows were otherwise refused as "not a number".
 */
function checkSeparatorFound(path: string, header: readonly string[], body: string): void {
  if (header.length !== 1 || !/\S\s+\S/.test(header[0])) return;
  const start = body.indexOf("\n") + 1;
  const row = body.slice(start, body.indexOf("\n", start)).trim();
  if (!/\S\s+\S/.test(row)) return;
  throw fileError(
    path,
    `the separator was not detected: the header is one column "${
      header[0].length > 40 ? header[0].slice(0, 40) + "..." : header[0]
    }" (comma, semicolon or tab expected); save it as a CSV`,
  );
}

/** A header field that is a finite number, so the line holding it is data, not names. */
function isNumber(field: string): boolean {
  return field !== "" && Number.isFinite(Number(field));
}

function cellProblem(raw: string | null, parsed: number | null): string {
  if (raw === null || raw.trim() === "") return "empty cell";
  if (parsed !== null && Number.isNaN(parsed)) return `"${raw.trim()}" (NaN) is not allowed`;
  if (parsed !== null) return `"${raw.trim()}" (infinite) is not allowed`;
  // `0,125` in a `;`-separated file: a decimal comma, as spreadsheets write in many locales.
  if (/^[+-]?\d*,\d+$/.test(raw.trim())) {
    return `"${raw.trim()}" is not a number (a decimal comma? write decimals with a point)`;
  }
  return `"${raw.trim()}" is not a number`;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

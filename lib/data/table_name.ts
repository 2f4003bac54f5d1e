/**
 * What a table is called. The name keys the table's own parameters (`table.<name>.value`), its
 * memory banks (`table:<name>|knn`) and its rows in reports, so a name made from an arbitrary
 * file or folder name is reduced to characters those keys cannot misread.
 *
 * @module
 */
import { basename, extname, resolve } from "node:path";

/**
 * The name under which course-style folders (`train-set.csv` + `test-set.csv`) were stored
 * before tables were named after their folder; checkpoints holding it must still evaluate.
 */
export const LEGACY_FOLDER_TABLE_NAME = "thyroid-course";

/**
 * `raw` with every run of characters other than ASCII letters, digits, `_` and `-` replaced by
 * one `_` (trimmed at the ends); `table` when nothing is left. A `.` would let `table.a.` prefix
 * the parameters of a table `a.b`, and `|` or `:` would split bank keys.
 */
export function safeTableName(raw: string): string {
  const name = raw.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return name === "" ? "table" : name;
}

/**
 * The name of the table read from `path`: a folder's own name, or a file's base name without
 * its extension (UCI `ann-train` / `ann-test` are `thyroid`), made safe by
 * {@linkcode safeTableName}.
 */
export function tableNameOf(path: string, isDirectory: boolean): string {
  if (isDirectory) return safeTableName(basename(resolve(path)));
  const stem = basename(path, extname(path)).replace(/^ann-(train|test)$/, "thyroid");
  return safeTableName(stem);
}

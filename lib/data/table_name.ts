/**
 * What a table is called. The name keys the table's own parameters (`table.<name>.value`), its
 * memory banks (`table:<name>|knn`) and its rows in reports, so a name made from an arbitrary
 * file or folder name is reduced to characters those keys cannot misread.
 *
 * @module
 */
import { basename, dirname, extname, resolve } from "node:path";

/**
 * The name under which course-style folders (`train-set.csv` + `test-set.csv`) were stored
 * before tables were named after their folder; checkpoints holding it must still evaluate.
 */
export const LEGACY_FOLDER_TABLE_NAME = "thyroid-course";

/**
 * The table sources every command reads (`readTableSource` in lib/train/datasets.ts), as their
 * `--help` names them: one phrase, so that a format added there is named everywhere.
 */
export const TABLE_FORMATS = ".csv, ODDS .mat, ADBench .npz, UCI .data or a split folder";

/**
 * `raw` with every run of characters other than letters and digits of any script (with their
 * combining marks), `_` and `-` replaced by one `_` (trimmed at the ends); `table` when nothing
 * is left. A `.` would let `table.a.` prefix the parameters of a table `a.b`, and `|` or `:`
 * would split bank keys. Letters outside ASCII are kept, as image category names keep them:
 * replacing them named `温度.csv` and `圧力.csv` both `table`. The name is NFC-normalised, so
 * a file name macOS gives decomposed (`u` + U+0308) is the same table as its composed `ü`.
 */
export function safeTableName(raw: string): string {
  const name = raw.normalize("NFC").replace(/[^\p{L}\p{M}\p{N}_-]+/gu, "_")
    .replace(/^_+|_+$/g, "");
  return name === "" ? "table" : name;
}

/**
 * The name older versions gave `raw` ({@linkcode safeTableName} with only ASCII letters and
 * digits kept, `Müller` -> `M_ller`), by which their checkpoints still find the table.
 */
export function asciiTableName(raw: string): string {
  const name = raw.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return name === "" ? "table" : name;
}

/**
 * The seed of a split folder named for one (`s0`, `s1`, ... or `seed0`, ...), as
 * `../shared/peers/sklearn_tables.py split` writes them below a folder named after the table;
 * null for any other name.
 */
export function seedOfSplitFolder(name: string): number | null {
  const match = /^s(?:eed)?(\d+)$/i.exec(name);
  return match ? Number(match[1]) : null;
}

/**
 * The name of the table read from `path`: a folder's own name (a seed's split folder, see
 * {@linkcode seedOfSplitFolder}, takes the name of the folder it sits in, so that
 * `12_fault/s0` is `12_fault`), or a file's base name without its extension (UCI `ann-train` /
 * `ann-test` are `thyroid`), made safe by `safe` ({@linkcode safeTableName}; older versions'
 * {@linkcode asciiTableName} to find the tables of their checkpoints).
 */
export function tableNameOf(
  path: string,
  isDirectory: boolean,
  safe: (raw: string) => string = safeTableName,
): string {
  if (isDirectory) {
    const folder = resolve(path);
    const own = basename(folder);
    return safe(seedOfSplitFolder(own) === null ? own : basename(dirname(folder)));
  }
  const stem = basename(path, extname(path)).replace(/^ann-(train|test)$/, "thyroid");
  return safe(stem);
}

/**
 * What a benchmark runs on: every image category below an images folder (MVTec AD or course
 * layout, see `discoverImageCategories`) and every table in a tables folder. A table is a file
 * with one of {@linkcode TABLE_EXTENSIONS} or a split folder holding `train-set.csv` and
 * `test-set.csv`, or a folder of one split folder per seed (`s0`, `s1`, ..., as
 * `../shared/peers/sklearn_tables.py split` writes them: seed k then trains and tests on `s<k>`,
 * the very split the scikit-learn peers saw); each is read once through the project's table
 * loader (`readTableSource`), so whatever that loader accepts works here. A table it cannot
 * read, one without both classes or one whose name is already taken is skipped with its reason
 * rather than failing the run; so is an image category whose test part lacks good images or
 * defects.
 *
 * @module
 */
import { basename, extname, join, resolve } from "node:path";
import { discoverImageCategories, testClassProblem } from "../data/images.ts";
import { noLabelColumn } from "../data/table.ts";
import { readTableSource } from "../train/datasets.ts";
import { MadError } from "../errors.ts";
import { seedOfSplitFolder, TABLE_FORMATS } from "../data/table_name.ts";

/** File endings the tables folder is searched for (`.npz`: ADBench, once the loader reads it). */
export const TABLE_EXTENSIONS: readonly string[] = [".csv", ".mat", ".npz", ".data"];

/** One dataset of the benchmark. */
export interface BenchmarkDataset {
  /** The name evaluation reports it under (image category, or the table's name). */
  name: string;
  modality: "image" | "table";
  /** Image category folder, or table file / split folder / folder of seeds' split folders. */
  source: string;
  /** A folder of seeds' split folders: seed k's split folder is `splits[k]`. */
  splits?: string[];
  /** Rows or images: training normals as given, test samples and anomalies among them. */
  size?: { train: number; test: number; anomalies: number };
}

/** A table or image category left out, and why. */
export interface SkippedDataset {
  source: string;
  reason: string;
}

/** What {@linkcode discoverBenchmark} found. */
export interface BenchmarkData {
  datasets: BenchmarkDataset[];
  skipped: SkippedDataset[];
}

/** Key of a dataset in run files and summaries: `image:bottle`, `table:thyroid`. */
export function datasetId(d: Pick<BenchmarkDataset, "modality" | "name">): string {
  return `${d.modality}:${d.name}`;
}

/** The table candidates in a folder: files with a table ending, split folders; sorted by name. */
export async function tableCandidates(dir: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new MadError(`${dir}: tables folder not found`);
  }
  if (!info.isDirectory) throw new MadError(`${dir}: not a folder (give --tables a folder)`);
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    const stat = await Deno.stat(path).catch(() => null);
    if (!stat) continue;
    if (stat.isFile && TABLE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) {
      out.push(path);
    } else if (stat.isDirectory && (await isSplitFolder(path) || (await seedSplits(path)).length)) {
      out.push(path);
    }
  }
  return out.sort();
}

async function isSplitFolder(path: string): Promise<boolean> {
  return await isFile(join(path, "train-set.csv")) && await isFile(join(path, "test-set.csv"));
}

/** The split folders named for a seed (`s0`, `seed1`, ...) in `dir`, in seed order. */
export async function seedSplits(dir: string): Promise<{ seed: number; path: string }[]> {
  const found: { seed: number; path: string }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const seed = seedOfSplitFolder(entry.name);
    const path = join(dir, entry.name);
    if (seed !== null && await isSplitFolder(path)) found.push({ seed, path });
  }
  return found.sort((a, b) => a.seed - b.seed);
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}

/**
 * One table as the benchmark sees it, or the reason it cannot be benchmarked. A folder of seeds'
 * split folders is read through its first split; their seeds must run 0, 1, ... without a gap.
 */
export async function inspectTableSource(path: string): Promise<BenchmarkDataset | SkippedDataset> {
  if ((await Deno.stat(path)).isFile || await isSplitFolder(path)) return inspectTable(path);
  const splits = await seedSplits(path);
  const seeds = splits.map((s) => s.seed);
  if (seeds.some((seed, k) => seed !== k)) {
    return {
      source: path,
      reason: `its split folders are for seeds ${seeds.join(", ")}; they must run 0, 1, ...`,
    };
  }
  const first = inspectTable(splits[0].path);
  return "name" in first ? { ...first, source: path, splits: splits.map((s) => s.path) } : first;
}

/** `reason` without a leading `SOURCE: `, which the skip line already gives. */
function withoutSource(reason: string, source: string): string {
  return reason.startsWith(`${source}: `) ? reason.slice(source.length + 2) : reason;
}

/** One table file or split folder as the benchmark sees it, or why it cannot be benchmarked. */
export function inspectTable(path: string): BenchmarkDataset | SkippedDataset {
  let source: ReturnType<typeof readTableSource>;
  try {
    source = readTableSource(path);
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    // The reader's one-line error names the file first; the skip line names it already.
    return { source: path, reason: withoutSource(message, path) };
  }
  const labels = source.table.labels;
  const anomalies = labels ? labels.reduce((a, l) => a + l, 0) : 0;
  if (!labels || (source.trainOnly === source.table)) {
    return {
      source: path,
      reason: noLabelColumn(source.table.columns, "nothing to evaluate against"),
    };
  }
  const normals = labels.length - anomalies;
  if (anomalies === 0 || (source.protocol === "given" ? labels.length === anomalies : !normals)) {
    return { source: path, reason: "needs both normal and anomalous rows" };
  }
  const train = source.protocol === "given" ? source.trainOnly!.n : normals;
  return {
    name: source.table.name,
    modality: "table",
    source: path,
    size: { train, test: source.table.n, anomalies },
  };
}

/**
 * The datasets below `imagesDir` and in `tablesDir` (either may be left out, not both), image
 * categories first. Image folders that hold no category are a one-line MadError, as in
 * training; a category that cannot be loaded (no `train/good` images, say) is skipped with its
 * reason, and tables are checked one by one (see the module doc).
 */
export async function discoverBenchmark(
  options: { imagesDir?: string; tablesDir?: string },
): Promise<BenchmarkData> {
  if (!options.imagesDir && !options.tablesDir) {
    throw new MadError("benchmark: give --images DIR and/or --tables DIR", 2);
  }
  const datasets: BenchmarkDataset[] = [];
  const skipped: SkippedDataset[] = [];
  const taken = new Set<string>();
  if (options.imagesDir) {
    // A category that cannot be loaded is skipped with its reason, as a broken table is.
    // The reason is the loader's one-line error, which names the folder first: once is enough.
    const skipCategory = (root: string, reason: string) =>
      skipped.push({
        source: root,
        reason: withoutSource(reason, root),
      });
    for (const c of await discoverImageCategories(options.imagesDir, { skipCategory })) {
      const anomalies = c.test.filter((s) => s.label === 1).length;
      const d: BenchmarkDataset = {
        name: c.category,
        modality: "image",
        source: c.root,
        size: { train: c.train.length, test: c.test.length, anomalies },
      };
      // As a table without both classes: its test part has no AUROC to compare methods by.
      const problem = testClassProblem(c);
      if (problem) {
        skipped.push({ source: c.root, reason: problem });
        continue;
      }
      if (taken.has(datasetId(d))) {
        skipped.push({ source: c.root, reason: `image category '${d.name}' found twice` });
        continue;
      }
      taken.add(datasetId(d));
      datasets.push(d);
    }
  }
  if (options.tablesDir) {
    for (const path of await tableCandidates(options.tablesDir)) {
      const found = await inspectTableSource(resolve(path));
      if (!("name" in found)) {
        skipped.push(found);
      } else if (taken.has(datasetId(found))) {
        skipped.push({
          source: found.source,
          reason: `another table is named '${found.name}' (${basename(found.source)} left out)`,
        });
      } else {
        taken.add(datasetId(found));
        datasets.push(found);
      }
    }
  }
  if (datasets.length === 0) {
    const why = skipped.map((s) => `${s.source}: ${s.reason}`).join("; ");
    const looked = [
      options.imagesDir && `${options.imagesDir} (image categories: folders with train/good)`,
      options.tablesDir && `${options.tablesDir} (tables: ${TABLE_FORMATS})`,
    ].filter(Boolean).join(" or ");
    throw new MadError(
      `benchmark: no usable datasets in ${looked}${why ? `; left out: ${why}` : ""}`,
    );
  }
  return { datasets, skipped };
}

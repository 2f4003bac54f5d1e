/**
 * Where MADformer's datasets come from and where `deno task data` puts them: the official
 * download links (overridable, since such links move), the layout of a local copy taken with
 * `--from`, and the paths training reads by default.
 *
 * @module
 */
import { join } from "node:path";
import { MadError } from "../errors.ts";

/** One downloadable file of a data source. */
export interface SourceFile {
  /** Name used by `--url KEY=URL` and `MADFORMER_URL_<KEY>` to override `url`. */
  key: string;
  /** Official download link. */
  url: string;
  /** Path of the downloaded file, relative to the data directory. */
  target: string;
  /** Expected sha256 (hex) of the download, or null when no pinned checksum is known. */
  sha256: string | null;
  /** For `.tar.xz` archives: folder (relative to the data directory) to extract into. */
  extractTo?: string;
  /** Relative path whose presence means the file was already fetched (and extracted). */
  present: string;
}

/** A named dataset that `deno task data --only NAME` can fetch. */
export interface DataSource {
  name: string;
  description: string;
  /** License and attribution, shown in summaries and the README. */
  license: string;
  /** Fetched when no `--only` is given. */
  byDefault: boolean;
  /** Official downloads; empty when the data is only available via `--from`. */
  files: SourceFile[];
  /**
   * Paths (files or folders) relative to a local dataset folder laid out like the shared
   * datasets folder; `--from` copies them to the same relative place under the data directory.
   */
  localPaths: string[];
}

const THYROID_MAT_SHA256 = "49155d7861b977e90808faf68343ff67a67f63090c2744d514dbb67ac68e7e33";
const MVTEC_LICENSE = "MVTec AD, CC BY-NC-SA 4.0, MVTec Software GmbH (Bergmann et al., CVPR 2019)";
const UCI_BASE = "https://archive.ics.uci.edu/ml/machine-learning-databases/thyroid-disease";

/** Every data source `deno task data` knows about. */
export const DATA_SOURCES: readonly DataSource[] = [
  {
    name: "thyroid",
    description: "ODDS thyroid.mat (3772 rows, 6 features, 93 anomalies)",
    license: "ODDS (Rayana 2016, Stony Brook University), from UCI Thyroid Disease, CC BY 4.0",
    byDefault: true,
    files: [{
      key: "thyroid",
      url: "https://www.dropbox.com/s/bih0e15a0fukftb/thyroid.mat?dl=1",
      target: "thyroid/odds/thyroid.mat",
      sha256: THYROID_MAT_SHA256,
      present: "thyroid/odds/thyroid.mat",
    }],
    localPaths: ["thyroid/odds"],
  },
  {
    name: "hazelnut",
    description: "MVTec AD hazelnut category (official layout)",
    license: MVTEC_LICENSE,
    byDefault: true,
    files: [{
      key: "hazelnut",
      url: "https://www.mydrive.ch/shares/150457/51d49f65e84bdc100ff8035d7dd783ea/download/" +
        "420937545-1629959162/hazelnut.tar.xz",
      target: "downloads/hazelnut.tar.xz",
      sha256: null,
      extractTo: "images/mvtec",
      present: "images/mvtec/hazelnut/train",
    }],
    localPaths: [
      "images/course/hazelnut",
      "images/course/image_anomaly_labels.json",
      "images/mvtec/hazelnut",
    ],
  },
  {
    name: "zipper",
    description: "MVTec AD zipper category (official layout)",
    license: MVTEC_LICENSE,
    byDefault: true,
    files: [{
      key: "zipper",
      url: "https://www.mydrive.ch/shares/150466/bd155b557520edaf692d9bfdb915c24a/download/" +
        "420938385-1629960680/zipper.tar.xz",
      target: "downloads/zipper.tar.xz",
      sha256: null,
      extractTo: "images/mvtec",
      present: "images/mvtec/zipper/train",
    }],
    localPaths: [
      "images/course/zipper",
      "images/course/image_anomaly_labels.json",
      "images/mvtec/zipper",
    ],
  },
  {
    name: "ann-thyroid",
    description: "UCI Thyroid Disease ann-train.data / ann-test.data (21 attributes + class)",
    license: "UCI Thyroid Disease (Quinlan), CC BY 4.0",
    byDefault: false,
    files: [
      {
        key: "ann-thyroid-train",
        url: `${UCI_BASE}/ann-train.data`,
        target: "thyroid/uci/ann-train.data",
        sha256: null,
        present: "thyroid/uci/ann-train.data",
      },
      {
        key: "ann-thyroid-test",
        url: `${UCI_BASE}/ann-test.data`,
        target: "thyroid/uci/ann-test.data",
        sha256: null,
        present: "thyroid/uci/ann-test.data",
      },
    ],
    localPaths: ["thyroid/uci"],
  },
  {
    name: "thyroid-course",
    description: "course split of ODDS thyroid (train-set.csv, test-set.csv); --from only",
    license: "derived from ODDS thyroid (see thyroid)",
    byDefault: false,
    files: [],
    localPaths: ["thyroid/course"],
  },
];

/** Relative path and expected sha256 of files whose checksum is pinned, for `--from` too. */
export const KNOWN_CHECKSUMS: Readonly<Record<string, string>> = {
  "thyroid/odds/thyroid.mat": THYROID_MAT_SHA256,
};

/** Names accepted by `--only`. */
export function sourceNames(): string[] {
  return DATA_SOURCES.map((s) => s.name);
}

/**
 * The sources named in `only` (comma-separated entries allowed), or the default ones when
 * `only` is empty. Unknown names raise a one-line MadError listing the valid ones.
 */
export function selectSources(only: readonly string[] = []): DataSource[] {
  const names = only.flatMap((o) => o.split(",")).map((o) => o.trim()).filter((o) => o !== "");
  if (names.length === 0) return DATA_SOURCES.filter((s) => s.byDefault);
  for (const name of names) {
    if (!DATA_SOURCES.some((s) => s.name === name)) {
      throw new MadError(
        `--only: unknown data source '${name}' (known: ${sourceNames().join(", ")})`,
      );
    }
  }
  return DATA_SOURCES.filter((s) => names.includes(s.name));
}

/** Environment variable that overrides the URL of the file with this key. */
export function urlEnvVar(key: string): string {
  return `MADFORMER_URL_${key.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Every key accepted by `--url KEY=URL`. */
export function urlKeys(): string[] {
  return DATA_SOURCES.flatMap((s) => s.files.map((f) => f.key));
}

/**
 * Parses `--url KEY=URL` flags into a map. A bad shape, an unknown key or a non-http(s) URL
 * raises a one-line MadError.
 */
export function parseUrlOverrides(specs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new MadError(`--url: expected NAME=URL, got '${spec}'`);
    const key = spec.slice(0, eq).trim();
    const url = spec.slice(eq + 1).trim();
    if (!urlKeys().includes(key)) {
      throw new MadError(`--url: unknown name '${key}' (known: ${urlKeys().join(", ")})`);
    }
    if (!/^https?:\/\//i.test(url)) {
      throw new MadError(`--url: '${url}' for ${key} is not an http(s) URL`);
    }
    out.set(key, url);
  }
  return out;
}

/**
 * The URL to fetch `file` from: a `--url` override first, then `MADFORMER_URL_<KEY>`, then
 * the official link.
 */
export function resolveUrl(
  file: SourceFile,
  overrides: ReadonlyMap<string, string> = new Map(),
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string {
  return overrides.get(file.key) ?? (env(urlEnvVar(file.key)) || file.url);
}

/** Where `deno task data` left the prepared datasets. */
export interface DataPaths {
  /** ODDS thyroid.mat (the expected path, whether or not it exists yet). */
  thyroidMat: string;
  /**
   * Image category folders (each with `train/` and `test/`): the course subset when
   * `images/course` holds any, else the MVTec AD categories; empty when there are none.
   */
  imagesDirs: string[];
}

/** Where training finds the data prepared under `dataDir` (default `data`). */
export function defaultDataPaths(dataDir = "data"): DataPaths {
  const thyroidMat = join(dataDir, "thyroid", "odds", "thyroid.mat");
  for (const layout of ["course", "mvtec"]) {
    const root = join(dataDir, "images", layout);
    const dirs = listDirsSync(root).filter((d) => isDirSync(join(root, d, "train")));
    if (dirs.length > 0) return { thyroidMat, imagesDirs: dirs.sort().map((d) => join(root, d)) };
  }
  return { thyroidMat, imagesDirs: [] };
}

function listDirsSync(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].filter((e) => e.isDirectory).map((e) => e.name);
  } catch {
    return [];
  }
}

function isDirSync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

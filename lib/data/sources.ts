/**
 * Where MADformer's datasets come from and where `deno task data` puts them: the official
 * download links (overridable, since such links move), the layout of a local copy taken with
 * `--from`, and the paths training reads by default.
 *
 * @module
 */
import { join } from "node:path";
import { MadError } from "../errors.ts";
import { isDirectory } from "../util/files.ts";

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
  /** A name that `--only` takes for this source and the others of the same group at once. */
  group?: string;
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
/**
 * The official link of each MVTec AD category's archive: `${MVTEC_BASE}/<path>/<category>.tar.xz`
 * (MVTec keeps one share per category).
 */
const MVTEC_BASE = "https://www.mydrive.ch/shares";
const MVTEC_SHARES: Readonly<Record<string, string>> = {
  bottle: "150452/132a93367fb17cdf968dfb5c4013f6e7/download/420937370-1629958698",
  cable: "150453/10f960e07fec2838b2cd512586633a32/download/420937413-1629958794",
  capsule: "150454/e0ce6dd74eb150f46c0d98131b3703f2/download/420937454-1629958872",
  carpet: "150455/eac7fbce84d93a5094e13f391170eca4/download/420937484-1629959013",
  grid: "150456/bb0b2e3dc804ccb8b4485e01f8e4493b/download/420937487-1629959044",
  hazelnut: "150457/51d49f65e84bdc100ff8035d7dd783ea/download/420937545-1629959162",
  leather: "150458/923030ce14e10a7d147e95d0f8885f6b/download/420937607-1629959262",
  metal_nut: "150459/c68856a21dca589b0f8ff6d4ee0f18f4/download/420937637-1629959294",
  pill: "150460/d4f1c04da67034ccc8d8b5fa3e73f244/download/420938129-1629960351",
  screw: "150461/242f454cc6385e5693c4fd4b94567d1e/download/420938130-1629960389",
  tile: "150462/5479f0fdc97bc6fa16eab0cb0cf0109f/download/420938133-1629960456",
  toothbrush: "150463/895a1a5fb84b958f07417784b060434b/download/420938134-1629960477",
  transistor: "150464/99b8ea0332438d64fcc2475ee73f9c29/download/420938166-1629960554",
  wood: "150465/d5b4115b720cdb54d217e75636e6e374/download/420938383-1629960649",
  zipper: "150466/bd155b557520edaf692d9bfdb915c24a/download/420938385-1629960680",
};
/** The 15 MVTec AD categories (hazelnut and zipper are also the course's image data). */
export const MVTEC_CATEGORIES: readonly string[] = Object.keys(MVTEC_SHARES);
/**
 * The 12 categories besides the course's two and the dev category screw. Opt-in: none was used to
 * choose anything, so they check the defaults on categories nobody tuned on (`deno task benchmark
 * --images data/images/mvtec-more`).
 */
const MVTEC_MORE = Object.keys(MVTEC_SHARES).filter((c) =>
  !["hazelnut", "zipper", "screw"].includes(c)
);
const UCI_BASE = "https://archive.ics.uci.edu/ml/machine-learning-databases/thyroid-disease";
/**
 * ADBench's repository at the commit whose "Classical" tables the dev suite and the README's
 * benchmark figures were measured on; pinned so that a download is byte for byte those tables.
 */
const ADBENCH_COMMIT = "3dac8221081e190f157d78e93bfa8867f90d0965";
const ADBENCH_BASE = "https://raw.githubusercontent.com/Minqi824/ADBench/" +
  `${ADBENCH_COMMIT}/adbench/datasets/Classical`;
/** The 17 ADBench tables of the dev suite and the sha256 of each at `ADBENCH_COMMIT`. */
const ADBENCH_TABLES: Readonly<Record<string, string>> = {
  "7_Cardiotocography": "5ae84910430f05923e11b6f537243263977c9136949dabd891e3570aeec51e29",
  "12_fault": "ec27301f9a4cf7c5d8b22c360cf37ddb043b7fb062465723dfd8b34e2771e5dd",
  "14_glass": "aa7a8db1d475ba01a10488af454bc15220a3d5951b010b03b7020567d8152cdc",
  "15_Hepatitis": "4a87a2f7d8013e5bfde63294fae61ec7a612322de72f338a7f9491749025ad98",
  "20_letter": "f986d3da80cf1fa2aea83a5ebe73b7d4800e0d4c01fdd1ae074b58d20f10d039",
  "21_Lymphography": "dad977b04f4ea65b78ccd0e9f76b45175bad605165b37e63f3cc177845e67037",
  "27_PageBlocks": "10a9b4d5bb5d3b9083caab4c4062f665610eada703c3d927bf7c34b1f2d0d223",
  "30_satellite": "1f048f5686f1b8c16a227fdfa3c81a62cd9a92715714a6b24c69b1c5ad96b46e",
  "37_Stamps": "99fe739447284f613fa54bf2dccdb51c5120175ce6260adec6dad77576c42509",
  "39_vertebral": "0816286f92b96fe6867664a41a031ac7228dcfbf1a5feefe50ca3883b2e9073d",
  "40_vowels": "4bfc4244d1c882773bbbc50d4a5db5e52276e53506e46b2d45e02d074cfcb1b6",
  "41_Waveform": "6c9d867337ad1a2f8372c1d27f4c032f0401237e2041b7c45f00de8d319ff30f",
  "43_WDBC": "78d4606a1ab516f5b60b00c196497f3bbd6bd5e4548fd04cf5f2475209b34b85",
  "44_Wilt": "c70b72aa611ec87b20efb400943ef3ce4f8bf7aa58fcef825fbd28cc5cee3cc9",
  "45_wine": "d5ad8965d92cc57122fe1e6572bb301adbaf795b3e166d187ae00a704d8f6e20",
  "46_WPBC": "68a6d67242643855713bcdad07d89ecc472bd00000dccc17ba87916eb2693d19",
  "47_yeast": "bbb15c873d78a4f6a589f46d0f75814595e2282d2ae7ce7779c750f276c3770d",
};
/**
 * 14 more ADBench Classical tables at `ADBENCH_COMMIT`, and the sha256 of each: every table of
 * the collection with at most 12,000 rows and 200 features that is neither in the dev suite nor
 * ODDS thyroid (`38_thyroid`). No setting was chosen on them; they check whether what was chosen
 * on the dev suite carries to tables nobody tuned on (docs/transformer-evidence.md, "Thirty-fifth
 * pass").
 */
const ADBENCH_HELD_OUT_TABLES: Readonly<Record<string, string>> = {
  "2_annthyroid": "e738f7c58a8740d2c4aac4c71ff49ce5e1d1aa16f44178135fc9c09df05fad1b",
  "4_breastw": "4f37ce07dbc25ddad8178fdc6d664ab46d2d0000ee28c2787c3c7ff3c03ef9f6",
  "6_cardio": "bc5009bde6930b4d298b594f31b34485a9a17210cff0e8fb00a8c3068b885a2d",
  "18_Ionosphere": "bca46cb0cfd1bf9ddef6cde5ad2215d54fb0189508d0d4c4eb98e788cad69001",
  "19_landsat": "ba17e2158c07469597b89db49d3982c874c6b713ff6670721ddc88969da77987",
  "23_mammography": "a0308ac9712d78321073b1c2dc98dc37665c0f35c1cc33019416fe8f8d7de7ea",
  "24_mnist": "be7706272325fdd3592c1be555ae1a82f916a2f8545f4f8cbaa548ab102cc44c",
  "25_musk": "2ed3f4392197b76a1e59116ff880c7720a4b026cf4842073a53b56fdea265017",
  "26_optdigits": "60de17a375a278ba220a7849727d998aa02b5e2f9fd17732a004bba28de4656e",
  "28_pendigits": "c4936b89dcdad59d303020e492f763a0f54170080d787c77497609acbb9c2d79",
  "29_Pima": "215454bb263a2f040945c9ea7bd7f06f1e89a61a3143bdb6f196e3887e801a7d",
  "31_satimage-2": "1b056e357f801b8b20c3f380a30224a3c4088d7ed764ec5a24828dc9b1918d6f",
  "35_SpamBase": "d0c46c7928e43f6496bcd06e09de0b70f6bc8143792dfa0a43f450263d254e9b",
  "42_WBC": "650f9dcb129248f67a291be0974f533ef259fcbde50fce5c8ad2a1cb2652d03b",
};
const ADBENCH_LICENSE = "ADBench (Han et al., NeurIPS 2022), BSD 2-Clause; each table from its " +
  "original source (ODDS, UCI, DAMI): cite ADBench and that source";

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
    files: [mvtecArchive("hazelnut", "images/mvtec")],
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
    files: [mvtecArchive("zipper", "images/mvtec")],
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
  adbenchSource(
    "adbench",
    "17 ADBench Classical tables (.npz) of the dev suite (deno task benchmark)",
    ADBENCH_TABLES,
  ),
  adbenchSource(
    "adbench-held-out",
    "14 more ADBench Classical tables (.npz) nobody tuned on, to check the dev suite's " +
      "choices on (deno task benchmark)",
    ADBENCH_HELD_OUT_TABLES,
  ),
  {
    // Kept out of images/mvtec, where a category would join the default training run.
    name: "screw",
    description: "MVTec AD screw category, the dev category (official layout, images/dev)",
    license: MVTEC_LICENSE,
    byDefault: false,
    files: [mvtecArchive("screw", "images/dev")],
    localPaths: ["images/dev/screw"],
  },
  // Kept out of images/mvtec for the same reason, in a folder of their own.
  ...MVTEC_MORE.map((category): DataSource => ({
    name: category,
    description: `MVTec AD ${category} category (official layout, images/mvtec-more)`,
    license: MVTEC_LICENSE,
    byDefault: false,
    group: "mvtec-more",
    files: [mvtecArchive(category, "images/mvtec-more")],
    localPaths: [`images/mvtec-more/${category}`],
  })),
];

/**
 * A source of ADBench tables at `ADBENCH_COMMIT`: each table its own sha256-pinned file, under
 * `tables/<name>/` and named `<name>-<table>` for `--url`.
 */
function adbenchSource(
  name: string,
  description: string,
  tables: Readonly<Record<string, string>>,
): DataSource {
  return {
    name,
    description,
    license: ADBENCH_LICENSE,
    byDefault: false,
    files: Object.entries(tables).map(([table, sha256]) => ({
      key: `${name}-${table}`,
      url: `${ADBENCH_BASE}/${table}.npz`,
      target: `tables/${name}/${table}.npz`,
      sha256,
      present: `tables/${name}/${table}.npz`,
    })),
    localPaths: [`tables/${name}`],
  };
}

/**
 * An MVTec AD category's official archive, downloaded to `downloads/` and unpacked into `folder`
 * (`images/mvtec` joins the default training run; `images/dev` and `images/mvtec-more` do not).
 */
function mvtecArchive(category: string, folder: string): SourceFile {
  return {
    key: category,
    url: `${MVTEC_BASE}/${MVTEC_SHARES[category]}/${category}.tar.xz`,
    target: `downloads/${category}.tar.xz`,
    sha256: null,
    extractTo: folder,
    present: `${folder}/${category}/train`,
  };
}

/** Relative path and expected sha256 of files whose checksum is pinned, for `--from` too. */
export const KNOWN_CHECKSUMS: Readonly<Record<string, string>> = Object.fromEntries(
  DATA_SOURCES.flatMap((s) => s.files).flatMap((f) => (f.sha256 ? [[f.target, f.sha256]] : [])),
);

/** Names accepted by `--only`: every source's, then every group's. */
export function sourceNames(): string[] {
  return [...DATA_SOURCES.map((s) => s.name), ...groupNames()];
}

function groupNames(): string[] {
  return [...new Set(DATA_SOURCES.flatMap((s) => (s.group ? [s.group] : [])))];
}

/**
 * The sources named in `only` (comma-separated entries allowed; a group's name stands for each
 * of its sources), or the default ones when `only` is empty. Unknown names raise a one-line
 * MadError listing the valid ones.
 */
export function selectSources(only: readonly string[] = []): DataSource[] {
  const names = only.flatMap((o) => o.split(",")).map((o) => o.trim()).filter((o) => o !== "");
  if (names.length === 0) return DATA_SOURCES.filter((s) => s.byDefault);
  for (const name of names) {
    if (!sourceNames().includes(name)) {
      throw new MadError(
        `--only: unknown data source '${name}' (known: ${sourceNames().join(", ")})`,
      );
    }
  }
  return DATA_SOURCES.filter((s) => names.includes(s.name) || names.includes(s.group ?? ""));
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
 * The `--url` keys for a help text: a source of many files (the ADBench tables) as one pattern,
 * `adbench-<file> (17 files)`, every other key as it is.
 */
export function urlKeySummary(): string[] {
  return DATA_SOURCES.flatMap((s) =>
    s.files.length > 3 ? [`${s.name}-<file> (${s.files.length} files)`] : s.files.map((f) => f.key)
  );
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
    const dirs = listDirsSync(root).filter((d) => isDirectory(join(root, d, "train")));
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

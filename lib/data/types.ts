/**
 * The data contracts shared by loaders, the model, training and evaluation.
 *
 * @module
 */

/** A numeric table: `n` rows of `d` features, row-major, with optional 0/1 labels. */
export interface Table {
  /** Display name, e.g. `thyroid`. */
  name: string;
  /** Where it came from (file path), for error messages and checkpoints. */
  source: string;
  /** Feature column names, length `d`. */
  columns: string[];
  /**
   * True when `columns` were read from a CSV's header line (names given by a person, even ones
   * that look generated, such as `f1..fd`); absent when they were generated (`.mat`, `.npz`,
   * a headerless CSV's `1..d`).
   */
  header?: boolean;
  n: number;
  d: number;
  /** Row-major features, length `n * d`. */
  values: Float64Array;
  /** 1 = anomaly, 0 = normal; null when the file has no label column. */
  labels: Uint8Array | null;
}

/** How a dataset was split; recorded in checkpoints so evaluation can rebuild the test part. */
export interface SplitSpec {
  /**
   * `half-normals`: train on a random half of the normals, test on the rest plus all anomalies.
   * `given`: the source already separates train (normals) and test (e.g. image folders,
   * the course CSVs).
   */
  protocol: "half-normals" | "given";
  seed: number;
  /** Share of the training normals held out for validation. */
  valShare: number;
}

/** Row indices of each part of a split. */
export interface SplitIndices {
  train: number[];
  val: number[];
  test: number[];
}

/** Per-feature normalisation fitted on training normals only. */
export interface Normalisation {
  kind: "standard";
  /** Mean and standard deviation of each feature, on its log scale where it has one. */
  mean: number[];
  std: number[];
  /** Per feature, the log scale applied before standardising, or null; absent: none. */
  log?: (LogScale | null)[];
  /**
   * Features constant over the training rows, and the bound on their standardised values (see
   * `fitNormalisation`); absent (checkpoints before `v33`): bounded only by `STANDARD_BOUND`.
   */
  constant?: { features: number[]; bound: number };
}

/** A feature's log scale: log((x - min) / range + offset), see `logScaled`. */
export interface LogScale {
  min: number;
  range: number;
  offset: number;
}

/** One image of an image dataset. */
export interface ImageSample {
  /** Absolute or as-given path of the PNG. */
  path: string;
  /** Category (folder name), e.g. `hazelnut`. */
  category: string;
  /** 0 normal, 1 anomaly; null when unknown (data to score). */
  label: 0 | 1 | null;
  /** Defect type from the MVTec layout (`good` for normals), when known. */
  defect?: string;
  /** Ground-truth mask path, when the layout has one. */
  maskPath?: string;
}

/** An image category in either supported layout. */
export interface ImageCategory {
  /** Category folder (absolute path). */
  root: string;
  category: string;
  layout: "mvtec" | "course";
  /** Normal training images. */
  train: ImageSample[];
  /** Labelled test images. */
  test: ImageSample[];
}

/** A decoded image: HWC float32 in [0, 1]. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float32Array;
}

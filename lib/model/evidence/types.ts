/**
 * The one interface every piece of anomaly evidence implements ({@linkcode EvidenceComponent}),
 * and the data evidence travels in: per-sample scores, per-token maps and the feature rows that
 * memory banks are fitted on and scored against.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../config.ts";
import type { EncodedImages, Params, TableSpec } from "../madformer.ts";
import type { BankDirections, MemoryBank } from "../knn.ts";
import type { FeatureBuffers } from "./buffers.ts";

/**
 * Names of the evidence components: `recon`, `patch`, `cls`, `knn`, `dens` and `iso` (tables),
 * `knn<L>` for image feature level L (stem stages, then encoder tokens), `pix` and `pix<S>` (raw
 * pixel patches), `con<S>` (contrast-normalised) and `std<S>` (of images standardised per
 * channel) pixel patches of side S, and whatever components the registry adds.
 */
export type Component = string;

/** The two kinds of data the model reads. */
export type Modality = "image" | "table";

/** A per-token map for n images on a grid x grid lattice. */
export interface TokenMap {
  grid: number;
  /** n * grid * grid values. */
  values: Float32Array;
}

/** Feature rows for a kNN component: n * rowsPerSample rows of width dim. */
export interface FeatureSet {
  dim: number;
  /** Lattice side for images (rows per sample = grid * grid); 1 for tables. */
  grid: number;
  /** The rows, row-major [n * grid * grid, dim]. */
  data: Float32Array;
  /**
   * Scored with distances taken in float64 (`knnDistancesExact`): narrow rows whose nearest
   * neighbours float32 products would lose among near duplicates (a table row's feature positions).
   */
  exact?: boolean;
}

/** Raw evidence for n samples. */
export interface Evidence {
  n: number;
  /** Per-sample scores by component. */
  sample: Record<Component, Float32Array>;
  /** Per-token maps by component (images only). */
  tokens: Record<Component, TokenMap>;
  /** kNN features by component. */
  features: Record<Component, FeatureSet>;
}

/** What evidence to compute. */
export interface EvidenceOptions {
  /** Only the features the memory banks are built from. */
  featuresOnly?: boolean;
  /** Components not to compute (dropped by their validation weight). */
  skip?: Set<Component>;
  /**
   * Arrays table features are written to, reused from one batch of a scoring to the next;
   * fresh arrays when absent.
   */
  buffers?: FeatureBuffers;
}

/** The boolean model settings: the switches that turn evidence on and off. */
export type SwitchKey = {
  [K in keyof ModelConfig]: ModelConfig[K] extends boolean ? K : never;
}[keyof ModelConfig];

/**
 * The config switch that turns a component on, with the names of the ablation variants that keep
 * only its evidence and that leave it out. Components turned on by the same switch share one
 * object (the kNN views all follow `knnHead`).
 */
export interface EvidenceSwitch {
  key: SwitchKey;
  /**
   * Ablation variant scoring with this evidence alone (every other switch off but those in
   * `keep`: trained heads whose losses train what this evidence reads, and whose own evidence
   * does not count while untrained evidence is on).
   */
  only: { name: string; description: string; keep?: SwitchKey[] };
  /** Ablation variant without this evidence (this switch off), when one is natural. */
  without?: { name: string; description: string };
  /**
   * The switch's value for checkpoints saved before it existed, so they keep scoring as they
   * did; absent when it was there from the first checkpoints.
   */
  legacy?: boolean;
}

/** A request for a modality's raw evidence, as a component sees it. */
export interface EvidenceRequest {
  params: Params;
  config: ModelConfig;
  /** Number of samples. */
  n: number;
  /** Tables: the table's name and its n normalised rows of d features (row-major). */
  table?: { name: string; rows: Float32Array; d: number };
  options: EvidenceOptions;
  /**
   * Whether trained heads' evidence is wanted: it counts in the score (see `headsCount`) and
   * not only features are asked for.
   */
  heads: boolean;
  /** A value shared by the components of one request, made by the first that asks. */
  shared<T>(key: string, make: () => T): T;
  /** An array of `length` floats for feature rows (from `options.buffers` when given). */
  floats(length: number): Float32Array;
}

/** One batch of images [B, S, S, 3] and the model's passes over it that components asked for. */
export interface ImageBatch {
  x: tf.Tensor4D;
  /** Rows of the batch. */
  B: number;
  /** Index of the batch's first image among the request's n. */
  start: number;
  /** The plain (unmasked) encoder pass; null when no component asked for it. */
  plain: EncodedImages | null;
  /** Stem stages: those of `plain`, else as many as components asked for. */
  stages: tf.Tensor4D[];
  /** A tensor shared by the components within this batch (inside the batch's tidy scope). */
  shared<T>(key: string, make: () => T): T;
}

/**
 * The unmasked encoder pass over a batch of table rows, run once per batch for every component
 * that reads it (one pass per row, however many components read it).
 */
export interface TablePass {
  /**
   * [B, d, D] each feature token's residual stream after the blocks `tableEncoderBlocks` says
   * (what `enc` reads).
   */
  residual: () => tf.Tensor3D;
  /** [B] the sigmoid head's logits; only in the full pass (see `EvidenceWriter.encoder`). */
  clsLogits: tf.Tensor1D | null;
}

/** One batch of normalised table rows [B, d]. */
export interface TableBatch {
  table: string;
  x: tf.Tensor2D;
  B: number;
  d: number;
  start: number;
  /** The unmasked encoder pass; null when no component asked for it. */
  plain: TablePass | null;
}

/** How a component computes its raw evidence over the batches of one request. */
export interface EvidenceWriter<Batch> {
  /**
   * Images: how far the plain encoder pass must run, `"tap"` to the kNN token layer, `"full"`
   * through every layer (the sigmoid head reads the output). Tables: `"tap"` the feature
   * tokens' residual stream alone, `"full"` the whole pass with its heads (the sigmoid head
   * reads the class token's logit). Absent: no plain encoder pass.
   */
  encoder?: "tap" | "full";
  /**
   * Images, with `encoder: "tap"`: the encoder blocks whose residual stream the component reads;
   * the plain pass runs at least that far (and no further than any component needs).
   */
  encoderBlocks?: number;
  /** Images: how many stem stages the component reads. */
  stemStages?: number;
  /**
   * Tables: encoder passes of its own the component keeps alive per batch, the shared plain one
   * (`encoder`) aside (their activations bound how many rows a batch may hold, see
   * `tableBatchRows`).
   */
  passes?: number;
  /** Works on one batch (inside a tidy scope); writes into its own buffers or `evidence`. */
  batch?(batch: Batch, evidence: Evidence): void;
  /** Puts the finished evidence into `evidence` after the last batch. */
  finish?(evidence: Evidence): void;
}

/** The settings a bank is fitted with. */
export interface BankSettings {
  /** Largest coreset. */
  limit: number;
  seed: number;
  /** Principal directions image features are compared in (0: whole). */
  projection: number;
  /** Share of their width raw-pixel views are compared in. */
  pixelProjectionShare: number;
  /**
   * Weight of an image cell's place in its comparisons (`cellPositionWeight`, for categories
   * turned to one pose); 0 compares cells wherever they lie.
   */
  cellPositions: number;
  /**
   * Principal directions to compare in instead of fitting them anew: a table calibration's fold
   * reuses those of the bank fitted on all the rows (`calibrateTableKey`).
   */
  directions?: BankDirections;
}

/**
 * One piece of anomaly evidence. Everything about it that scoring, calibration, checkpoints,
 * `eval`'s evidence report, config validation and the ablation grid need is here, and they read
 * it through the registry (`registry.ts`): adding a component is one file and one registry line.
 *
 * A component is enabled for a modality when it serves that modality, its switch is on and, for
 * trained heads, when the heads' evidence counts (see `enabled` in `registry.ts`).
 */
export interface EvidenceComponent {
  /** The family's name, for messages (e.g. "stem kNN"). */
  family: string;
  /** The modalities it gives evidence for. */
  modalities: readonly Modality[];
  /** The config switch that turns it on. */
  switch: EvidenceSwitch;
  /**
   * A trained head (reconstruction, sigmoid): its evidence counts only when asked for
   * (`imageHeadEvidence` / `tableHeadEvidence`) or when nothing untrained is on.
   */
  trained: boolean;
  /** Its component names for a config and modality (the switch aside), in scoring order. */
  names(config: ModelConfig, modality: Modality): Component[];
  /** Whether a component name (e.g. of a stored bank) is one of this family's. */
  owns(name: Component): boolean;
  /**
   * What one of its component names stands for, in a few words (`eval`'s report explains each
   * component of a score with it). Absent: "a component of the score".
   */
  meaning?(name: Component): string;
  /**
   * How it is fitted on normals: a coreset memory bank of their features, a random sample of
   * their rows (components reading the same rows share one), or nothing (a trained head).
   */
  fit: "coreset" | "sample" | "none";
  /** Its bank depends on the data alone (raw pixels), so a run builds it once. */
  dataOnly: boolean;
  /**
   * It reads a table's features one at a time (each feature's density, the forest's cuts along
   * one feature), so it can tell that a row is unusual but not that it is usual: a row whose
   * every value is typical may still break the features' joint structure. With `tableOneSided`
   * it counts in a table's score only above its normals' median (docs/transformer-evidence.md,
   * "Nineteenth pass"). Absent: it counts on both sides.
   */
  oneSided?: boolean;
  /** Fits the memory bank of one of its components on normals' features. */
  fitBank?(features: FeatureSet, settings: BankSettings): MemoryBank;
  /**
   * Makes a bank fitted on part of the normals (a table's calibration fold) read as the bank
   * `whole`, fitted on all of them, would where the part alone cannot stand for them (the
   * densities keep the whole bank's bandwidths). Absent: the part's bank is used as it is.
   */
  foldBank?(part: MemoryBank, whole: MemoryBank): void;
  /**
   * Scores features against the fitted bank: one value per row (per sample for tables, per cell
   * for images). `leaveOut[i]` scores sample i without the bank rows taken from that sample.
   */
  score?(
    bank: MemoryBank,
    features: FeatureSet,
    config: ModelConfig,
    leaveOut?: Int32Array,
  ): Float32Array;
  /**
   * What a checkpoint keeps of it beyond the model's weights: its bank per dataset, as tensor
   * `bank.<dataset>|<name>` (plus `bankproj.…` when projected) of `bankDim` features, or nothing.
   */
  stored: "bank" | "nothing";
  /** Width of the features of a stored bank; `features` is a table's feature count. */
  bankDim?(config: ModelConfig, name: Component, features: number): number;
  /**
   * A table's stored bank (`shape` [width, rows], transposed) in a form an earlier version saved,
   * read as this version's rows of `bankDim` features (transposed [bankDim, rows]); null when it is
   * not in such a form. `params` are the checkpoint's weights. Absent: no earlier form.
   */
  readOldBank?(
    stored: { shape: number[]; data: Float32Array },
    params: Params,
    config: ModelConfig,
    table: TableSpec,
  ): Float32Array | null;
  /** Images: how it computes its raw evidence (null: nothing to compute for this request). */
  images?(request: EvidenceRequest): EvidenceWriter<ImageBatch> | null;
  /** Tables: the same over batches of rows. */
  tables?(request: EvidenceRequest): EvidenceWriter<TableBatch> | null;
}

/**
 * Ablation study: the variant grid as plain data (config switches and which modalities are
 * trained on), and a runner that trains every (variant, seed), evaluates its best checkpoint on
 * the test parts and summarises test AUROC as mean ± std over seeds: of the combined score and of
 * each evidence component alone (such as the encoder evidence `enc`). {@linkcode compareToReference}
 * sets each variant against `full` and says which differences exceed the seed spread.
 *
 * Files written to `out/`: `<variant>_seed<k>.json` per run and `summary.json`. A run whose file
 * already exists with the same config is reused, so an interrupted grid continues where it
 * stopped; one that holds a run on other data is refused.
 *
 * @module
 */
import { join } from "node:path";
import { absoluteData } from "./data_set.ts";
import type { Config, ConfigOverrides, ModalityExperts, ModelConfig } from "../model/config.ts";
import { mergeConfig } from "../model/config.ts";
import { CLASSIC_FOREST } from "../model/isolation.ts";
import {
  ENCODER_EVIDENCE,
  EVIDENCE_COMPONENTS,
  type EvidenceComponent,
  type EvidenceSwitch,
  evidenceSwitches,
} from "../model/evidence/mod.ts";
import { evaluateCheckpoint } from "./evaluate_checkpoint.ts";
import { trainThenRead } from "./train_evaluate.ts";
import { type EvaluationEntry, evaluationJson } from "./results.ts";
import type { ExperimentData } from "./setup.ts";
import { ImageCache } from "../data/image_cache.ts";
import { writeFileAtomic } from "../util/files.ts";
import { MadError } from "../errors.ts";
import { lockRunFolder } from "../util/run_lock.ts";

/** Which data a variant trains and is evaluated on. */
export type DataSelection = "joint" | "images" | "table";

/** One row of the grid. */
export interface AblationVariant {
  name: string;
  description: string;
  overrides: ConfigOverrides;
  data: DataSelection;
}

/** A variant whose shared encoder keeps `experts` one per modality (see `modalityExperts`). */
function blockSharingVariant(
  name: string,
  description: string,
  experts: ModalityExperts,
): AblationVariant {
  return { name, description, overrides: { model: { modalityExperts: experts } }, data: "joint" };
}

/**
 * Variants derived from the evidence registry, per config switch in registry order: `only`
 * (`<evidence>_only`: that switch on and every other evidence switch off, so the score holds
 * exactly the evidence named) or `without` (`no_<evidence>`: that switch off). A variant whose
 * evidence serves one modality trains on that modality alone.
 */
export function evidenceVariants(
  kind: "only" | "without",
  registry: readonly EvidenceComponent[] = EVIDENCE_COMPONENTS,
): AblationVariant[] {
  const switches = evidenceSwitches(registry);
  const dataOf = (s: EvidenceSwitch): DataSelection => {
    const served = new Set(
      registry.filter((c) => c.switch.key === s.key).flatMap((c) => c.modalities),
    );
    return served.size === 2 ? "joint" : served.has("image") ? "images" : "table";
  };
  return switches.flatMap((s) => {
    if (kind === "only") {
      const keep = new Set([s.key, ...(s.only.keep ?? [])]);
      const model = Object.fromEntries([
        ...switches.map((o) => [o.key, keep.has(o.key)]),
        // Kept keys that are not switches of their own (e.g. the encoder evidence for tables).
        ...[...keep].map((k) => [k, true]),
      ]);
      return [{
        name: s.only.name,
        description: s.only.description,
        overrides: { model: model as Partial<ModelConfig> },
        data: dataOf(s),
      }];
    }
    if (!s.without) return [];
    const model = { [s.key]: false } as Partial<ModelConfig>;
    return [{ ...s.without, overrides: { model }, data: "joint" as const }];
  });
}

/**
 * The grid: the full model, each switch turned off on its own, each kind of evidence alone and
 * each left out (both from the evidence registry), and single-modality training.
 */
export const ABLATION_VARIANTS: readonly AblationVariant[] = [
  { name: "full", description: "full model, joint training", overrides: {}, data: "joint" },
  {
    name: "no_modality_embedding",
    description: "without the modality-type embedding",
    overrides: { model: { modalityEmbedding: false } },
    data: "joint",
  },
  {
    name: "no_position_embedding",
    description: "without position / feature-identity embeddings",
    overrides: { model: { positionEmbedding: false } },
    data: "joint",
  },
  {
    name: "separate_encoders",
    description: "one encoder per modality instead of a shared one",
    overrides: { model: { sharedEncoder: false } },
    data: "joint",
  },
  blockSharingVariant(
    "shared_blocks",
    "every encoder block shared whole, attention too (the design up to v21)",
    "none",
  ),
  blockSharingVariant(
    "modality_mlps",
    "attention shared, one MLP per modality in every block",
    "mlp",
  ),
  ...evidenceVariants("only"),
  ...evidenceVariants("without"),
  {
    name: "heads_in_image_score",
    description: "the heads' evidence counts in image scores, weighted by validation",
    overrides: { model: { imageHeadEvidence: true, imageWeights: "validation" } },
    data: "joint",
  },
  {
    name: "heads_in_table_score",
    description: "the heads' evidence counts in table scores, weighted by validation",
    overrides: { model: { tableHeadEvidence: true, tableWeights: "validation" } },
    data: "joint",
  },
  {
    name: "table_validation_weights",
    description: "table evidence weighted by its validation AUROC against synthetic anomalies",
    overrides: { model: { tableWeights: "validation" } },
    data: "joint",
  },
  {
    name: "table_equal_weights",
    description: "every table evidence component weighted equally, none dropped by validation",
    overrides: { model: { tableWeights: "equal" } },
    data: "joint",
  },
  {
    name: "classic_forest",
    description: "an isolation forest of 200 trees on 256 rows each (not 1000 on 64)",
    overrides: {
      model: { isolationTrees: CLASSIC_FOREST.trees, isolationSample: CLASSIC_FOREST.sample },
    },
    data: "joint",
  },
  {
    name: "no_log_scale",
    description: "table features standardised as they are, skewed ones not put on a log scale",
    overrides: { model: { tableLogSkewed: false } },
    data: "joint",
  },
  { name: "images_only", description: "trained on images alone", overrides: {}, data: "images" },
  { name: "table_only", description: "trained on the table alone", overrides: {}, data: "table" },
];

/**
 * The variants named in `names` (all when empty), in grid order. Unknown names are a one-line
 * MadError listing the known ones.
 */
export function selectVariants(
  names: readonly string[] = [],
  grid: readonly AblationVariant[] = ABLATION_VARIANTS,
): AblationVariant[] {
  const unknown = names.filter((n) => !grid.some((v) => v.name === n));
  if (unknown.length > 0) {
    throw new MadError(
      `unknown ablation variant '${unknown[0]}' (known: ${grid.map((v) => v.name).join(", ")})`,
      2,
    );
  }
  return names.length === 0 ? [...grid] : grid.filter((v) => names.includes(v.name));
}

/**
 * The variants that tell what the Transformer's parts do to its own evidence: the full model; the
 * modality-type embedding and the position embeddings each switched off; the encoder not shared
 * at all, its blocks shared whole, or shared but for one MLP per modality; and the encoder
 * evidence alone or left out; in grid order. Notebook 03 runs these by default.
 */
export const ENCODER_STUDY: readonly string[] = [
  "full",
  "no_modality_embedding",
  "no_position_embedding",
  "separate_encoders",
  "shared_blocks",
  "modality_mlps",
  "encoder_only",
  "no_encoder_evidence",
];

/**
 * What one (variant, seed) run produced; the content of `<variant>_seed<k>.json`. Each dataset
 * entry carries the evaluation's `components` (every evidence component's weight and test AUROC
 * alone); run files written before that have none, which {@linkcode readAblationRun} accepts.
 */
export interface AblationRun {
  variant: string;
  description: string;
  data: DataSelection;
  /** Seed index k (the training seed is the base seed plus k). */
  seed: number;
  config: Config;
  /**
   * The image folders and tables the run trained on, as absolute paths. Run files written before
   * `--images` and `--table` existed have none: they trained on `deno task data`'s datasets.
   */
  sources?: string[];
  train: { bestEpoch: number; bestValAuroc: number; epochs: number; seconds: number };
  evalSeconds: number;
  datasets: EvaluationEntry[];
}

/** Mean and sample standard deviation of a metric over seeds. */
export interface MeanStd {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

/** One variant's line in `summary.json`. */
export interface VariantSummary {
  variant: string;
  description: string;
  data: DataSelection;
  /**
   * Test AUROC of the combined score per dataset name, plus `images (mean)` when there are
   * several categories.
   */
  auroc: Record<string, MeanStd>;
  /**
   * Test AUROC of each evidence component alone, by component name (`enc`, `knn`, ...) and then
   * dataset as in `auroc`. A dataset is absent where no run of the variant scored with that
   * component (`enc` in `no_encoder_evidence`, or run files older than the components).
   */
  components: Record<string, Record<string, MeanStd>>;
  /**
   * Of the runs counted in `components`, how many measured a component on a dataset that the
   * fitted weights left out of that run's score (`dropped_by_validation`: weight 0 from
   * validation), by component and dataset; `images (mean)` counts the runs that left it out on
   * any image category. Absent where no run did.
   */
  dropped?: Record<string, Record<string, number>>;
}

/** The content of `summary.json`. */
export interface AblationSummary {
  seeds: number[];
  datasets: string[];
  /** Modality of each dataset (`images (mean)` is an image one). */
  modalities: Record<string, "image" | "table">;
  variants: VariantSummary[];
}

/** Options of {@linkcode runAblation}. */
export interface AblationOptions {
  variants: readonly AblationVariant[];
  /** Number of seeds (0..n-1) or the seed indices. */
  seeds: number | number[];
  base: Config;
  data: ExperimentData;
  out: string;
  quiet?: boolean;
  /** Called after every run, reused ones too (`reused`: read from OUT, not trained). */
  onResult?: (run: AblationRun, done: number, total: number, reused: boolean) => void;
  /** Keep each run's checkpoints under `out/runs/` (default: only its logs are kept). */
  keepCheckpoints?: boolean;
  /** Decoded-image cache folder shared by all runs. */
  cacheDir?: string;
}

/** Name of a run's result file. */
export function runFileName(variant: string, seed: number): string {
  return `${variant}_seed${seed}.json`;
}

/** The config a variant trains with for seed index k. */
export function variantConfig(base: Config, variant: AblationVariant, seed: number): Config {
  const config = mergeConfig(base, variant.overrides, `ablation variant ${variant.name}`);
  config.train.seed = base.train.seed + seed;
  return config;
}

/** The data a variant trains on; a one-line MadError when that modality is missing. */
export function variantData(variant: AblationVariant, data: ExperimentData): ExperimentData {
  const selected = {
    imageDirs: variant.data === "table" ? [] : data.imageDirs,
    tablePaths: variant.data === "images" ? [] : data.tablePaths,
  };
  if (selected.imageDirs.length + selected.tablePaths.length === 0) {
    const flag = variant.data === "table" ? "--table FILE" : "--images DIR";
    throw new MadError(
      `ablation variant ${variant.name}: no ${variant.data} data given (give ${flag}, or leave ` +
        "it out of --variants)",
    );
  }
  return selected;
}

/**
 * The variants of `variants` that can run on `data`, and those that cannot (a variant of tables
 * alone without a table given, of images alone without images): for the whole grid on a user's
 * data of one modality, which would otherwise stop at the first such variant.
 */
export function runnableVariants(
  variants: readonly AblationVariant[],
  data: ExperimentData,
): { runnable: AblationVariant[]; leftOut: AblationVariant[] } {
  const can = (v: AblationVariant) =>
    v.data === "images"
      ? data.imageDirs.length > 0
      : v.data === "table"
      ? data.tablePaths.length > 0
      : data.imageDirs.length + data.tablePaths.length > 0;
  return { runnable: variants.filter(can), leftOut: variants.filter((v) => !can(v)) };
}

/** Trains and evaluates every (variant, seed) and writes the run files and the summary. */
export async function runAblation(options: AblationOptions): Promise<AblationSummary> {
  const seeds = typeof options.seeds === "number"
    ? Array.from({ length: options.seeds }, (_, k) => k)
    : options.seeds;
  if (seeds.length === 0) throw new MadError("ablation: at least one seed is needed", 2);
  if (options.variants.length === 0) throw new MadError("ablation: no variants selected", 2);
  // Fail before hours of training when a variant cannot run on the data given.
  for (const v of options.variants) variantData(v, options.data);
  await Deno.mkdir(options.out, { recursive: true });
  const unlock = await lockRunFolder(options.out, "ablation");
  try {
    const cache = new ImageCache(options.cacheDir);
    const runs: AblationRun[] = [];
    const total = options.variants.length * seeds.length;
    for (const variant of options.variants) {
      for (const seed of seeds) {
        const { run, reused } = await reuseOrRun(variant, seed, options, cache);
        runs.push(run);
        options.onResult?.(run, runs.length, total, reused);
      }
    }
    const summary = summarizeAblation(runs, seeds);
    await writeFileAtomic(
      join(options.out, "summary.json"),
      JSON.stringify(summary, null, 2) + "\n",
    );
    return summary;
  } finally {
    await unlock();
  }
}

async function reuseOrRun(
  variant: AblationVariant,
  seed: number,
  options: AblationOptions,
  cache: ImageCache,
): Promise<{ run: AblationRun; reused: boolean }> {
  const config = variantConfig(options.base, variant, seed);
  const file = join(options.out, runFileName(variant.name, seed));
  const data = variantData(variant, options.data);
  // Absolute, so the notebooks (run from notebooks/) and `deno task ablate` name the same data alike.
  const absolute = absoluteData(data);
  const sources = [...absolute.imageDirs, ...absolute.tablePaths];
  const previous = await readAblationRun(file);
  // A run on other data is neither reported as this data's nor overwritten: the folder belongs
  // to that data set's grid.
  if (previous?.sources && JSON.stringify(previous.sources) !== JSON.stringify(sources)) {
    throw new MadError(
      `${file}: holds a run on ${previous.sources.join(", ")}, not on ${sources.join(", ")}; ` +
        "give another output folder or remove it",
    );
  }
  if (previous && JSON.stringify(previous.config) === JSON.stringify(config)) {
    return { run: previous, reused: true };
  }

  const runDir = join(options.out, "runs", `${variant.name}_seed${seed}`);
  let evalSeconds = 0;
  const { trained, trainSeconds, read: datasets } = await trainThenRead(
    { config, ...data, out: runDir, quiet: options.quiet ?? false },
    async (ckpt) => {
      const evalStart = performance.now();
      const entries = evaluationJson(await evaluateCheckpoint(ckpt, { cache })).datasets;
      evalSeconds = (performance.now() - evalStart) / 1000;
      return entries;
    },
    options.keepCheckpoints,
  );
  const run: AblationRun = {
    variant: variant.name,
    description: variant.description,
    data: variant.data,
    seed,
    config,
    sources,
    train: {
      bestEpoch: trained.bestEpoch,
      bestValAuroc: trained.bestMetric,
      epochs: trained.epochs,
      seconds: trainSeconds,
    },
    evalSeconds,
    datasets,
  };
  await writeFileAtomic(file, JSON.stringify(run, null, 2) + "\n");
  return { run, reused: false };
}

/**
 * A run file, or null when it is missing or not a run. Files written before the evaluation kept
 * its components get an empty `components` per dataset: their combined AUROC is summarised, their
 * component AUROCs are absent.
 */
export async function readAblationRun(path: string): Promise<AblationRun | null> {
  try {
    const run = JSON.parse(await Deno.readTextFile(path)) as AblationRun;
    if (!Array.isArray(run.datasets) || typeof run.config !== "object") return null;
    for (const d of run.datasets) d.components ??= {};
    return run;
  } catch {
    // Missing or unreadable: run again.
    return null;
  }
}

/** Mean and sample standard deviation (0 for a single value); NaN values are left out. */
export function meanStd(values: number[]): MeanStd {
  const ok = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  const n = ok.length;
  const mean = n ? ok.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(ok.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std: n ? std : NaN, n, values: ok };
}

/** Label of the per-run mean AUROC over the image categories. */
export const IMAGES_MEAN = "images (mean)";

/**
 * Mean ± std test AUROC per variant and dataset over the runs' seeds, of the combined score and of
 * each evidence component alone. `images (mean)` is each run's mean over its image categories
 * (for a component, over the runs that scored every image category with it).
 */
export function summarizeAblation(runs: AblationRun[], seeds: number[]): AblationSummary {
  const datasets = [...new Set(runs.flatMap((r) => r.datasets.map((d) => d.name)))];
  const modalities: Record<string, "image" | "table"> = {};
  for (const d of runs.flatMap((r) => r.datasets)) modalities[d.name] ??= d.modality;
  const multiImage = datasets.filter((d) => modalities[d] === "image").length > 1;
  if (multiImage) modalities[IMAGES_MEAN] = "image";
  const order = [...new Set(runs.map((r) => r.variant))];
  // One AUROC per run and dataset (NaN where the run lacks it), then mean ± std per dataset.
  // Null (not measurable: a test part of one class) counts as missing.
  const summarise = (
    mine: AblationRun[],
    pick: (d: EvaluationEntry) => number | null | undefined,
  ) => {
    const out: Record<string, MeanStd> = {};
    for (const dataset of datasets) {
      const values = mine.flatMap((r) => r.datasets.filter((d) => d.name === dataset))
        .map(pick).filter((v): v is number => typeof v === "number");
      if (values.length > 0) out[dataset] = meanStd(values);
    }
    if (multiImage) {
      const perRun = imageRuns(mine, pick)
        .map((ds) => ds.map(pick) as number[])
        .map((vs) => vs.reduce((a, v) => a + v, 0) / vs.length);
      if (perRun.length > 0) out[IMAGES_MEAN] = meanStd(perRun);
    }
    return out;
  };
  // Each run's image categories, of the runs that measured `pick` on every one of them.
  const imageRuns = (
    mine: AblationRun[],
    pick: (d: EvaluationEntry) => number | null | undefined,
  ) =>
    mine.map((r) => r.datasets.filter((d) => d.modality === "image"))
      .filter((ds) => ds.length > 0 && ds.every((d) => typeof pick(d) === "number"));
  // How many of the runs `summarise` counts for component `c` left it out of their score.
  const droppedCounts = (mine: AblationRun[], c: string) => {
    const measured = (d: EvaluationEntry) => d.components?.[c]?.auroc;
    const isDropped = (d: EvaluationEntry) => d.components?.[c]?.dropped_by_validation === true;
    const out: Record<string, number> = {};
    for (const dataset of datasets) {
      const count = mine.flatMap((r) => r.datasets.filter((d) => d.name === dataset))
        .filter((d) => typeof measured(d) === "number" && isDropped(d)).length;
      if (count > 0) out[dataset] = count;
    }
    if (multiImage) {
      const count = imageRuns(mine, measured).filter((ds) => ds.some(isDropped)).length;
      if (count > 0) out[IMAGES_MEAN] = count;
    }
    return out;
  };
  const variants = order.map((name): VariantSummary => {
    const mine = runs.filter((r) => r.variant === name);
    const names = [
      ...new Set(mine.flatMap((r) => r.datasets.flatMap((d) => Object.keys(d.components ?? {})))),
    ];
    const components = Object.fromEntries(
      names.map((c) => [c, summarise(mine, (d) => d.components?.[c]?.auroc)]),
    );
    const dropped = Object.fromEntries(
      names.map((c) => [c, droppedCounts(mine, c)]).filter(([, counts]) =>
        Object.keys(counts).length > 0
      ),
    );
    return {
      variant: name,
      description: mine[0].description,
      data: mine[0].data,
      auroc: summarise(mine, (d) => d.auroc),
      components,
      ...(Object.keys(dropped).length > 0 ? { dropped } : {}),
    };
  });
  return {
    seeds,
    datasets: multiImage ? [...datasets, IMAGES_MEAN] : datasets,
    modalities,
    variants,
  };
}

/**
 * How a variant's mean AUROC differs from the reference's, and whether that difference exceeds the
 * seed spread. The rule: **|difference of means| > the larger of the two standard deviations**
 * (sample std over seeds). It needs at least two seeds on both sides; otherwise `exceeds` is null.
 * A plain, conservative reading of "more than the seeds' own scatter", not a significance test.
 */
export function exceedsSpread(
  reference: MeanStd,
  value: MeanStd,
): { difference: number; spread: number; exceeds: boolean | null } {
  const difference = value.mean - reference.mean;
  const spread = Math.max(reference.std, value.std);
  const known = reference.n >= 2 && value.n >= 2 && Number.isFinite(difference) &&
    Number.isFinite(spread);
  return { difference, spread, exceeds: known ? Math.abs(difference) > spread : null };
}

/** Label of the combined score in {@linkcode ScoreDifference}. */
export const COMBINED = "combined";

/** One (variant, dataset, score) set against the reference variant. */
export interface ScoreDifference {
  variant: string;
  dataset: string;
  /** `combined`, or the name of the evidence component alone (such as `enc`). */
  score: string;
  reference: MeanStd;
  value: MeanStd;
  /** `value.mean - reference.mean`. */
  difference: number;
  /** The larger of the two standard deviations. */
  spread: number;
  /** `|difference| > spread`; null with fewer than two seeds on either side. */
  exceeds: boolean | null;
}

/**
 * Every variant but the reference set against it (see {@linkcode exceedsSpread} for the rule),
 * per dataset and score: the combined score and each of `components` alone. Pairs where either
 * side lacks the score (no `enc` in `no_encoder_evidence`) are left out. Empty when the summary
 * has no reference variant.
 */
export function compareToReference(
  summary: AblationSummary,
  options: { reference?: string; components?: readonly string[] } = {},
): ScoreDifference[] {
  const referenceName = options.reference ?? "full";
  const components = options.components ?? [ENCODER_EVIDENCE];
  const reference = summary.variants.find((v) => v.variant === referenceName);
  if (!reference) return [];
  const scores = (v: VariantSummary): [string, Record<string, MeanStd> | undefined][] => [
    [COMBINED, v.auroc],
    ...components.map((c): [string, Record<string, MeanStd> | undefined] => [
      c,
      v.components?.[c],
    ]),
  ];
  const out: ScoreDifference[] = [];
  for (const v of summary.variants) {
    if (v.variant === referenceName) continue;
    for (const dataset of summary.datasets) {
      const refScores = new Map(scores(reference));
      for (const [score, values] of scores(v)) {
        const a = refScores.get(score)?.[dataset];
        const b = values?.[dataset];
        if (!a || !b || a.n === 0 || b.n === 0) continue;
        out.push({
          variant: v.variant,
          dataset,
          score,
          reference: a,
          value: b,
          ...exceedsSpread(a, b),
        });
      }
    }
  }
  return out;
}

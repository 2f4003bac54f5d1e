/**
 * The benchmark's summary from its run files: per dataset and method, mean ± std over seeds of
 * AUROC, AUPR, F1 at the true count (pixel AUROC / PRO where masks exist), train and scoring
 * time, and for the model its evidence shares; per dataset the winner; and mean rows (over all
 * datasets, the images, the tables) for the methods that cover every dataset of the group.
 *
 * @module
 */
import type { Config } from "../model/config.ts";
import { type MeanStd, meanStd } from "../experiment/ablation.ts";
import type { EvaluationEntry } from "../experiment/results.ts";
import type { SplitSpec } from "../data/types.ts";
import { type BenchmarkDataset, datasetId, type SkippedDataset } from "./discover.ts";
import type { BaselineResult } from "./baselines.ts";

export type { MeanStd };

/** The model trained on one dataset at a time. */
export const PROJECT = "MADformer";
/** One model trained on every dataset at once, evaluated per dataset. */
export const PROJECT_JOINT = "MADformer (joint)";

/** A model run: one training (one dataset, or all of them for the joint model) and its scoring. */
export interface ModelRun {
  kind: "model";
  setting: "per-dataset" | "joint";
  seed: number;
  /** What the run was made of; a run file is reused only when this matches. */
  key: { config: Config; sources: string[]; inputs?: string[] };
  train: { seconds: number; epochs: number; bestEpoch: number; bestValAuroc: number };
  /** Per dataset id: its test metrics and the seconds its scoring took. */
  evaluations: { id: string; scoreSeconds: number; entry: EvaluationEntry }[];
}

/** The baselines of one dataset and seed. */
export interface BaselineRun {
  kind: "baselines";
  seed: number;
  id: string;
  /** What makes a run file reusable: its data, split and (tables) the baselines it ran. */
  key: {
    source: string;
    split: SplitSpec;
    imageSize?: number;
    methods?: string[];
    /** The source's identity when run (see `inputIdentity`): a changed file is run again. */
    input?: string;
  };
  results: BaselineResult[];
}

/** Either kind of run file. */
export type BenchmarkRun = ModelRun | BaselineRun;

/** One method on one dataset, over seeds. */
export interface MethodSummary {
  auroc: MeanStd;
  aupr: MeanStd;
  f1_at_true_count: MeanStd;
  pixel_auroc?: MeanStd;
  pro?: MeanStd;
  /** Seconds to train (joint model: the whole joint training, shared by all datasets). */
  train_seconds: MeanStd;
  /** Seconds to score the dataset's validation / test samples. */
  score_seconds: MeanStd;
  /** The model's evidence components: share of the score and test AUROC alone. */
  components?: Record<string, { weight: MeanStd; auroc: MeanStd }>;
  /**
   * Tables scored with both readings of the encoder's tokens: the Transformer's evidence alone,
   * the two together (their names and test AUROC).
   */
  transformer?: { components: string[]; auroc: MeanStd };
  /** Image categories with several defect types: each type's test AUROC against the good. */
  defects?: Record<string, MeanStd>;
}

/** One dataset's line of the summary. */
export interface DatasetSummary extends BenchmarkDataset {
  id: string;
  methods: Record<string, MethodSummary>;
  /** The method with the highest mean AUROC (tied ones joined by " = "; "" with one method). */
  winner: string;
}

/** A mean row: per seed the mean over the group's datasets, then mean ± std over seeds. */
export interface MeanRow {
  group: "all" | "images" | "tables";
  datasets: number;
  methods: Record<string, { auroc: MeanStd; aupr: MeanStd; f1_at_true_count: MeanStd }>;
  winner: string;
}

/** The content of `benchmark.json`. */
export interface BenchmarkSummary {
  created: string;
  settings: {
    images?: string;
    tables?: string;
    seeds: number;
    joint: JointMode;
    quick: boolean;
    epochs: number;
  };
  /** The base config (seed k trains with `train.seed + k`). */
  config: Config;
  seeds: number[];
  methods: string[];
  datasets: DatasetSummary[];
  means: MeanRow[];
  /** The joint model's training time per seed. */
  joint?: { train_seconds: MeanStd; epochs: number };
  skipped: SkippedDataset[];
}

/** Which models to train: per dataset, one joint model, or both. */
export type JointMode = "both" | "only" | "none";
/** Every {@linkcode JointMode}, for checking and listing the `--joint` flag's values. */
export const JOINT_MODES: readonly JointMode[] = ["both", "only", "none"];

const METRICS = ["auroc", "aupr", "f1_at_true_count"] as const;
/** The metrics every method reports. */
export type Metric = typeof METRICS[number];

/** One result per (method, dataset id, seed) gathered from the runs. */
interface Sample {
  method: string;
  id: string;
  seed: number;
  entry: EvaluationEntry;
  trainSeconds: number;
  scoreSeconds: number;
}

function samplesOf(runs: BenchmarkRun[]): Sample[] {
  return runs.flatMap((run): Sample[] =>
    run.kind === "model"
      ? run.evaluations.map((e) => ({
        method: run.setting === "joint" ? PROJECT_JOINT : PROJECT,
        id: e.id,
        seed: run.seed,
        entry: e.entry,
        trainSeconds: run.train.seconds,
        scoreSeconds: e.scoreSeconds,
      }))
      : run.results.map((r) => ({
        method: r.method,
        id: run.id,
        seed: run.seed,
        entry: r.entry,
        trainSeconds: r.fitSeconds,
        scoreSeconds: r.scoreSeconds,
      }))
  );
}

function methodSummary(samples: Sample[]): MethodSummary {
  // Null: not measurable on that test part (a single class); left out like a missing value.
  const of = (f: (s: Sample) => number | null | undefined) =>
    meanStd(samples.map(f).filter((v): v is number => typeof v === "number"));
  const out: MethodSummary = {
    auroc: of((s) => s.entry.auroc),
    aupr: of((s) => s.entry.aupr),
    f1_at_true_count: of((s) => s.entry.f1_at_true_count),
    train_seconds: of((s) => s.trainSeconds),
    score_seconds: of((s) => s.scoreSeconds),
  };
  if (samples.some((s) => s.entry.pixel_auroc !== undefined)) {
    out.pixel_auroc = of((s) => s.entry.pixel_auroc);
    out.pro = of((s) => s.entry.pro);
  }
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.entry.components ?? {})))];
  if (names.length > 0) {
    out.components = Object.fromEntries(names.map((name) => [name, {
      weight: of((s) => s.entry.components?.[name]?.weight),
      auroc: of((s) => s.entry.components?.[name]?.auroc),
    }]));
  }
  const together = samples.find((s) => s.entry.transformer)?.entry.transformer;
  if (together) {
    out.transformer = {
      components: together.components,
      auroc: of((s) => s.entry.transformer?.auroc),
    };
  }
  const defects = [...new Set(samples.flatMap((s) => Object.keys(s.entry.defects ?? {})))];
  if (defects.length > 0) {
    out.defects = Object.fromEntries(
      defects.sort().map((name) => [name, of((s) => s.entry.defects?.[name]?.auroc)]),
    );
  }
  return out;
}

/**
 * Every method whose mean of `metric` equals the highest (within 1e-9; several on a tie), in
 * `order`; none when fewer than two methods have a value, where there is no one to beat.
 */
export function winnersOf(
  methods: Record<string, Partial<Record<Metric, MeanStd>>>,
  order: readonly string[],
  metric: Metric = "auroc",
): string[] {
  const measured = order.filter((m) => Number.isFinite(methods[m]?.[metric]?.mean ?? NaN));
  if (measured.length < 2) return [];
  const best = Math.max(...measured.map((m) => methods[m]![metric]!.mean));
  return measured.filter((m) => methods[m]![metric]!.mean >= best - 1e-9);
}

/** Methods in report order: the model(s) first, then the baselines. */
export function methodOrder(names: Iterable<string>): string[] {
  const rank = (m: string) => (m === PROJECT ? 0 : m === PROJECT_JOINT ? 1 : 2);
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The summary of finished runs over `datasets` (see the module doc). */
export function summarizeBenchmark(
  runs: BenchmarkRun[],
  datasets: BenchmarkDataset[],
  info: Pick<BenchmarkSummary, "settings" | "config" | "seeds" | "skipped">,
): BenchmarkSummary {
  const samples = samplesOf(runs);
  const methods = methodOrder(samples.map((s) => s.method));
  const perDataset: DatasetSummary[] = datasets.map((d) => {
    const id = datasetId(d);
    const mine = samples.filter((s) => s.id === id);
    const summaries: Record<string, MethodSummary> = {};
    for (const m of methods) {
      const of = mine.filter((s) => s.method === m);
      if (of.length > 0) summaries[m] = methodSummary(of);
    }
    return { ...d, id, methods: summaries, winner: winnersOf(summaries, methods).join(" = ") };
  });
  const groups: [MeanRow["group"], BenchmarkDataset[]][] = [
    ["all", datasets],
    ["images", datasets.filter((d) => d.modality === "image")],
    ["tables", datasets.filter((d) => d.modality === "table")],
  ];
  const means: MeanRow[] = [];
  for (const [group, members] of groups) {
    if (members.length === 0) continue;
    // "all" repeats a modality's row when there is only one modality.
    if (group !== "all" && members.length === datasets.length) continue;
    const ids = members.map(datasetId);
    const row: MeanRow["methods"] = {};
    for (const m of methods) {
      const mine = samples.filter((s) => s.method === m && ids.includes(s.id));
      if (new Set(mine.map((s) => s.id)).size < ids.length) continue;
      const seeds = [...new Set(mine.map((s) => s.seed))].sort((a, b) => a - b);
      const perSeed = (metric: typeof METRICS[number]) =>
        meanStd(seeds.map((seed) => {
          const values = mine.filter((s) => s.seed === seed).map((s) => s.entry[metric] ?? NaN);
          return values.length === ids.length
            ? values.reduce((a, b) => a + b, 0) / values.length
            : NaN;
        }));
      row[m] = {
        auroc: perSeed("auroc"),
        aupr: perSeed("aupr"),
        f1_at_true_count: perSeed("f1_at_true_count"),
      };
    }
    means.push({
      group,
      datasets: ids.length,
      methods: row,
      winner: winnersOf(row, methods).join(" = "),
    });
  }
  const jointRuns = runs.filter((r): r is ModelRun => r.kind === "model" && r.setting === "joint");
  return {
    created: new Date().toISOString(),
    ...info,
    methods,
    datasets: perDataset,
    means,
    ...(jointRuns.length > 0
      ? {
        joint: {
          train_seconds: meanStd(jointRuns.map((r) => r.train.seconds)),
          epochs: jointRuns[0].train.epochs,
        },
      }
      : {}),
  };
}

/**
 * The benchmark runner: for every seed, the baselines and one model per dataset, then one joint
 * model over all datasets (as `joint` says), each run evaluated on the same test parts. Every run
 * is a JSON file under `out/runs/`, written atomically when it is finished; a run whose file
 * exists with the same key (config, sources and their identity: size and modification time of
 * each file) is reused, so a killed benchmark continues where it stopped, while a source replaced
 * in place is run again. `out/` is locked while the benchmark runs. At the end
 * `out/benchmark.json` (see `summary.ts`) and `out/report.html` are written.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "../model/config.ts";
import { evaluateCheckpoint } from "../experiment/evaluate_checkpoint.ts";
import { trainThenRead } from "../experiment/train_evaluate.ts";
import { evaluationJson } from "../experiment/results.ts";
import { ImageCache } from "../data/image_cache.ts";
import { writeFileAtomic } from "../util/files.ts";
import { MadError } from "../errors.ts";
import { type BenchmarkData, type BenchmarkDataset, datasetId } from "./discover.ts";
import { imageBaseline, TABLE_BASELINES, tableBaselines, tableSplit } from "./baselines.ts";
import {
  type BaselineRun,
  type BenchmarkRun,
  type BenchmarkSummary,
  type JointMode,
  type ModelRun,
  summarizeBenchmark,
} from "./summary.ts";
import { benchmarkHtml, duration } from "./report.ts";
import { readPeerRuns } from "./peers.ts";
import { lockRunFolder } from "../util/run_lock.ts";
import { metricText } from "../metrics/evaluate.ts";
import { counted } from "../util/text.ts";

/** Options of {@linkcode runBenchmark}. */
export interface BenchmarkOptions {
  data: BenchmarkData;
  /** Base config; seed k trains with `train.seed + k` (and splits with it). */
  config: Config;
  seeds: number;
  out: string;
  joint: JointMode;
  /** Recorded in the summary. */
  settings: { images?: string; tables?: string; quick: boolean };
  /** Decoded-image cache folder shared by all runs (memory only when left out). */
  cacheDir?: string;
  /** Keep each run's checkpoints under `out/work/` (default: only its logs). */
  keepCheckpoints?: boolean;
  /** No training progress bars. */
  quiet?: boolean;
  /** Receives one line per run (reused or finished) with elapsed time and ETA. */
  log?: (line: string) => void;
}

/** One unit of work: a run file and how to make it. */
interface Task {
  /** Runs of a kind take alike long: the ETA is estimated per kind and modality. */
  kind: "baselines" | "model" | "joint";
  /** How many image categories and tables it runs on. */
  modalities: Record<BenchmarkDataset["modality"], number>;
  label: string;
  file: string;
  key: unknown;
  run: () => Promise<BenchmarkRun>;
}

/** A file-name-safe form of a dataset id: `image:bottle` becomes `image-bottle`. */
export function fileSafe(id: string): string {
  return id.replace(":", "-").replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** The config of seed index k. */
export function seedConfig(base: Config, seed: number): Config {
  const config = structuredClone(base);
  config.train.seed = base.train.seed + seed;
  return config;
}

/**
 * The dataset as seed index k runs it: a folder of seeds' split folders becomes its k-th split
 * folder; everything else is itself.
 */
export function datasetAtSeed(d: BenchmarkDataset, seed: number): BenchmarkDataset {
  if (!d.splits) return d;
  const { splits, ...rest } = d;
  if (seed >= splits.length) {
    throw new MadError(
      `${d.source}: has split folders for seeds 0 to ${splits.length - 1}, none for seed ` +
        `${seed} (give --seeds ${splits.length} or fewer, or write more splits)`,
      2,
    );
  }
  return { ...rest, source: splits[seed] };
}

/** Runs (or reuses) every run of the benchmark and writes the summary and the report. */
export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkSummary> {
  if (!Number.isInteger(options.seeds) || options.seeds < 1) {
    throw new MadError(`benchmark: --seeds must be a positive integer, got ${options.seeds}`, 2);
  }
  const runsDir = join(options.out, "runs");
  await Deno.mkdir(options.out, { recursive: true });
  // One benchmark per folder: a second one would train the same runs into the same work folders.
  const unlock = await lockRunFolder(options.out, "benchmark");
  try {
    await Deno.mkdir(runsDir, { recursive: true });
    return await benchmarkLocked(options, runsDir);
  } finally {
    await unlock();
  }
}

async function benchmarkLocked(
  options: BenchmarkOptions,
  runsDir: string,
): Promise<BenchmarkSummary> {
  const { datasets } = options.data;
  const cache = new ImageCache(options.cacheDir);
  const seeds = Array.from({ length: options.seeds }, (_, k) => k);
  // Checked before any run starts: every seed must have its split.
  const bySeed = seeds.map((seed) => datasets.map((d) => datasetAtSeed(d, seed)));
  // What each source is now, so that a finished run of a since-replaced file is not reused.
  const inputs = new Map<string, string>();
  for (const d of bySeed.flat()) {
    if (!inputs.has(d.source)) inputs.set(d.source, await inputIdentity(d.source));
  }
  // Read first, so that a broken peers file stops the benchmark before its runs, not after.
  const peerRuns = options.settings.tables
    ? await readPeerRuns(options.settings.tables, datasets, options.seeds)
    : [];
  const tasks: Task[] = [];
  for (const seed of seeds) {
    const config = seedConfig(options.config, seed);
    for (const d of bySeed[seed]) {
      tasks.push(baselineTask(d, seed, config, runsDir, cache, inputs));
      if (options.joint !== "only") {
        tasks.push(modelTask("per-dataset", [d], seed, config, options, cache, inputs));
      }
    }
    if (options.joint !== "none") {
      tasks.push(modelTask("joint", bySeed[seed], seed, config, options, cache, inputs));
    }
  }

  // Which runs are finished already, so that the ETA counts only the ones left to do.
  const finished = await Promise.all(tasks.map((t) => readRun(t.file, t.key)));
  const pending = new Set(tasks.filter((_, i) => finished[i] === null));
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const times = new Map<string, number[]>();
  const runs: BenchmarkRun[] = [];
  for (const [i, task] of tasks.entries()) {
    const head = `[${i + 1}/${tasks.length}] ${task.label}`;
    const previous = finished[i];
    if (previous) {
      runs.push(previous);
      log(`${head}: reused ${task.file}`);
      continue;
    }
    const t0 = performance.now();
    const run = await task.run();
    await writeFileAtomic(task.file, JSON.stringify(run, null, 2) + "\n");
    runs.push(run);
    const seconds = (performance.now() - t0) / 1000;
    times.set(timingKey(task), [...(times.get(timingKey(task)) ?? []), seconds]);
    pending.delete(task);
    const eta = pending.size > 0 ? etaText(estimate(times, pending)) : "";
    log(
      `${head}: ${duration(seconds)}${summaryOf(run)}; elapsed ` +
        `${duration((performance.now() - started) / 1000)}${eta}`,
    );
  }

  const summary = summarizeBenchmark([...runs, ...peerRuns], datasets, {
    settings: {
      ...options.settings,
      seeds: options.seeds,
      joint: options.joint,
      epochs: options.config.train.epochs,
    },
    config: options.config,
    seeds,
    skipped: options.data.skipped,
  });
  await writeFileAtomic(
    join(options.out, "benchmark.json"),
    JSON.stringify(summary, null, 2) + "\n",
  );
  await writeFileAtomic(join(options.out, "report.html"), benchmarkHtml(summary));
  return summary;
}

/**
 * Which runs take alike long: baselines and models apart, and of images apart from tables (an
 * image model trains for minutes where a small table's takes seconds); joint models apart.
 */
function timingKey(task: Task): string {
  if (task.kind === "joint") return "joint";
  return `${task.kind}:${task.modalities.image > 0 ? "image" : "table"}`;
}

/**
 * Seconds the pending tasks will take, from the mean time of the finished ones alike
 * ({@linkcode timingKey}; a joint model as the per-dataset models of its datasets summed), and
 * how many pending runs have nothing alike finished yet, so no time is guessed for them.
 */
function estimate(
  times: Map<string, number[]>,
  pending: Set<Task>,
): { seconds: number; untimed: number } {
  const mean = (key: string) => {
    const xs = times.get(key) ?? [];
    return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  let seconds = 0;
  let untimed = 0;
  for (const task of pending) {
    let own = mean(timingKey(task));
    if (own === null && task.kind === "joint") {
      const image = task.modalities.image > 0 ? mean("model:image") : 0;
      const table = task.modalities.table > 0 ? mean("model:table") : 0;
      if (image !== null && table !== null) {
        own = (image ?? 0) * task.modalities.image + (table ?? 0) * task.modalities.table;
      }
    }
    if (own === null) untimed++;
    else seconds += own;
  }
  return { seconds, untimed };
}

/** `, ETA ~2m 10s`, with the runs it cannot time yet named. */
function etaText({ seconds, untimed }: { seconds: number; untimed: number }): string {
  const runs = `${untimed} run${untimed === 1 ? "" : "s"}`;
  if (untimed === 0) return `, ETA ~${duration(seconds)}`;
  if (seconds === 0) return `, ETA once a run of each kind has finished (${runs} left)`;
  return `, ETA ~${duration(seconds)} plus ${runs} of a kind not timed yet`;
}

/** `, AUROC 0.912` (per dataset) or `, mean AUROC 0.871` (joint), for the progress line. */
function summaryOf(run: BenchmarkRun): string {
  if (run.kind === "baselines") {
    return `, AUROC ${
      run.results.map((r) => `${r.method} ${metricText(r.entry.auroc)}`).join(", ")
    }`;
  }
  // A dataset whose test part has a single class has no AUROC to average.
  const aurocs = run.evaluations.map((e) => e.entry.auroc).filter((a) => a !== null);
  const mean = aurocs.length > 0 ? aurocs.reduce((a, b) => a + b, 0) / aurocs.length : null;
  return `, ${run.evaluations.length > 1 ? "mean " : ""}AUROC ${metricText(mean)}`;
}

function baselineTask(
  d: BenchmarkDataset,
  seed: number,
  config: Config,
  runsDir: string,
  cache: ImageCache,
  inputs: Map<string, string>,
): Task {
  const id = datasetId(d);
  const split = d.modality === "table"
    ? tableSplit(d.source, config.train.seed, config.train.valShare)
    : {
      protocol: "half-normals" as const,
      seed: config.train.seed,
      valShare: config.train.valShare,
    };
  const input = inputs.get(d.source);
  const key: BaselineRun["key"] = d.modality === "image"
    ? { source: d.source, split, imageSize: config.model.imageSize, input }
    : { source: d.source, split, methods: [...TABLE_BASELINES], input }; // older: no OCSVM
  return {
    kind: "baselines",
    modalities: { image: d.modality === "image" ? 1 : 0, table: d.modality === "table" ? 1 : 0 },
    label: `baselines ${d.name} seed ${seed}`,
    file: join(runsDir, `baselines_${fileSafe(id)}_seed${seed}.json`),
    key,
    run: async () => ({
      kind: "baselines",
      seed,
      id,
      key,
      results: d.modality === "table"
        ? tableBaselines(d.source, d.name, split)
        : [await imageBaseline(d.source, d.name, split, config.model.imageSize, cache)],
    }),
  };
}

function modelTask(
  setting: ModelRun["setting"],
  datasets: BenchmarkDataset[],
  seed: number,
  config: Config,
  options: BenchmarkOptions,
  cache: ImageCache,
  inputs: Map<string, string>,
): Task {
  const name = setting === "joint" ? "joint" : `model_${fileSafe(datasetId(datasets[0]))}`;
  const key: ModelRun["key"] = {
    config,
    sources: datasets.map((d) => d.source),
    inputs: datasets.map((d) => inputs.get(d.source) ?? ""),
  };
  const label = setting === "joint"
    ? `joint model (${counted(datasets.length, "dataset")}) seed ${seed}`
    : `model ${datasets[0].name} seed ${seed}`;
  return {
    kind: setting === "joint" ? "joint" : "model",
    modalities: {
      image: datasets.filter((d) => d.modality === "image").length,
      table: datasets.filter((d) => d.modality === "table").length,
    },
    label,
    file: join(options.out, "runs", `${name}_seed${seed}.json`),
    key,
    run: async () => {
      const runDir = join(options.out, "work", `${name}_seed${seed}`);
      const { trained, trainSeconds, read: evaluations } = await trainThenRead(
        {
          config,
          imageDirs: datasets.filter((d) => d.modality === "image").map((d) => d.source),
          tablePaths: datasets.filter((d) => d.modality === "table").map((d) => d.source),
          out: runDir,
          cacheDir: options.cacheDir,
          quiet: options.quiet ?? false,
        },
        async (ckpt) => {
          const evaluations: ModelRun["evaluations"] = [];
          for (const d of datasets) {
            const t0 = performance.now();
            const [entry] = evaluationJson(
              await evaluateCheckpoint(ckpt, {
                cache,
                imageDirs: d.modality === "image" ? [d.source] : [],
                tablePaths: d.modality === "table" ? [d.source] : [],
              }),
            ).datasets.filter((e) => e.name === d.name && e.modality === d.modality);
            if (!entry) throw new MadError(`${d.source}: evaluation did not report '${d.name}'`);
            evaluations.push({
              id: datasetId(d),
              scoreSeconds: (performance.now() - t0) / 1000,
              entry,
            });
          }
          return evaluations;
        },
        options.keepCheckpoints,
      );
      return {
        kind: "model",
        setting,
        seed,
        key,
        train: {
          seconds: trainSeconds,
          epochs: trained.epochs,
          bestEpoch: trained.bestEpoch,
          bestValAuroc: trained.bestMetric,
        },
        evaluations,
      };
    },
  };
}

/**
 * What a source is on disk, cheaply: `size@mtime` of a file; for a folder (image category, split
 * folder) the number of files below it, their total size and the latest modification time. A
 * file replaced in place, or images added or removed, give another identity.
 */
export async function inputIdentity(path: string): Promise<string> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info) return "missing";
  if (!info.isDirectory) return `${info.size}@${info.mtime?.getTime() ?? 0}`;
  let files = 0;
  let bytes = 0;
  let latest = info.mtime?.getTime() ?? 0;
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const sub = join(dir, entry.name);
      const stat = await Deno.stat(sub).catch(() => null);
      if (!stat) continue;
      latest = Math.max(latest, stat.mtime?.getTime() ?? 0);
      if (stat.isDirectory && !entry.isSymlink) await walk(sub);
      else if (stat.isFile) {
        files++;
        bytes += stat.size;
      }
    }
  };
  await walk(path).catch(() => {});
  return `${files} files, ${bytes} bytes, latest ${latest}`;
}

/** A finished run file with the same key, or null (missing, unreadable or made otherwise). */
async function readRun(path: string, key: unknown): Promise<BenchmarkRun | null> {
  try {
    const run = JSON.parse(await Deno.readTextFile(path)) as BenchmarkRun;
    if (JSON.stringify(run.key) !== JSON.stringify(key)) return null;
    const ok = run.kind === "model"
      ? Array.isArray(run.evaluations)
      : run.kind === "baselines" && Array.isArray(run.results);
    return ok ? run : null;
  } catch {
    return null;
  }
}

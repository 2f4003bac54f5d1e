/**
 * `deno task bench` (`--help` lists the flags): the default model's training step time (forward,
 * backward, AdamW) and tokens per second beside PyTorch's for the same shapes
 * (scripts/torch_step.py, when torch is importable), scoring throughput of a checkpoint (256 px
 * image files, table rows), the wall time and peak RSS of the default `deno task train`, and checks
 * against the targets. With `--tables` (or `--tables-only`, which skips the rest), a table-scale
 * section: synthetic tables trained and scored with this project and with scikit-learn's
 * IsolationForest and kNN in the same run. With `--growth` (or `--growth-only`), how time and
 * peak memory grow with table rows, table features and image files (lib/bench/growth.ts).
 * Writes results/bench.json, and for the growth section a Markdown table and an HTML plot next
 * to it.
 *
 * @module
 */
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  checkOutputFile,
  defineCommand,
  helpText,
  numberFlag,
  parseFlags,
  Progress,
  writeFileAtomic,
} from "../lib/util/mod.ts";
import { exitOnStop, runMain } from "../lib/cli.ts";
import { MadError } from "../lib/errors.ts";
import { BACKEND_FLAG, type BackendName, useBackend } from "../lib/backend/mod.ts";
import { rowMinKernelActive } from "../lib/backend/row_min.ts";
import { systemBlasInUse } from "../lib/backend/blas.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import { geometry } from "../lib/model/madformer.ts";
import { defaultDataPaths } from "../lib/data/sources.ts";
import {
  BENCH_TABLE,
  disposeFixture,
  imagePoolStep,
  imageTrainStep,
  stepFixture,
  tablePoolStep,
  tableTrainStep,
  timeSteps,
} from "../lib/bench/step_timing.ts";
import { GradientPool } from "../lib/train/parallel.ts";
import { torchStep } from "../lib/bench/torch.ts";
import { RssTracker, watchChildPeak } from "../lib/bench/memory.ts";
import { quickCheckpoint, scoringThroughput } from "../lib/bench/scoring.ts";
import { type BenchResult, checkTargets, stepRatio, summary } from "../lib/bench/result.ts";
import {
  benchTableFile,
  benchTableScale,
  findSklearnPython,
  type TableScaleRow,
  tableScaleSummary,
} from "../lib/bench/table_scale.ts";
import { readLabelledCsv } from "../lib/data/table.ts";
import {
  benchGrowth,
  DEFAULT_GROWTH,
  growthHtml,
  growthMarkdown,
  type GrowthPlan,
  growthPlan,
  type GrowthRow,
  growthSummary,
} from "../lib/bench/growth.ts";

/** The command's flags, help and examples. */
export const COMMAND = defineCommand({
  name: "deno task bench",
  summary: "the default model's training step time beside PyTorch's (when torch is found), " +
    "scoring throughput of a checkpoint, and the wall time and peak RSS of the default " +
    "deno task train; prints a summary with the targets and writes OUT. Run it on an idle machine.",
  flags: {
    steps: {
      type: "string",
      default: "10",
      value: "N",
      description: "timed training steps (after 2 warm-up steps; the median counts)",
    },
    "skip-train": {
      type: "boolean",
      description: "leave out the default train's wall time (many minutes; reported as null)",
    },
    checkpoint: {
      type: "string",
      value: "CKPT",
      description: "checkpoint to measure scoring with",
      defaultText: "a quick one trained on synthetic data",
    },
    data: {
      type: "string",
      default: "data",
      value: "DIR",
      description: "the datasets the default train runs on",
    },
    images: {
      type: "string",
      // As many as every figure in docs/performance.md: with fewer, each scorer's first call on a
      // category (paid once per run) weighs on the rate (64 files read half of it).
      default: "192",
      value: "N",
      description: "256 px image files to score for the throughput",
    },
    out: {
      type: "string",
      default: join("results", "bench.json"),
      value: "FILE",
      description: "where the JSON results go",
    },
    backend: BACKEND_FLAG,
    tables: {
      type: "boolean",
      description: "also run the table-scale section (synthetic tables, scikit-learn beside)",
    },
    "tables-only": { type: "boolean", description: "run the table-scale section alone" },
    "table-rows": {
      type: "string",
      default: "1000,10000,100000",
      value: "N,N,...",
      description: "rows of the synthetic tables",
    },
    "table-features": {
      type: "string",
      default: "6",
      value: "N,N,...",
      description: "features of the synthetic tables",
    },
    "table-1m": { type: "boolean", description: "add a table of a million rows" },
    table: {
      type: "string",
      value: "FILE.csv",
      description: "a table of your own instead of the synthetic ones",
    },
    "table-epochs": {
      type: "string",
      value: "N",
      description: "training epochs in the table-scale section",
      defaultText: "the config's",
    },
    "table-config": {
      type: "string",
      value: "FILE.json",
      description: "config overrides for the table-scale training",
    },
    growth: {
      type: "boolean",
      description: "also run the growth section: train, eval and score synthetic tables and " +
        "image folders of growing size (about 20 minutes with the defaults on 2 cores, half of it " +
        "the 500-feature table)",
    },
    "growth-only": { type: "boolean", description: "run the growth section alone" },
    "growth-rows": {
      type: "string",
      default: DEFAULT_GROWTH.rows.join(","),
      value: "N,N,...",
      description: "rows of the growth tables of 6 features ('none': no such series)",
    },
    "growth-features": {
      type: "string",
      default: DEFAULT_GROWTH.features.join(","),
      value: "N,N,...",
      description: "features of the growth tables of --growth-feature-rows rows ('none': skip)",
    },
    "growth-feature-rows": {
      type: "string",
      default: String(DEFAULT_GROWTH.featureRows),
      value: "N",
      description: "rows of the tables whose features grow",
    },
    "growth-images": {
      type: "string",
      default: DEFAULT_GROWTH.images.join(","),
      value: "N,N,...",
      description: "files of the synthetic image folders, 80% training normals ('none': skip)",
    },
    "growth-epochs": {
      type: "string",
      default: "1",
      value: "N",
      description: "training epochs of every growth dataset",
    },
  },
  examples: [
    "deno task bench --skip-train",
    "deno task bench --tables-only --table-rows 10000,100000",
    "deno task bench --growth-only",
    "deno task bench --growth-only --growth-rows 1000,10000 --growth-features none " +
    "--growth-images 100",
    "deno task bench --checkpoint results/v16-seed0/best_model_checkpoint.safetensors " +
    "--skip-train --steps 8 --images 192",
  ],
});

const SCRIPTS = dirname(fileURLToPath(import.meta.url));

/**
 * When and where the bench ran, the head of its JSON results: `extra` machine fields go just
 * before `blas`.
 */
function runHead<E extends object>(backend: string, extra: E) {
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: navigator.hardwareConcurrency,
      loadAverage: Deno.loadavg(),
      deno: Deno.version.deno,
      backend,
      ...extra,
      blas: systemBlasInUse(),
    },
  };
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, COMMAND);
  if (flags.help) return console.log(helpText(COMMAND));
  const tables = flags.tables || flags["tables-only"] || Boolean(flags.table);
  const growth = flags.growth || flags["growth-only"] ? growthPlan(flags) : null;
  const steps = numberFlag("steps", flags.steps)!;
  const nImages = numberFlag("images", flags.images)!;
  if (!Number.isInteger(steps) || steps < 1) throw new MadError(`--steps must be >= 1`, 2);
  if (!Number.isInteger(nImages) || nImages < 1) throw new MadError(`--images must be >= 1`, 2);
  // Where the results go is checked before minutes of measuring.
  checkOutputFile(flags.out, "--out");
  const backend = await useBackend(flags.backend as BackendName);
  const config = DEFAULT_CONFIG;
  const m = config.model;
  const g = geometry(m);
  const work = await Deno.makeTempDir({ prefix: "madformer-bench-" });
  // The PyTorch step, the default training and the growth runs are child processes: a stop
  // ends them with this one, and the scratch folder goes too.
  exitOnStop(
    `nothing written (${flags.out} is written when the bench ends)`,
    () => Deno.removeSync(work, { recursive: true }),
  );
  try {
    if (flags["tables-only"] || flags["growth-only"]) {
      // The sections asked for alone (with `--tables` / `--growth`, the other one too).
      const tableScale = tables ? await tableSection(flags, work, backend) : undefined;
      const head = runHead(backend, {});
      const grown = growth ? await growthSection(growth, work, backend, flags.out) : undefined;
      const result = { ...head, tableScale, growth: grown };
      if (tableScale) console.log(tableScaleSummary(tableScale));
      if (grown) console.log(growthSummary(grown.rows, grown.epochs));
      await Deno.mkdir(dirname(flags.out), { recursive: true });
      await writeFileAtomic(flags.out, JSON.stringify(result, null, 2) + "\n");
      console.error(`wrote ${flags.out}`);
      return;
    }
    // 1. Our training step, in this process.
    const rss = new RssTracker();
    rss.start();
    const fixture = stepFixture(config);
    const shards = navigator.hardwareConcurrency || 1;
    const pool = await GradientPool.start(
      shards,
      config,
      fixture.params.size > 0 ? [{ name: BENCH_TABLE, features: fixture.rows.d }] : [],
    );
    const bar = new Progress(`image steps (${shards} shards)`, steps);
    let image, table;
    try {
      image = await timeSteps(() => imagePoolStep(fixture, pool), steps, 2, () => {
        rss.sample();
        bar.tick();
      });
      bar.done(`${image.medianMs.toFixed(0)} ms median`);
      table = await timeSteps(() => tablePoolStep(fixture, pool), steps, 2, () => rss.sample());
    } finally {
      pool.close();
    }
    const oneImage = await timeSteps(() => imageTrainStep(fixture), steps, 2, () => rss.sample());
    const oneTable = await timeSteps(() => tableTrainStep(fixture), steps, 2, () => rss.sample());
    disposeFixture(fixture);
    rss.stop();
    const stepPeak = rss.peak;
    const batch = config.train.batchSize;
    const tokens = batch * (g.tokens + 1);

    // 2. PyTorch on the same shapes.
    console.error("PyTorch reference step ...");
    const torch = await torchStep(join(SCRIPTS, "torch_step.py"), {
      batch,
      imageSize: m.imageSize,
      stem: m.stem,
      stemChannels: m.stemChannels,
      stemContrast: m.stemContrast,
      width: m.width,
      layers: m.layers,
      heads: m.heads,
      mlpRatio: m.mlpRatio,
      maskRatio: m.maskRatio,
    }, steps);

    // 3. Scoring throughput.
    let checkpoint = flags.checkpoint;
    if (!checkpoint) {
      console.error("training a quick checkpoint on synthetic data for the scoring bench ...");
      checkpoint = await quickCheckpoint(work);
    }
    console.error(`scoring ${nImages} images of 256 px and table rows with ${checkpoint} ...`);
    const scoring = await scoringThroughput(checkpoint, work, { images: nImages });

    // 4. The default `deno task train`, as a child process.
    const fullTrain = flags["skip-train"]
      ? { seconds: null, peakRssBytes: null, note: "--skip-train" }
      : await defaultTrain(flags.data, join(work, "train"), flags.backend);

    const partial: Omit<BenchResult, "targets"> = {
      ...runHead(backend, { rowMinKernel: rowMinKernelActive() }),
      model: {
        imageSize: m.imageSize,
        tokens: g.tokens,
        width: m.width,
        layers: m.layers,
        heads: m.heads,
      },
      step: {
        batch,
        steps,
        shards,
        imageStepMs: image.medianMs,
        tableStepMs: table.medianMs,
        oneThreadImageStepMs: oneImage.medianMs,
        oneThreadTableStepMs: oneTable.medianMs,
        tableBatch: config.train.tableBatchSize,
        tokensPerSecond: tokens / (image.medianMs / 1000),
        imagesPerSecond: batch / (image.medianMs / 1000),
        peakRssBytes: stepPeak,
      },
      torch: { ...torch, ratio: stepRatio(image.medianMs, torch) },
      scoring,
      fullTrain,
    };
    // 5. Tables at scale, when asked for.
    const tableScale = tables ? await tableSection(flags, work, flags.backend) : undefined;
    // 6. Growth with the data, when asked for.
    const grown = growth ? await growthSection(growth, work, flags.backend, flags.out) : undefined;
    const result: BenchResult = {
      ...partial,
      targets: checkTargets(partial),
      tableScale,
      growth: grown,
    };
    console.log(summary(result));
    if (tableScale) console.log(tableScaleSummary(tableScale));
    if (grown) console.log(growthSummary(grown.rows, grown.epochs));
    await Deno.mkdir(dirname(flags.out), { recursive: true });
    await writeFileAtomic(flags.out, JSON.stringify(result, null, 2) + "\n");
    console.error(`wrote ${flags.out}`);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** Comma-separated positive integers of a flag. */
function intList(name: string, value: string): number[] {
  const out = value.split(",").filter((v) => v.trim() !== "").map(Number);
  if (out.length === 0 || out.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new MadError(`--${name} must be comma-separated positive integers, got '${value}'`, 2);
  }
  return out;
}

/** The table-scale section: `--table FILE`, or generated tables of every rows x features. */
async function tableSection(
  flags: {
    "table-rows": string;
    "table-features": string;
    "table-1m"?: boolean;
    table?: string;
    "table-epochs"?: string;
    "table-config"?: string;
  },
  work: string,
  backend: string,
): Promise<TableScaleRow[]> {
  const epochs = numberFlag("table-epochs", flags["table-epochs"]);
  if (epochs !== undefined && !(Number.isInteger(epochs) && epochs >= 1)) {
    throw new MadError(`--table-epochs must be >= 1`, 2);
  }
  const options = {
    work,
    scripts: SCRIPTS,
    backend,
    epochs,
    config: flags["table-config"],
    onProgress: (line: string) => console.error(line),
  };
  if (flags.table) {
    if (extname(flags.table).toLowerCase() !== ".csv") {
      // scikit-learn reads the same file beside the model, as CSV text.
      throw new MadError(
        `${flags.table}: bench --table takes a CSV (scikit-learn reads the same file); save ` +
          "the table as a CSV with a 'label' column, or benchmark it with deno task benchmark",
        2,
      );
    }
    const table = readLabelledCsv(flags.table, { requireLabel: false });
    const python = await findSklearnPython();
    return [
      await benchTableFile(flags.table, { rows: table.n, features: table.d }, options, python),
    ];
  }
  const rows = intList("table-rows", flags["table-rows"]);
  if (flags["table-1m"] && !rows.includes(1_000_000)) rows.push(1_000_000);
  const features = intList("table-features", flags["table-features"]);
  const cases = features.flatMap((f) => rows.map((r) => ({ rows: r, features: f })));
  return await benchTableScale(cases, options);
}

/**
 * Runs the growth section and writes its Markdown table and HTML plot next to `out`
 * (`bench-growth.md`, `bench-growth.html` for `bench.json`).
 */
async function growthSection(
  growth: GrowthPlan,
  work: string,
  backend: string,
  out: string,
): Promise<{ epochs: number; rows: GrowthRow[] }> {
  const rows = await benchGrowth(growth.cases, {
    work,
    scripts: SCRIPTS,
    backend,
    epochs: growth.epochs,
    onProgress: (line) => console.error(line),
  });
  const base = out.replace(/\.json$/, "");
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  const machine = `${navigator.hardwareConcurrency} CPUs, load average ${load} at the end, ` +
    `${new Date().toISOString()}.`;
  await Deno.mkdir(dirname(out), { recursive: true });
  await writeFileAtomic(`${base}-growth.md`, growthMarkdown(rows, growth.epochs));
  await writeFileAtomic(`${base}-growth.html`, growthHtml(rows, growth.epochs, machine));
  console.error(`wrote ${base}-growth.md and ${base}-growth.html`);
  return { epochs: growth.epochs, rows };
}

/** Runs the default training on `dataDir` in a child process: wall time and peak RSS. */
async function defaultTrain(
  dataDir: string,
  out: string,
  backend: string,
): Promise<BenchResult["fullTrain"]> {
  const paths = defaultDataPaths(dataDir);
  const args = [
    "run",
    "-A",
    join(SCRIPTS, "train.ts"),
    "--quiet",
    "--out",
    out,
    "--backend",
    backend,
  ];
  for (const dir of paths.imagesDirs) args.push("--images", dir);
  let hasTable = false;
  try {
    hasTable = Deno.statSync(paths.thyroidMat).isFile;
  } catch {
    // no table prepared
  }
  if (hasTable) args.push("--table", paths.thyroidMat);
  if (paths.imagesDirs.length === 0 && !hasTable) {
    return {
      seconds: null,
      peakRssBytes: null,
      note: `no data under ${dataDir} (run deno task data or give --data DIR)`,
    };
  }
  console.error(`default training on ${dataDir} (this takes many minutes; --skip-train skips) ...`);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
    .spawn();
  const status = child.output();
  const peak = await watchChildPeak(child.pid, status);
  const done = await status;
  const seconds = (performance.now() - t0) / 1000;
  if (!done.success) {
    const err = new TextDecoder().decode(done.stderr).trim().split("\n").pop() ?? "";
    return { seconds: null, peakRssBytes: peak || null, note: `training failed: ${err}` };
  }
  const what = [...paths.imagesDirs, ...(hasTable ? [paths.thyroidMat] : [])].join(", ");
  return { seconds, peakRssBytes: peak || null, note: `on ${what}` };
}

if (import.meta.main) await runMain(main);

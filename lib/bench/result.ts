/**
 * The bench's result record (what `results/bench.json` holds), the issue's targets, and the
 * plain-text summary the bench prints.
 *
 * @module
 */
import { referenceBlas, type TorchResult } from "./torch.ts";
import type { ScoringResult } from "./scoring.ts";
import type { TableScaleRow } from "./table_scale.ts";
import type { GrowthRow } from "./growth.ts";

/** Targets from the issue: step time vs PyTorch, scoring speed at 256 px, training RSS. */
export const TARGETS = {
  stepRatioMax: 1.5,
  imagesPerSecondMin: 50,
  trainRssMaxBytes: 4 * 1024 ** 3,
} as const;

/** Everything one bench run measured. */
export interface BenchResult {
  date: string;
  machine: {
    cpus: number;
    loadAverage: number[];
    deno: string;
    backend: string;
    /** Whether the kNN search's row minimum ran our SIMD kernel (wasm backend). */
    rowMinKernel: boolean;
    /** The BLAS library matrix products ran on (lib/backend/blas.ts), or null for tfjs-wasm's. */
    blas: string | null;
  };
  model: { imageSize: number; tokens: number; width: number; layers: number; heads: number };
  step: {
    batch: number;
    steps: number;
    /** Shards a step is cut into, as training does it (this thread plus shards - 1 workers). */
    shards: number;
    /** Median ms of an image step (forward, backward, AdamW) over the shards. */
    imageStepMs: number;
    /** Median ms of a table step over the shards. */
    tableStepMs: number;
    /** The same two steps in this thread alone. */
    oneThreadImageStepMs: number;
    oneThreadTableStepMs: number;
    tableBatch: number;
    /** Tokens (incl. CLS) processed per second by image steps. */
    tokensPerSecond: number;
    imagesPerSecond: number;
    /** Peak RSS of this process over the step bench (bytes). */
    peakRssBytes: number;
  };
  torch: TorchResult & { ratio: number | null };
  scoring: ScoringResult | null;
  fullTrain: { seconds: number | null; peakRssBytes: number | null; note: string };
  targets: Record<string, { target: string; value: string; met: boolean | null }>;
  /** The table-scale section (`--tables`), when run. */
  tableScale?: TableScaleRow[];
  /** The growth section (`--growth`), when run: training epochs and one row per dataset. */
  growth?: { epochs: number; rows: GrowthRow[] };
}

/** ours / PyTorch, or null when PyTorch was not measured. */
export function stepRatio(oursMs: number, torch: TorchResult): number | null {
  return torch.available ? oursMs / torch.stepMs : null;
}

/** Checks the measured numbers against {@linkcode TARGETS}; unmeasured ones are null. */
export function checkTargets(r: Omit<BenchResult, "targets">): BenchResult["targets"] {
  const rss = Math.max(r.step.peakRssBytes, r.fullTrain.peakRssBytes ?? 0);
  const ratio = r.torch.ratio;
  const ips = r.scoring?.imagesPerSecond ?? null;
  return {
    step_vs_pytorch: {
      target: `<= ${TARGETS.stepRatioMax}x`,
      value: ratio === null ? "not measured" : `${ratio.toFixed(2)}x`,
      met: ratio === null ? null : ratio <= TARGETS.stepRatioMax,
    },
    scoring_images_per_s: {
      target: `>= ${TARGETS.imagesPerSecondMin} at 256 px`,
      value: ips === null || !Number.isFinite(ips) ? "not measured" : ips.toFixed(1),
      met: ips === null || !Number.isFinite(ips) ? null : ips >= TARGETS.imagesPerSecondMin,
    },
    training_rss: {
      target: `<= ${gb(TARGETS.trainRssMaxBytes)}`,
      value: gb(rss),
      met: rss <= TARGETS.trainRssMaxBytes,
    },
  };
}

/** Bytes as GB with two decimals. */
export function gb(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

const fmt = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);

/** The BLAS library file torch uses, e.g. `libopenblasp-r0.3.21.so`, or "unknown". */
function blasName(blas: string[]): string {
  const names = blas.map((lib) => lib.split("/").pop()!);
  return names.find((n) => /openblas|mkl|blis|atlas/i.test(n)) ?? names[0] ?? "unknown";
}

/** A human summary, one measurement per line, then the targets. */
export function summary(r: BenchResult): string {
  const t = r.torch;
  const lines = [
    `machine: ${r.machine.cpus} CPUs, load ${
      r.machine.loadAverage.map((x) => x.toFixed(2)).join(" ")
    }, ` +
    `deno ${r.machine.deno}, backend ${r.machine.backend}` +
    (r.machine.rowMinKernel ? " (SIMD row-minimum kernel)" : ""),
    `matrix products: ${
      r.machine.blas ??
        "tfjs-wasm's own (no BLAS library loaded; apt-get install libopenblas0 for faster steps)"
    }`,
    `image step (batch ${r.step.batch}, ${r.model.tokens}+1 tokens): ${
      fmt(r.step.imageStepMs, 0)
    } ms, ` +
    `${fmt(r.step.tokensPerSecond, 0)} tokens/s, ${fmt(r.step.imagesPerSecond)} images/s` +
    ` (${r.step.shards} shards; ${fmt(r.step.oneThreadImageStepMs, 0)} ms in one thread)`,
    `table step (batch ${r.step.tableBatch}): ${fmt(r.step.tableStepMs, 0)} ms (${
      fmt(r.step.oneThreadTableStepMs, 0)
    } ms in one thread)`,
    t.available
      ? `PyTorch ${t.torch} (${t.threads} threads, BLAS ${blasName(t.blas)}) same step: ${
        fmt(t.stepMs, 0)
      } ms; ours / PyTorch = ${fmt(t.ratio, 2)}` +
        (referenceBlas(t.blas)
          ? " (PyTorch is on the slow reference BLAS: install libopenblas0 for a fair comparison)"
          : "")
      : `PyTorch: missing (${t.reason})`,
    r.scoring
      ? `scoring: ${fmt(r.scoring.imagesPerSecond)} images/s with ${r.scoring.workers} scorers, ${
        fmt(r.scoring.imagesPerSecondOneThread)
      } in one thread (${r.scoring.imagePixels} px files; workers started in ${
        fmt(r.scoring.startupSeconds)
      } s, not counted), ` +
        `${fmt(r.scoring.rowsPerSecond, 0)} table rows/s` +
        (r.scoring.categories.length > 1
          ? ` (${
            r.scoring.categories.map((c) =>
              `${c.name} ${fmt(c.imagesPerSecond)} / ${fmt(c.imagesPerSecondOneThread)}`
            ).join(", ")
          } images/s)`
          : "")
      : "scoring: not measured",
    r.fullTrain.seconds === null
      ? `default train: not measured (${r.fullTrain.note})`
      : `default train: ${fmt(r.fullTrain.seconds / 60)} min (${r.fullTrain.note})`,
    `peak RSS: step bench ${gb(r.step.peakRssBytes)}` +
    (r.fullTrain.peakRssBytes ? `, default train ${gb(r.fullTrain.peakRssBytes)}` : ""),
    "targets:",
    ...Object.entries(r.targets).map(([k, v]) =>
      `  ${k}: ${v.value} (target ${v.target}) ${
        v.met === null ? "n/a" : v.met ? "met" : "NOT met"
      }`
    ),
  ];
  return lines.join("\n");
}

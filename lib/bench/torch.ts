/**
 * Runs the project's PyTorch reference step (scripts/torch_step.py) when a Python with torch
 * is at hand, and reports it as missing (with the reason) otherwise.
 *
 * @module
 */
import type { ModelConfig } from "../model/config.ts";

/** The PyTorch side of the comparison. */
export type TorchResult =
  | {
    available: true;
    python: string;
    torch: string;
    threads: number;
    stepMs: number;
    /** The BLAS libraries torch loaded (the reference BLAS makes its step ~10x slower). */
    blas: string[];
  }
  | { available: false; reason: string };

/** Whether torch runs on the unoptimised reference BLAS (Debian's libblas3 alone). */
export function referenceBlas(blas: string[]): boolean {
  return blas.length > 0 && !blas.some((lib) => /openblas|mkl|blis|atlas/i.test(lib));
}

/** Shapes handed to the reference script (its flags): the model's sizes and the batch. */
export type TorchShapes =
  & Pick<
    ModelConfig,
    | "imageSize"
    | "stem"
    | "stemChannels"
    | "stemContrast"
    | "width"
    | "layers"
    | "heads"
    | "mlpRatio"
    | "maskRatio"
  >
  & { batch: number };

/** Python interpreters to try: `MADFORMER_PYTHON`, Debian's, then whatever `python3` is. */
export function pythonCandidates(): string[] {
  const env = Deno.env.get("MADFORMER_PYTHON");
  return [...new Set([...(env ? [env] : []), "/usr/bin/python3", "python3"])];
}

/** The flags of scripts/torch_step.py for these shapes. */
export function torchArgs(shapes: TorchShapes, steps: number, threads: number): string[] {
  return [
    `--batch=${shapes.batch}`,
    `--image-size=${shapes.imageSize}`,
    `--stem=${shapes.stem.join(",")}`,
    `--stem-channels=${shapes.stemChannels.join(",")}`,
    `--width=${shapes.width}`,
    `--layers=${shapes.layers}`,
    `--heads=${shapes.heads}`,
    `--mlp-ratio=${shapes.mlpRatio}`,
    `--mask-ratio=${shapes.maskRatio}`,
    ...(shapes.stemContrast ? ["--stem-contrast"] : []),
    `--steps=${steps}`,
    `--threads=${threads}`,
  ];
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(o.success ? o.stdout : o.stderr);
    return { ok: o.success, out: text.trim() };
  } catch (e) {
    return { ok: false, out: e instanceof Error ? e.message.split("\n")[0] : String(e) };
  }
}

/** First interpreter that can `import torch`, or null. */
export async function findTorchPython(): Promise<string | null> {
  for (const python of pythonCandidates()) {
    if ((await run(python, ["-c", "import torch"])).ok) return python;
  }
  return null;
}

/** Runs the reference step; never throws (a failure is reported as missing with why). */
export async function torchStep(
  script: string,
  shapes: TorchShapes,
  steps: number,
  threads = 2,
): Promise<TorchResult> {
  const python = await findTorchPython();
  if (!python) {
    return {
      available: false,
      reason: `no Python with torch found (tried ${pythonCandidates().join(", ")}; ` +
        "install python3-torch or set MADFORMER_PYTHON)",
    };
  }
  const { ok, out } = await run(python, [script, ...torchArgs(shapes, steps, threads)]);
  if (!ok) return { available: false, reason: `${script} failed: ${out.split("\n").pop()}` };
  try {
    const line = out.split("\n").pop() ?? "";
    const parsed = JSON.parse(line) as {
      torch: string;
      threads: number;
      step_ms_median: number;
      blas?: string[];
    };
    return {
      available: true,
      python,
      torch: parsed.torch,
      threads: parsed.threads,
      stepMs: parsed.step_ms_median,
      blas: parsed.blas ?? [],
    };
  } catch {
    return { available: false, reason: `${script} printed no JSON result` };
  }
}

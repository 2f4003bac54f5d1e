/**
 * Matrix products through the machine's BLAS. tfjs-wasm multiplies with 128-bit SIMD and no
 * fused multiply-add: ~23 GFLOP/s for plain 2-D products, ~1.7 for transposed or batched ones.
 * OpenBLAS, called through Deno's FFI directly on the wasm backend's memory, uses the CPU's
 * own vector width (AVX-512 here: ~85 GFLOP/s on one core) and multiplies transposed operands
 * at full speed. When a BLAS library with `cblas_sgemm` loads, {@linkcode useSystemBlas}
 * replaces the wasm backend's BatchMatMul kernel with one that calls it; when none does (or FFI
 * is not permitted), tfjs-wasm's own kernel stays and nothing else changes.
 *
 * Each call runs on one BLAS thread: the training and scoring workers are the parallelism.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type WasmBackendInternals, wasmMemory, wasmOffset } from "./wasm_memory.ts";

/** Where the BLAS library is looked for, first to last; `MADFORMER_BLAS` (a path) goes first. */
export const BLAS_CANDIDATES: readonly string[] = [
  "libopenblas.so.0",
  "libopenblas.so",
  "libopenblas.dylib",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libblis.so.4",
];

const SGEMM = {
  parameters: [
    "i32",
    "i32",
    "i32",
    "i32",
    "i32",
    "i32",
    "f32",
    "buffer",
    "i32",
    "buffer",
    "i32",
    "f32",
    "buffer",
    "i32",
  ],
  result: "void",
} as const;

type Sgemm = (
  order: number,
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array<ArrayBuffer>,
  lda: number,
  b: Float32Array<ArrayBuffer>,
  ldb: number,
  beta: number,
  c: Float32Array<ArrayBuffer>,
  ldc: number,
) => void;

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** The loaded library: its sgemm and what it is. */
interface Blas {
  sgemm: Sgemm;
  /** The library file, and OpenBLAS's build description when it gives one. */
  name: string;
}

let blas: Blas | null | undefined;

function openLibrary(path: string): Blas | null {
  try {
    const { symbols } = Deno.dlopen(path, {
      cblas_sgemm: SGEMM,
      // OpenBLAS's own; BLIS, say, has neither and stays single-threaded unless told otherwise.
      openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
      openblas_get_config: { parameters: [], result: "pointer", optional: true },
    });
    symbols.openblas_set_num_threads?.(1);
    const config = symbols.openblas_get_config?.();
    const name = config ? `${path} (${new Deno.UnsafePointerView(config).getCString()})` : path;
    return { sgemm: symbols.cblas_sgemm as unknown as Sgemm, name };
  } catch {
    return null;
  }
}

/** The first BLAS library that loads, or null; looked for once per thread. */
function loadBlas(): Blas | null {
  if (blas !== undefined) return blas;
  blas = null;
  const asked = Deno.env.get("MADFORMER_BLAS");
  if (asked === "off") return blas;
  for (const path of asked ? [asked, ...BLAS_CANDIDATES] : BLAS_CANDIDATES) {
    blas = openLibrary(path);
    if (blas) break;
  }
  return blas;
}

let installedOn: string | null = null;
let enabled = true;

/**
 * Routes the wasm backend's matrix products (BatchMatMul) through the system BLAS, when one
 * loads; returns its name, or null when tfjs-wasm's own kernel stays. Call once the wasm
 * backend is registered; later calls return the first answer.
 */
export function useSystemBlas(): string | null {
  if (installedOn !== null) return installedOn;
  const library = loadBlas();
  const product = tf.getKernel("BatchMatMul", "wasm");
  const sum = tf.getKernel("Sum", "wasm");
  if (!library || !product || !sum) return null;
  installedOn = library.name;
  replaceKernel(product, (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    return blasProduct(library.sgemm, backendOf(args), a, b, transposeA, transposeB);
  });
  replaceKernel(sum, (args) => {
    const { axis, keepDims } = args.attrs as {
      axis: number | number[] | null;
      keepDims: boolean;
    };
    return leadingSum(
      library.sgemm,
      backendOf(args),
      args.inputs.x as tf.TensorInfo,
      axis,
      keepDims,
    );
  });
  return installedOn;
}

const backendOf = (args: { backend: unknown }) => args.backend as WasmBackendInternals;

/**
 * Registers `ours` in place of a wasm kernel; where it returns null (or BLAS is switched off),
 * the original runs.
 */
function replaceKernel(
  original: tf.KernelConfig,
  ours: (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | null,
): void {
  tf.unregisterKernel(original.kernelName, "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => (enabled ? ours(args) : null) ?? original.kernelFunc(args),
  });
}

/** The BLAS library {@linkcode useSystemBlas} routes products through, or null. */
export function systemBlasInUse(): string | null {
  return enabled ? installedOn : null;
}

/**
 * Switches the BLAS route off (tfjs-wasm's own products and the model's wasm detours) or back
 * on, in this thread; for comparing the two paths (tests, benchmarks).
 */
export function setSystemBlasEnabled(on: boolean): void {
  enabled = on;
}

const size = (shape: readonly number[]) => tf.util.sizeFromShape(shape as number[]);

/**
 * A new float32 wasm tensor of `shape` and the byte offsets of `inputs` and of it, or null (with
 * nothing allocated) when the backend's internals are not as expected.
 */
function allocate(
  backend: WasmBackendInternals,
  shape: number[],
  inputs: tf.TensorInfo[],
): { out: tf.TensorInfo; offsets: number[]; heap: () => ArrayBuffer } | null {
  const memory = wasmMemory(backend);
  if (!memory || !backend.makeOutput || inputs.some((t) => t.dtype !== "float32")) return null;
  const out = backend.makeOutput(shape, "float32");
  const offsets = [...inputs, out].map((t) => wasmOffset(backend, t));
  if (offsets.some((o) => o === undefined)) {
    backend.disposeData?.(out.dataId);
    return null;
  }
  // Read the buffer after allocating: growing the memory replaces it.
  return { out, offsets: offsets as number[], heap: () => memory.buffer as ArrayBuffer };
}

/**
 * a @ b (each optionally transposed, batch axes broadcast when one side has a single batch) into
 * a new wasm tensor, or null for what it does not handle (other dtypes, general broadcasting,
 * backend internals not as expected), which the caller hands to tfjs-wasm's kernel.
 */
function blasProduct(
  sgemm: Sgemm,
  backend: WasmBackendInternals,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo | null {
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null; // tfjs-wasm's kernel gives its own message
  const batchShapeA = a.shape.slice(0, -2), batchShapeB = b.shape.slice(0, -2);
  const batchA = size(batchShapeA), batchB = size(batchShapeB);
  let batchShape: number[];
  try {
    batchShape = tf.backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  } catch {
    return null;
  }
  // Each side has one batch or the output's: a single matrix repeats, nothing else is handled.
  if (
    (batchA !== 1 && batchA !== size(batchShape)) || (batchB !== 1 && batchB !== size(batchShape))
  ) {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  const allocated = allocate(backend, [...batchShape, m, n], [a, b]);
  if (!allocated) return null;
  const { out, offsets: [offsetA, offsetB, offsetC] } = allocated;
  if (m * n === 0) return out;
  const heap = allocated.heap();
  const stepA = batchA === 1 ? 0 : m * k, stepB = batchB === 1 ? 0 : k * n;
  const c = new Float32Array(heap, offsetC, batch * m * n);
  if (k === 0) {
    c.fill(0);
    return out;
  }
  for (let i = 0; i < batch; i++) {
    sgemm(
      ROW_MAJOR,
      transposeA ? TRANS : NO_TRANS,
      transposeB ? TRANS : NO_TRANS,
      m,
      n,
      k,
      1,
      new Float32Array(heap, offsetA + 4 * i * stepA, m * k),
      transposeA ? m : k,
      new Float32Array(heap, offsetB + 4 * i * stepB, k * n),
      transposeB ? k : n,
      0,
      c.subarray(i * m * n, (i + 1) * m * n),
      n,
    );
  }
  return out;
}

let ones = new Float32Array(0);

/**
 * Sums over the leading axes (bias and layer-norm gradients: [rows, width] to [width]) as one
 * product ones[1, rows] @ x[rows, width]. tfjs-wasm transposes the reduced axes to the end
 * first and then adds one value at a time: 0.37 ms for 1,040 x 128. Other reductions: null.
 */
function leadingSum(
  sgemm: Sgemm,
  backend: WasmBackendInternals,
  x: tf.TensorInfo,
  axis: number | number[] | null,
  keepDims: boolean,
): tf.TensorInfo | null {
  if (axis === null || axis === undefined) return null; // every axis: tfjs-wasm's plain sum
  const rank = x.shape.length;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a + rank) % rank))]
    .sort((p, q) => p - q);
  const leading = axes.length;
  if (leading === 0 || leading === rank || axes.some((a, i) => a !== i)) return null;
  const rows = size(x.shape.slice(0, leading));
  const width = size(x.shape.slice(leading));
  if (rows < 2 || width === 0) return null;
  const shape = keepDims ? x.shape.map((d, i) => (i < leading ? 1 : d)) : x.shape.slice(leading);
  const allocated = allocate(backend, shape, [x]);
  if (!allocated) return null;
  const { out, offsets: [from, to] } = allocated;
  if (ones.length < rows) ones = new Float32Array(rows).fill(1);
  const heap = allocated.heap();
  sgemm(
    ROW_MAJOR,
    NO_TRANS,
    NO_TRANS,
    1,
    width,
    rows,
    1,
    ones,
    rows,
    new Float32Array(heap, from, rows * width),
    width,
    0,
    new Float32Array(heap, to, width),
    width,
  );
  return out;
}

/**
 * Row minimum of a 2-D tensor, the last step of every image kNN search. On the wasm backend it
 * runs a SIMD kernel of ours (`kernels/row_min.wat`) directly on the backend's memory, 7x faster
 * than tfjs-wasm's Min; elsewhere, or if the backend's internals are not as expected, it is
 * `x.min(1, true)`. The result is the same either way. It has no gradient (scoring only).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { decodeBase64 } from "./base64.ts";
import { ROW_MIN_WASM } from "./kernels/row_min_wasm.ts";
import { type WasmBackendInternals, wasmMemory, wasmOffset } from "./wasm_memory.ts";

type RowMinKernel = (matrix: number, rows: number, cols: number, out: number) => void;

const kernels = new WeakMap<object, RowMinKernel | null>();

/** The kernel bound to the current wasm backend's memory, or null when it cannot be. */
function kernelFor(backend: WasmBackendInternals): RowMinKernel | null {
  let kernel = kernels.get(backend);
  if (kernel !== undefined) return kernel;
  kernel = null;
  const memory = wasmMemory(backend);
  if (memory) {
    try {
      const module = new WebAssembly.Module(decodeBase64(ROW_MIN_WASM) as Uint8Array<ArrayBuffer>);
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      kernel = instance.exports.rowMin as RowMinKernel;
    } catch {
      // A shared memory (tfjs-wasm's threaded build) does not link to this module: use tfjs's min.
      kernel = null;
    }
  }
  kernels.set(backend, kernel);
  return kernel;
}

/** Whether {@linkcode rowMin} runs the SIMD kernel on the current backend. */
export function rowMinKernelActive(): boolean {
  return tf.getBackend() === "wasm" &&
    kernelFor(tf.backend() as unknown as WasmBackendInternals) !== null;
}

/** The minimum of each row of a float32 matrix [rows, cols], as [rows, 1]. */
export function rowMin(x: tf.Tensor2D): tf.Tensor2D {
  const [rows, cols] = x.shape;
  if (tf.getBackend() !== "wasm" || x.dtype !== "float32" || cols === 0) {
    return x.min(1, true);
  }
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const kernel = kernelFor(backend);
  const out = kernel ? tf.zeros([rows, 1]) as tf.Tensor2D : null;
  const from = wasmOffset(backend, x);
  const to = out ? wasmOffset(backend, out) : undefined;
  if (!kernel || !out || from === undefined || to === undefined) {
    out?.dispose();
    return x.min(1, true);
  }
  kernel(from, rows, cols, to);
  return out;
}

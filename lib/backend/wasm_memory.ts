/**
 * Direct access to tfjs-wasm's memory, for kernels of ours that compute on tensors where they
 * lie (the BLAS products, the row minimum, the fused AdamW step). tfjs-wasm 4.x keeps every
 * tensor's data in one WebAssembly.Memory, at an offset its `dataIdMap` records.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** What tfjs-wasm 4.x exposes that our kernels need. */
export interface WasmBackendInternals {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap?: { get(dataId: object): { memoryOffset?: number } | undefined };
  makeOutput?(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData?(dataId: object): boolean;
}

/** The wasm backend's memory, or null when `backend` is not tfjs-wasm 4.x as expected. */
export function wasmMemory(backend: WasmBackendInternals): WebAssembly.Memory | null {
  const memory = backend.wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory && backend.dataIdMap ? memory : null;
}

/** Where a tensor's data starts in the wasm backend's memory (bytes), or undefined. */
export function wasmOffset(backend: WasmBackendInternals, t: tf.TensorInfo): number | undefined {
  return backend.dataIdMap?.get(t.dataId)?.memoryOffset;
}

/**
 * The float32 data of wasm tensors as views on the backend's memory, in order, or null when
 * any is not reachable. Take them after allocating: a new tensor may grow, and so replace, the
 * memory's buffer, which leaves earlier views empty.
 */
export function wasmViews(
  backend: WasmBackendInternals,
  tensors: readonly tf.TensorInfo[],
): Float32Array<ArrayBuffer>[] | null {
  const memory = wasmMemory(backend);
  if (!memory) return null;
  const views: Float32Array<ArrayBuffer>[] = [];
  for (const t of tensors) {
    const offset = wasmOffset(backend, t);
    if (offset === undefined || t.dtype !== "float32") return null;
    views.push(
      new Float32Array(memory.buffer as ArrayBuffer, offset, tf.util.sizeFromShape(t.shape)),
    );
  }
  return views;
}

/**
 * Copies a tensor's float32 values into `target` from `offset` on: on the wasm backend straight
 * from its memory, elsewhere through `dataSync`. tfjs-wasm's `dataSync` first copies the values
 * into a new buffer, and a fresh allocation of a few MB per call (its pages faulted in, then
 * collected) cost more than the copy itself: about 1 s per 100,000 table rows of 768-wide token
 * features.
 */
export function readInto(t: tf.Tensor, target: Float32Array, offset = 0): void {
  if (t.dtype === "float32" && tf.getBackend() === "wasm") {
    const views = wasmViews(tf.backend() as unknown as WasmBackendInternals, [t]);
    if (views) {
      target.set(views[0], offset);
      return;
    }
  }
  target.set(t.dataSync() as Float32Array, offset);
}

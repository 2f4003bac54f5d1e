/**
 * tfjs-wasm's Identity kernel copies its input, and tfjs runs Identity for every tensor an op
 * saves for its gradient (`clone` in `save`), so a training step copied each saved activation
 * once more: about 6% of the step. Tensors are immutable and the wasm backend counts references
 * to a buffer (its Reshape shares the input's buffer the same way), so this Identity shares the
 * buffer instead. Values and gradients are unchanged (tests/identity_test.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface RefCounting {
  incRef(dataId: object): void;
}

let installed = false;

/**
 * Replaces the wasm backend's Identity kernel with one that shares the input buffer; call once
 * the wasm backend is registered. Leaves the kernel alone if the backend cannot count references.
 */
export function shareIdentityBuffers(): void {
  if (installed) return;
  const original = tf.getKernel("Identity", "wasm");
  if (!original) return;
  installed = true;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const backend = args.backend as unknown as Partial<RefCounting>;
      if (x.dtype === "string" || typeof backend.incRef !== "function") {
        return original.kernelFunc(args);
      }
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

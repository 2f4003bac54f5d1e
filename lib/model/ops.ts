/**
 * Fast-path ops for the tfjs wasm backend, which multiplies plain 2-D untransposed matrices
 * ~10x faster than transposed or batched ones. Gradients of a matmul are transposed products,
 * so `matMul2d` supplies its own gradient with explicit transposes followed by plain products.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

const matMul2dWithGrad = tf.customGrad(
  ((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved;
        return [
          tf.matMul(dy as tf.Tensor2D, tf.transpose(sb as tf.Tensor2D)),
          tf.matMul(tf.transpose(sa as tf.Tensor2D), dy as tf.Tensor2D),
        ];
      },
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
);

/** a [m, k] @ b [k, n], with a gradient that stays on the fast path. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMul2dWithGrad(a, b) as tf.Tensor2D;
}

/**
 * Fast-path ops for the tfjs wasm backend, which multiplies plain 2-D untransposed matrices
 * ~10x faster than transposed or batched ones. Gradients of a matmul are transposed products,
 * so `matMul2d` supplies its own gradient with explicit transposes followed by plain products.
 *
 * Attention's per-head products are batched matmuls, the slow kind; `attention` runs them as
 * depthwise convolutions instead (XNNPACK, ~4x faster), with a hand-written gradient made of
 * the same. Layer norm and the sigmoid GELU get fused gradients.
 * Every op computes exactly what the plain tfjs composition computes (see tests/ops_test.ts).
 * When products run on the system BLAS (lib/backend/blas.ts), transposed and batched products are
 * as fast as plain ones, so `matMul2d` and `attention` are tfjs's plain ops there.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { systemBlasInUse } from "../backend/blas.ts";

/** tfjs's customGrad typing wants a fixed arity; ours are checked by their wrappers. */
// deno-lint-ignore no-explicit-any
type AnyGradFunc = any;

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
  }) as AnyGradFunc,
);

/**
 * The values of the tensor `fn` makes, with every intermediate freed, as `tf.tidy(() =>
 * fn().dataSync())` would give them, but in constant time: tf.tidy walks whatever its function
 * returns looking for tensors, index by index through a typed array (about 20 ms for 131,072
 * floats here, more than the product that made them).
 */
export function readTidy(fn: () => tf.Tensor): Float32Array {
  const out = tf.tidy(fn);
  try {
    return out.dataSync() as Float32Array;
  } finally {
    out.dispose();
  }
}

/**
 * Whether matrix products run through the system BLAS ({@linkcode systemBlasInUse}), which
 * multiplies transposed and batched operands at full speed: then tfjs's own gradients and
 * batched products are the fast path, and the detours below would only add copies.
 */
function blasProducts(): boolean {
  return systemBlasInUse() !== null && tf.getBackend() === "wasm";
}

/** a [m, k] @ b [k, n], with a gradient that stays on the fast path. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (blasProducts()) return tf.matMul(a, b);
  return matMul2dWithGrad(a, b) as tf.Tensor2D;
}

/**
 * Per-group products as one depthwise convolution, which the wasm backend runs through
 * XNNPACK (~4x faster than its batched matmul, with no wasted work):
 * C[g, i, j] = Σ_d A[g, i, d] · B[g, d, j], given `x` = A laid out [I, D, G] and `f` = B laid
 * out [D, G, J]. Returns C laid out [I, G, J].
 */
export function groupedProduct(x: tf.Tensor3D, f: tf.Tensor3D): tf.Tensor3D {
  const [I, D, G] = x.shape;
  const J = f.shape[2];
  if (f.shape[0] !== D || f.shape[1] !== G) {
    throw new Error(`groupedProduct: shapes ${x.shape} and ${f.shape} do not fit`);
  }
  const out = tf.depthwiseConv2d(
    x.reshape([1, I, D, G]) as tf.Tensor4D,
    f.reshape([1, D, G, J]) as tf.Tensor4D,
    1,
    "valid",
  );
  return out.reshape([I, G, J]);
}

type Attention = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;
const attentionCache = new Map<number, Attention>();

/**
 * Layouts of [B, N, D] tokens split into heads, for {@linkcode groupedProduct}: tokens
 * [B, N, H, dh] with g = (b, h) the innermost "channel" axis.
 */
function headLayouts(B: number, D: number, heads: number) {
  const dh = D / heads;
  const G = B * heads;
  const heads4 = (t: tf.Tensor) => t.reshape([B, t.shape[1]!, heads, dh]);
  return {
    dh,
    rowsFirst: (t: tf.Tensor) =>
      heads4(t).transpose([1, 3, 0, 2]).reshape([t.shape[1]!, dh, G]) as tf.Tensor3D,
    depthFirst: (t: tf.Tensor) =>
      heads4(t).transpose([3, 0, 2, 1]).reshape([dh, G, t.shape[1]!]) as tf.Tensor3D,
    tokenFirst: (t: tf.Tensor) =>
      heads4(t).transpose([1, 0, 2, 3]).reshape([t.shape[1]!, G, dh]) as tf.Tensor3D,
    back: (t: tf.Tensor) =>
      t.reshape([t.shape[0], B, heads, dh]).transpose([1, 0, 2, 3]).reshape([B, t.shape[0], D]),
  };
}

/** Attention's forward pass for any numbers of queries and keys: output and softmax weights. */
function attentionForward(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  heads: number,
): { out: tf.Tensor; weights: tf.Tensor3D } {
  const { dh, rowsFirst, depthFirst, tokenFirst, back } = headLayouts(
    q.shape[0]!,
    q.shape[2]!,
    heads,
  );
  // Scores [i, g, j] and their softmax over j.
  const scale = 1 / Math.sqrt(dh);
  const scores = groupedProduct(rowsFirst(q).mul(scale) as tf.Tensor3D, depthFirst(k));
  const weights = tf.softmax(scores) as tf.Tensor3D;
  const out = back(groupedProduct(weights.transpose([0, 2, 1]) as tf.Tensor3D, tokenFirst(v)));
  return { out, weights };
}

function attentionOp(heads: number): Attention {
  const cached = attentionCache.get(heads);
  if (cached) return cached;
  const op = tf.customGrad(
    ((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
      const [B, , D] = q.shape;
      const { dh, rowsFirst, depthFirst, tokenFirst, back } = headLayouts(B, D, heads);
      const scale = 1 / Math.sqrt(dh);
      const { out, weights: a } = attentionForward(q, k, v, heads);
      save([q, k, v, a]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sq, sk, sv, sa] = saved as tf.Tensor3D[];
          const dA = groupedProduct(rowsFirst(dy), depthFirst(sv));
          // Softmax backward, with the score scale folded in: dS [i, g, j].
          const dS = sa.mul(dA.sub(dA.mul(sa).sum(2, true))).mul(scale);
          const jFirst = (t: tf.Tensor) => t.transpose([2, 0, 1]) as tf.Tensor3D;
          const dV = groupedProduct(jFirst(sa), tokenFirst(dy));
          const dQ = groupedProduct(dS.transpose([0, 2, 1]) as tf.Tensor3D, tokenFirst(sk));
          const dK = groupedProduct(jFirst(dS), tokenFirst(sq));
          return [back(dQ), back(dK), back(dV)];
        },
      };
    }) as AnyGradFunc,
  ) as Attention;
  attentionCache.set(heads, op);
  return op;
}

/**
 * Multi-head scaled dot-product attention: q, k, v [B, N, D] (heads split from D as
 * `[B, N, H, dh]`), returns softmax(q kᵀ / √dh) v with heads merged back, [B, N, D]. The same
 * values as splitting heads and `tf.matMul(q, k, false, true)`, but every product runs as a
 * depthwise convolution ({@linkcode groupedProduct}), forward and backward.
 * With fewer queries than keys (q [B, M, D]: only some tokens' outputs are wanted) it gives
 * [B, M, D], forward only.
 */
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  heads: number,
): tf.Tensor3D {
  if (q.shape[2] % heads !== 0) {
    throw new Error(`attention: width ${q.shape[2]} is not a multiple of heads ${heads}`);
  }
  if (blasProducts()) return batchedAttention(q, k, v, heads);
  if (q.shape[1] !== k.shape[1]) return attentionForward(q, k, v, heads).out as tf.Tensor3D;
  return attentionOp(heads)(q, k, v) as tf.Tensor3D;
}

/** Attention as plain batched products per (batch, head), with tfjs's own gradients. */
function batchedAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  heads: number,
): tf.Tensor3D {
  const [B, M, D] = q.shape;
  const dh = D / heads;
  const split = (t: tf.Tensor3D) =>
    t.reshape([B, t.shape[1], heads, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const scores = tf.matMul(split(q).mul(1 / Math.sqrt(dh)) as tf.Tensor4D, split(k), false, true);
  const out = tf.matMul(tf.softmax(scores) as tf.Tensor4D, split(v));
  return out.transpose([0, 2, 1, 3]).reshape([B, M, D]) as tf.Tensor3D;
}

/**
 * {@linkcode attention} from a fused projection: `qkv` [B, N, 3*D] holds q, k and v side by
 * side on the last axis (as `x @ concat([Wq, Wk, Wv], 1)` gives them).
 */
export function attentionQkv(qkv: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
  return attention(q, k, v, heads);
}

const layerNormCache = new Map<number, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

function layerNormOp(eps: number): (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  const cached = layerNormCache.get(eps);
  if (cached) return cached;
  const op = tf.customGrad(
    ((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      const shape = x.shape;
      const D = shape[shape.length - 1];
      const x2 = x.reshape([-1, D]);
      const centred = x2.sub(x2.mean(1, true));
      const inv = tf.rsqrt(centred.square().mean(1, true).add(eps));
      const xhat = centred.mul(inv);
      save([xhat, inv, g]);
      return {
        value: xhat.mul(g).add(b).reshape(shape),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sxhat, sinv, sg] = saved;
          const dy2 = dy.reshape([-1, D]);
          const dxhat = dy2.mul(sg);
          const dx = dxhat.sub(dxhat.mean(1, true)).sub(sxhat.mul(dxhat.mul(sxhat).mean(1, true)))
            .mul(sinv);
          return [dx.reshape(shape), dy2.mul(sxhat).sum(0), dy2.sum(0)];
        },
      };
    }) as AnyGradFunc,
  ) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  layerNormCache.set(eps, op);
  return op;
}

/**
 * Layer norm over the last axis: (x - mean) / √(var + eps) * gamma + beta, with the variance
 * as `tf.moments` computes it, and a fused gradient for x, gamma [D] and beta [D].
 */
export function layerNorm<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor1D | tf.Variable,
  beta: tf.Tensor1D | tf.Variable,
  eps = 1e-5,
): T {
  return layerNormOp(eps)(x, gamma, beta) as T;
}

const geluOp = tf.customGrad(
  ((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const s = tf.sigmoid(x.mul(1.702));
    save([x, s]);
    return {
      value: x.mul(s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, ss] = saved;
        // d/dx x·σ(1.702x) = σ + 1.702·x·σ·(1 − σ)
        const grad = ss.add(sx.mul(1.702).mul(ss).mul(tf.scalar(1).sub(ss)));
        return [dy.mul(grad)];
      },
    };
  }) as AnyGradFunc,
) as (x: tf.Tensor) => tf.Tensor;

/** The sigmoid GELU x·σ(1.702x), with a gradient from the saved sigmoid. */
export function gelu<T extends tf.Tensor>(x: T): T {
  return geluOp(x) as T;
}

/**
 * The unmasked pass over table rows that the encoder evidence reads, with its first block taken
 * from the tokens' structure. A row's feature token j is `v_j * value_j + c_j` (its value times a
 * learned vector plus fixed embeddings) and the class token is fixed, so every token lies on a
 * line. A layer norm scales and shifts a point on a line by two numbers of the row, and the
 * first block's queries, keys and values are then mixes of three fixed vectors per token; its
 * attention scores are quadratic forms in those numbers and its output a weighted sum of fixed
 * vectors, so the residual stream after it is a mix of a few dozen fixed vectors; the layer
 * norm before the MLP only scales that mix, so the MLP's first layer reads the mix's
 * coefficients. The block is computed from them: small products per row instead of four
 * [tokens, width] x [width, width] ones, two per row and head, and a [width, 4 width] one, the
 * same values up to float rounding (`tests/table_pass_test.ts` holds them to the whole forward
 * pass's). Only the MLP's second layer, and any later block, runs on the tokens' full width.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import { blockPrefixes, encoderBlock, encoderFor, param, type Params, TABLE } from "./madformer.ts";
import { gelu } from "./ops.ts";

/** The layer norm's epsilon (`ops.layerNorm`'s default, which the model uses). */
const LN_EPS = 1e-5;

/**
 * What the first block's shortcut reads of the weights for one table, the same for every row:
 * made once per request with {@linkcode tableLines} and freed with {@linkcode disposeTableLines}
 * (or by an enclosing tidy scope).
 */
export type TableLines = {
  /** Whether only the feature tokens' output is made (no later block reads the class token). */
  featuresOnly: boolean;
  /**
   * Mean square of each centred slope, slope x offset and offset [d]: the layer norm's variance
   * of v * slope + offset is ss v^2 + 2 so v + oo.
   */
  ss: Float32Array;
  so: Float32Array;
  oo: Float32Array;
  /** Scaled dot products of the query and key directions [queries * N, 9, heads]. */
  gram: tf.Tensor3D;
  /**
   * The directions the residual stream after the first block's attention is a mix of, for each
   * querying token i: [2 * heads * N + 2 * queries + 1, D], the rows being the value
   * directions through the output projection (slope's, then offset's, by head and key), each
   * querying token's slope and offset before the encoder (the class token's: 0 and itself),
   * and the fixed direction through the output projection with its bias.
   */
  mixed: tf.Tensor2D;
  /**
   * The same rows centred, times the second layer norm's gain, through the MLP's first layer
   * [rows, mlpRatio * D], then one more row: the second layer norm's shift through that layer
   * plus its bias. The MLP's input is r (mix . these) + that last row, r the layer norm's scale,
   * so a coefficient 1 for the last row puts the bias in the product rather than in a pass of
   * its own over the widest activations.
   */
  mixedFc1: tf.Tensor2D;
  /**
   * Scratch arrays for each batch's coefficients, reused from batch to batch: a fresh array per
   * batch had its pages faulted in anew each time, a tenth of the pass on the 2-core VM.
   */
  scratch: Map<string, Float32Array>;
};

/** Disposes what {@linkcode tableLines} made. */
export function disposeTableLines(lines: TableLines): void {
  for (const value of Object.values(lines)) if (value instanceof tf.Tensor) value.dispose();
}

/**
 * {@linkcode TableLines} of `table` for a pass of `blocks` blocks (only the feature tokens'
 * output when that is one block).
 */
export function tableLines(
  params: Params,
  config: ModelConfig,
  table: string,
  d: number,
  blocks: number,
): TableLines {
  const featuresOnly = Math.max(1, Math.min(blocks, config.layers)) === 1;
  const { ss, so, oo, ...tensors } = tf.tidy(() =>
    lineTensors(params, config, table, d, featuresOnly)
  );
  return {
    featuresOnly,
    ...tensors,
    ss: readAndFree(ss),
    so: readAndFree(so),
    oo: readAndFree(oo),
    scratch: new Map(),
  };
}

function readAndFree(t: tf.Tensor): Float32Array {
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values;
}

/** The tensors of {@linkcode TableLines}, the layer norm's variance terms as tensors. */
function lineTensors(
  params: Params,
  config: ModelConfig,
  table: string,
  d: number,
  featuresOnly: boolean,
) {
  const N = d + 1;
  const D = config.width;
  const H = config.heads;
  const dh = D / H;
  const { attention: name, mlp } = blockPrefixes(config, `${encoderFor(config, TABLE)}.0`, TABLE);
  const slope = param(params, `table.${table}.value`) as tf.Tensor2D;
  let offset = param(params, `table.${table}.bias`) as tf.Tensor2D;
  let cls = param(params, "embed.cls").reshape([1, D]) as tf.Tensor2D;
  // The embeddings as `embedSequence` adds them.
  if (config.positionEmbedding) offset = offset.add(param(params, `table.${table}.identity`));
  if (config.modalityEmbedding) {
    const type = param(params, "embed.modality").slice([TABLE, 0], [1, D]);
    offset = offset.add(type);
    cls = cls.add(type);
  }
  // The first layer norm of v * slope + offset is r (v * slope~ + offset~) gamma + beta, with ~
  // the centred vectors and r = 1 / sqrt(mean((v * slope~ + offset~)^2) + eps), quadratic in v.
  const slopeC = slope.sub(slope.mean(1, true));
  const offsetC = offset.sub(offset.mean(1, true));
  const gamma = param(params, `${name}.ln1.g`);
  const beta = param(params, `${name}.ln1.b`).reshape([1, D]) as tf.Tensor2D;
  const clsMoments = tf.moments(cls, 1, true);
  const clsNormed = cls.sub(clsMoments.mean).mul(tf.rsqrt(clsMoments.variance.add(LN_EPS)))
    .mul(gamma).add(beta) as tf.Tensor2D;
  // Every token's query (key, value) is a v r + b r + c, a sum of three directions with the
  // row's coefficients (v r, r, 1): slope~ gamma and offset~ gamma through the projection, and
  // beta's projection plus the bias. The class token's is fixed: coefficients (0, 1, 1), its
  // difference from the third direction as its second.
  const directions = tf.concat([slopeC.mul(gamma), offsetC.mul(gamma), beta, clsNormed]);
  const w = tf.concat(["q", "k", "v"].map((x) => param(params, `${name}.${x}.w`)), 1);
  const bias = tf.concat(["q", "k", "v"].map((x) => param(params, `${name}.${x}.b`)));
  const projected = tf.matMul(directions as tf.Tensor2D, w as tf.Tensor2D);
  const basis = (which: number) => {
    const part = projected.slice([0, which * D], [2 * d + 2, D]);
    const b = bias.slice([which * D], [D]);
    const fixed = part.slice([2 * d, 0], [1, D]).add(b) as tf.Tensor2D;
    const clsVector = part.slice([2 * d + 1, 0], [1, D]).add(b);
    return {
      slope: tf.concat([tf.zeros([1, D]), part.slice([0, 0], [d, D])]) as tf.Tensor2D,
      offset: tf.concat([clsVector.sub(fixed), part.slice([d, 0], [d, D])]) as tf.Tensor2D,
      fixed,
    };
  };
  const [q, k, v] = [0, 1, 2].map(basis);
  // gram[i, j, p, s, h]: head h's scaled dot product of query i's direction p and key j's s.
  const heads = (x: ReturnType<typeof basis>) =>
    tf.stack([x.slope, x.offset, x.fixed.tile([N, 1])], 1).reshape([N, 3, H, dh])
      .transpose([2, 0, 1, 3]).reshape([H, 3 * N, dh]) as tf.Tensor3D;
  const queries = featuresOnly ? d : N;
  const gram = tf.matMul(heads(q), heads(k), false, true).mul(1 / Math.sqrt(dh))
    .reshape([H, N, 3, N, 3]).slice([0, N - queries, 0, 0, 0], [H, queries, 3, N, 3])
    .transpose([1, 3, 2, 4, 0]).reshape([queries * N, 9, H]) as tf.Tensor3D;
  // The value directions through the output projection, per head: [H * N, D].
  const wo = param(params, `${name}.o.w`) as tf.Tensor2D;
  const throughOut = (x: tf.Tensor2D) =>
    tf.matMul(
      x.reshape([N, H, dh]).transpose([1, 0, 2]) as tf.Tensor3D,
      wo.reshape([H, dh, D]) as tf.Tensor3D,
    ).reshape([H * N, D]) as tf.Tensor2D;
  // The tokens themselves, those that query: the class token's slope is 0, its offset itself.
  const tokenSlope = tf.concat([tf.zeros([1, D]), slope]).slice([N - queries, 0], [queries, D]);
  const tokenOffset = tf.concat([cls, offset]).slice([N - queries, 0], [queries, D]);
  const mixed = tf.concat([
    throughOut(v.slope),
    throughOut(v.offset),
    tokenSlope,
    tokenOffset,
    tf.matMul(v.fixed, wo).add(param(params, `${name}.o.b`)),
  ]) as tf.Tensor2D;
  const gamma2 = param(params, `${mlp}.ln2.g`);
  const fc1 = param(params, `${mlp}.fc1.w`) as tf.Tensor2D;
  return {
    ss: slopeC.square().mean(1) as tf.Tensor1D,
    so: slopeC.mul(offsetC).mean(1) as tf.Tensor1D,
    oo: offsetC.square().mean(1) as tf.Tensor1D,
    gram,
    mixed,
    mixedFc1: tf.concat([
      tf.matMul(mixed.sub(mixed.mean(1, true)).mul(gamma2) as tf.Tensor2D, fc1),
      tf.matMul(param(params, `${mlp}.ln2.b`).reshape([1, D]) as tf.Tensor2D, fc1)
        .add(param(params, `${mlp}.fc1.b`)),
    ]) as tf.Tensor2D,
  };
}

/**
 * What the encoder evidence reads of table rows, the values `forwardTable(...).residual(blocks)`
 * gives (lib/model/madformer.ts): each feature token's residual stream after `blocks` blocks
 * ([B, d, D]) of normalised rows [B, d], with the first block computed from the tokens' lines; `lines` from {@linkcode tableLines} for the same blocks (made here if absent).
 */
export function tableResidualOnLines(
  params: Params,
  config: ModelConfig,
  table: string,
  rows: tf.Tensor2D,
  blocks = config.layers,
  lines = tableLines(params, config, table, rows.shape[1], blocks),
): tf.Tensor3D {
  const [B, d] = rows.shape;
  const run = Math.max(1, Math.min(blocks, config.layers));
  if ((run === 1) !== lines.featuresOnly) throw new Error("table lines made for another depth");
  const enc = encoderFor(config, TABLE);
  // Token-major [tokens, B, D] through the first block: its MLP works on any layout.
  const { mlp } = blockPrefixes(config, `${enc}.0`, TABLE);
  let h = firstBlock(params, mlp, config.heads, lines, rows).transpose([1, 0, 2]);
  // Row 0 of the sequence is the class token.
  const features = Array.from({ length: d }, (_, j) => j + 1);
  for (let l = 1; l < run; l++) {
    const last = l === run - 1;
    h = encoderBlock(
      params,
      `${enc}.${l}`,
      h as tf.Tensor3D,
      config.heads,
      last ? features : undefined,
      blockPrefixes(config, `${enc}.${l}`, TABLE),
    );
  }
  return h.reshape([B, d, config.width]);
}

/**
 * The first block's output, token-major [tokens, B, D] (see {@linkcode TableLines}): the
 * residual stream after its attention is a mix of `lines.mixed`, and its MLP's first layer
 * takes the mix's coefficients (a few dozen a token) rather than the token (the width).
 */
function firstBlock(
  params: Params,
  mlp: string,
  heads: number,
  lines: TableLines,
  v: tf.Tensor2D,
): tf.Tensor3D {
  const [B, d] = v.shape;
  const N = d + 1;
  const D = lines.mixed.shape[1];
  const queries = lines.featuresOnly ? d : N;
  const values = v.dataSync() as Float32Array;
  const { alpha, rho, pairs } = coefficientsOf(lines, values, B, queries);
  // Scores [queries, B, heads, N]: the quadratic forms of the coefficients in `gram`.
  const weights = tf.softmax(
    tf.matMul(tf.tensor3d(pairs, [queries * N, B, 9]), lines.gram)
      .reshape([queries, N, B, heads]).transpose([0, 2, 3, 1]),
  );
  // Each key's weight times its coefficients, on the value directions (the fixed one's weights
  // sum to one), then the querying token's own slope and offset and the fixed direction.
  const mix = (coefficient: Float32Array) =>
    weights.mul(tf.tensor4d(coefficient, [1, B, 1, N])).reshape([queries * B, heads * N]);
  const own = scratchOf(lines, "own", queries * B * (2 * queries + 1)).fill(0);
  for (let i = 0; i < queries; i++) {
    const token = N - queries + i; // 0: the class token, whose slope is 0
    for (let b = 0; b < B; b++) {
      const row = (i * B + b) * (2 * queries + 1);
      own[row + i] = token > 0 ? values[b * d + token - 1] : 0;
      own[row + queries + i] = 1;
      own[row + 2 * queries] = 1;
    }
  }
  const coefficients = tf.concat([
    mix(alpha),
    mix(rho),
    tf.tensor2d(own, [queries * B, 2 * queries + 1]),
  ], 1) as tf.Tensor2D;
  const h = tf.matMul(coefficients, lines.mixed);
  // The MLP: its layer norm's scale from h, its first layer from the coefficients.
  const scale = tf.rsqrt(tf.moments(h, 1, true).variance.add(LN_EPS));
  const scaled = tf.concat([coefficients.mul(scale), tf.ones([queries * B, 1])], 1);
  const hidden = gelu(tf.matMul(scaled as tf.Tensor2D, lines.mixedFc1));
  const out = h.add(
    tf.matMul(hidden as tf.Tensor2D, param(params, `${mlp}.fc2.w`) as tf.Tensor2D)
      .add(param(params, `${mlp}.fc2.b`)),
  );
  return out.reshape([queries, B, D]);
}

/**
 * Each token's coefficients on its three directions, (v r, r, 1) with r the layer norm's scale,
 * the class token's (0, 1, 1): `alpha` and `rho` row-major [B, N], and their products for every
 * (query, key) pair, [queries * N, B, 9] (query-major, the class token first when it queries).
 * Computed here rather than in a dozen small backend ops.
 */
function coefficientsOf(
  lines: TableLines,
  v: Float32Array,
  B: number,
  queries: number,
): { alpha: Float32Array; rho: Float32Array; pairs: Float32Array } {
  const d = lines.ss.length;
  const N = d + 1;
  const alpha = scratchOf(lines, "alpha", B * N);
  const rho = scratchOf(lines, "rho", B * N);
  for (let b = 0; b < B; b++) {
    rho[b * N] = 1;
    for (let j = 0; j < d; j++) {
      const x = v[b * d + j];
      const r = 1 / Math.sqrt(lines.ss[j] * x * x + 2 * lines.so[j] * x + lines.oo[j] + LN_EPS);
      alpha[b * N + j + 1] = x * r;
      rho[b * N + j + 1] = r;
    }
  }
  const pairs = scratchOf(lines, "pairs", queries * N * B * 9);
  const from = N - queries;
  for (let i = 0; i < queries; i++) {
    for (let j = 0; j < N; j++) {
      for (let b = 0; b < B; b++) {
        const [qa, qr] = [alpha[b * N + from + i], rho[b * N + from + i]];
        const [ka, kr] = [alpha[b * N + j], rho[b * N + j]];
        const at = ((i * N + j) * B + b) * 9;
        pairs[at] = qa * ka;
        pairs[at + 1] = qa * kr;
        pairs[at + 2] = qa;
        pairs[at + 3] = qr * ka;
        pairs[at + 4] = qr * kr;
        pairs[at + 5] = qr;
        pairs[at + 6] = ka;
        pairs[at + 7] = kr;
        pairs[at + 8] = 1;
      }
    }
  }
  return { alpha, rho, pairs };
}

/** The first `length` floats of `lines`' scratch array `name` (grown when short; not cleared). */
function scratchOf(lines: TableLines, name: string, length: number): Float32Array {
  const held = lines.scratch.get(name);
  if (held && held.length >= length) return held.subarray(0, length);
  const fresh = new Float32Array(length);
  lines.scratch.set(name, fresh);
  return fresh;
}

/**
 * MADformer: the whole model in one file.
 *
 * Images become patch tokens through a convolutional stem (non-overlapping convolutions, i.e.
 * patch merging, written as reshapes and 2-D matmuls so that they stay on the wasm fast path);
 * each table feature becomes a token (value times a learned feature vector, plus a bias; a table
 * wider than `tableMaxTokens` sums neighbouring features' tokens into one, see `tableGroups`). Every
 * token gets a modality-type embedding and a position / feature-identity embedding, a CLS token
 * is prepended, and a pre-norm Transformer encoder (shared by both modalities unless configured
 * otherwise; each block's attention is one per modality by default, its MLP shared) turns them
 * into features. Heads: masked-token reconstruction, and a sigmoid anomaly head (per sample from
 * CLS and, for images, per patch).
 *
 * Parameters are a plain name → tf.Variable map so checkpoints are a straight safetensors dump.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import { Rng } from "../rng.ts";
import {
  attention as fastAttention,
  gelu as fastGelu,
  layerNorm as fastLayerNorm,
  matMul2d,
} from "./ops.ts";

/** Name → variable. */
export type Params = Map<string, tf.Variable>;

/** Describes one table the model knows (its feature count fixes the per-feature weights). */
export interface TableSpec {
  name: string;
  features: number;
}

/** Static shape facts derived from the config. */
export interface Geometry {
  /** Pixels per token side. */
  patch: number;
  /** Tokens per image side. */
  grid: number;
  /** Image tokens (grid * grid). */
  tokens: number;
  /** Pixel values per token (patch * patch * 3). */
  patchDim: number;
}

/** Image shape facts for a config. */
export function geometry(config: Pick<ModelConfig, "stem" | "imageSize">): Geometry {
  const patch = config.stem.reduce((a, b) => a * b, 1);
  const grid = config.imageSize / patch;
  return { patch, grid, tokens: grid * grid, patchDim: patch * patch * 3 };
}

const IMAGE = 0;
/** Index of the table modality (its row of the modality-type embedding, `encode`'s argument). */
export const TABLE = 1;

let instances = 0;

/**
 * A tfjs variable for parameter `name`. tfjs names variables globally, so each model instance
 * gets its own prefix; code looks parameters up by their map key, never by variable name.
 */
export function paramVariable(name: string, value: tf.Tensor, instance: number): tf.Variable {
  return tf.variable(value, true, `madformer${instance}/${name}`);
}

/** A fresh instance number for {@linkcode paramVariable}. */
export function newInstance(): number {
  return ++instances;
}

/** Creates freshly initialised parameters for a config and the tables it will see. */
export function initParams(config: ModelConfig, tables: TableSpec[], seed: number): Params {
  const rng = new Rng(seed);
  const params: Params = new Map();
  const instance = newInstance();
  const g = geometry(config);
  const D = config.width;
  const normal = (shape: number[], std: number) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = rng.normal() * std;
    return tf.tensor(values, shape);
  };
  const add = (name: string, value: tf.Tensor) => {
    params.set(name, paramVariable(name, value, instance));
    value.dispose();
  };
  const linear = (name: string, fanIn: number, fanOut: number, std = Math.sqrt(1 / fanIn)) => {
    add(`${name}.w`, normal([fanIn, fanOut], std));
    add(`${name}.b`, tf.zeros([fanOut]));
  };
  const norm = (name: string) => {
    add(`${name}.g`, tf.ones([D]));
    add(`${name}.b`, tf.zeros([D]));
  };

  // Stem: each stage merges stem[i] x stem[i] cells into one and projects.
  let channels = stemInputChannels(config);
  const outs = [...config.stemChannels, D];
  config.stem.forEach((factor, i) => {
    linear(
      `stem.${i}`,
      factor * factor * channels,
      outs[i],
      Math.sqrt(2 / (factor * factor * channels)),
    );
    channels = outs[i];
  });

  add("embed.modality", normal([2, D], 0.02));
  add("embed.position", normal([g.tokens, D], 0.02));
  add("embed.cls", normal([D], 0.02));
  add("embed.mask", normal([D], 0.02));
  for (const t of tables) {
    const groups = tableGroups(config, t.features);
    // A token summing `size` features keeps one feature's scale.
    add(`table.${t.name}.value`, normal([t.features, D], 1 / Math.sqrt(groups.size)));
    add(`table.${t.name}.bias`, normal([t.features, D], 0.02));
    add(`table.${t.name}.identity`, normal([groups.tokens, D], 0.02));
    add(`table.${t.name}.recon.w`, normal([t.features, D], Math.sqrt(1 / D)));
    add(`table.${t.name}.recon.b`, tf.zeros([t.features]));
  }

  for (const enc of encoderNames(config)) {
    for (let l = 0; l < config.layers; l++) {
      const p = `${enc}.${l}`;
      for (const a of expertNames(config, p, "attention")) {
        norm(`${a}.ln1`);
        linear(`${a}.q`, D, D);
        linear(`${a}.k`, D, D);
        linear(`${a}.v`, D, D);
        linear(`${a}.o`, D, D, 0.02);
      }
      for (const m of expertNames(config, p, "mlp")) {
        norm(`${m}.ln2`);
        linear(`${m}.fc1`, D, D * config.mlpRatio);
        linear(`${m}.fc2`, D * config.mlpRatio, D, 0.02);
      }
    }
    norm(`${enc}.lnf`);
  }
  linear("head.recon", D, g.patchDim, 0.02);
  linear("head.patch", D, 1, 0.02);
  linear("head.cls", D, 1, 0.02);
  return params;
}

function encoderNames(config: ModelConfig): string[] {
  return config.sharedEncoder ? ["enc"] : ["enc.image", "enc.table"];
}

/** Prefix of the parameters of the encoder a modality goes through (`enc`, or its own). */
export function encoderFor(config: ModelConfig, modality: number): string {
  return config.sharedEncoder ? "enc" : modality === IMAGE ? "enc.image" : "enc.table";
}

/** Prefixes of block `block`'s attention or MLP: the block's own, or one per modality. */
function expertNames(config: ModelConfig, block: string, half: "attention" | "mlp"): string[] {
  return hasExperts(config, half) ? [`${block}.image`, `${block}.table`] : [block];
}

function hasExperts(config: ModelConfig, half: "attention" | "mlp"): boolean {
  return config.sharedEncoder && config.modalityExperts === half;
}

/** Parameter prefixes of the two halves of an encoder block as one modality runs it. */
export interface BlockPrefixes {
  /** The attention and the layer norm before it (`ln1`, `q`, `k`, `v`, `o`). */
  attention: string;
  /** The MLP and the layer norm before it (`ln2`, `fc1`, `fc2`). */
  mlp: string;
}

/**
 * The prefixes block `block` (e.g. `enc.0`) runs a modality's tokens with: the block's own, or
 * the modality's expert for the half that `modalityExperts` makes one per modality.
 */
export function blockPrefixes(config: ModelConfig, block: string, modality: number): BlockPrefixes {
  const own = `${block}.${modality === IMAGE ? "image" : "table"}`;
  return {
    attention: hasExperts(config, "attention") ? own : block,
    mlp: hasExperts(config, "mlp") ? own : block,
  };
}

/**
 * The parameter `name`.
 *
 * @throws {Error} when the model has none of that name.
 */
export function param(params: Params, name: string): tf.Variable {
  return p(params, name);
}

function p(params: Params, name: string): tf.Variable {
  const v = params.get(name);
  if (!v) throw new Error(`missing parameter ${name}`);
  return v;
}

/** x @ W + b on the last axis, flattened to 2-D so it stays on the fast matmul path. */
function dense(params: Params, name: string, x: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const inDim = shape[shape.length - 1];
  const w = p(params, `${name}.w`) as tf.Tensor2D;
  const y = matMul2d(x.reshape([-1, inDim]) as tf.Tensor2D, w).add(p(params, `${name}.b`));
  return y.reshape([...shape.slice(0, -1), w.shape[1]]);
}

function layerNorm(params: Params, name: string, x: tf.Tensor): tf.Tensor {
  return fastLayerNorm(x, p(params, `${name}.g`), p(params, `${name}.b`));
}

function gelu(x: tf.Tensor): tf.Tensor {
  return fastGelu(x);
}

/**
 * Splits [B, H, W, C] into non-overlapping f x f cells: [B, H/f, W/f, f*f*C].
 * Two 4-D reshapes and one 4-D transpose (what the wasm backend handles fast).
 */
export function patchify(x: tf.Tensor4D, f: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const rows = x.reshape([B * (H / f), f, W / f, f * C]);
  return rows.transpose([0, 2, 1, 3]).reshape([B, H / f, W / f, f * f * C]) as tf.Tensor4D;
}

/** Inverse of patchify: [B, h, w, f*f*C] back to [B, h*f, w*f, C]. */
export function unpatchify(x: tf.Tensor4D, f: number, channels: number): tf.Tensor4D {
  const [B, h, w] = x.shape;
  return x.reshape([B * h, w, f, f * channels]).transpose([0, 2, 1, 3])
    .reshape([B, h * f, w * f, channels]) as tf.Tensor4D;
}

/** Standardises pixels in [0, 1] to roughly zero mean, unit variance. */
export function normalisePixels(images: tf.Tensor4D): tf.Tensor4D {
  return images.sub(0.45).div(0.25);
}

/**
 * What the stem sees: each image standardised on its own (per channel, floored spread) when
 * `stemStandardise` is on, so a change of exposure between normal images is not a feature; else
 * one fixed shift and scale for every image.
 */
export function stemInput(config: ModelConfig, images: tf.Tensor4D): tf.Tensor4D {
  let x = normalisePixels(images);
  if (config.stemStandardise) {
    const { mean, variance } = tf.moments(images, [1, 2], true);
    x = images.sub(mean).div(variance.sqrt().add(0.01)) as tf.Tensor4D;
  }
  if (!config.stemContrast) return x;
  // Each token patch's own pattern, its brightness and contrast taken out: fine texture (a zipper's
  // teeth) that the image-wide scale leaves faint.
  const patch = geometry(config).patch;
  const [B, H, W] = images.shape;
  const cells = patchify(images, patch).reshape([B, H / patch, W / patch, patch * patch, 3]);
  const centred = cells.sub(cells.mean(3, true));
  const std = centred.square().mean([3, 4], true).sqrt();
  const local = centred.div(std.add(STEM_CONTRAST_FLOOR)).reshape([B, H / patch, W / patch, -1]);
  return tf.concat([x, unpatchify(local as tf.Tensor4D, patch, 3)], 3) as tf.Tensor4D;
}

/** Floor on a patch's pixel spread in the stem's contrast channels (flat patches stay flat). */
const STEM_CONTRAST_FLOOR = 0.05;

/** Channels the stem reads: RGB, plus RGB contrast-normalised per token patch (`stemContrast`). */
export function stemInputChannels(config: Pick<ModelConfig, "stemContrast">): number {
  return config.stemContrast ? 6 : 3;
}

/** Output of the image stem: tokens plus the intermediate feature maps. */
export interface StemOutput {
  /** [B, T, D] patch tokens. */
  tokens: tf.Tensor3D;
  /** Feature maps after each stage but the last, [B, h, w, C]. */
  stages: tf.Tensor4D[];
}

/**
 * The first `count` intermediate stem stages [B, h, w, C] (after GELU) alone, for features that
 * read no further: the same values as {@linkcode imageStem}'s `stages`, without the rest.
 */
export function stemStages(
  params: Params,
  config: ModelConfig,
  images: tf.Tensor4D,
  count: number,
): tf.Tensor4D[] {
  let x = stemInput(config, images);
  const stages: tf.Tensor4D[] = [];
  for (let i = 0; i < Math.min(count, config.stem.length - 1); i++) {
    x = gelu(dense(params, `stem.${i}`, patchify(x, config.stem[i]))) as tf.Tensor4D;
    stages.push(x);
  }
  return stages;
}

/** The convolutional stem: images [B, S, S, 3] in [0, 1] to tokens. */
export function imageStem(params: Params, config: ModelConfig, images: tf.Tensor4D): StemOutput {
  const last = config.stem.length - 1;
  const stages = stemStages(params, config, images, last);
  const input = stages.at(-1) ?? stemInput(config, images);
  const x = dense(params, `stem.${last}`, patchify(input, config.stem[last])) as tf.Tensor4D;
  const [B, h, w, D] = x.shape;
  return { tokens: x.reshape([B, h * w, D]), stages };
}

/** How a table's features become tokens: `size` neighbouring features a token, `tokens` a row. */
export interface TableGroups {
  size: number;
  tokens: number;
}

/**
 * The tokens of a table of `d` features: one a feature up to `tableMaxTokens` (size 1), else
 * the fewest features a token that keep a row within it, features 0..size-1 in token 0 and so on
 * (the last token may hold fewer).
 */
export function tableGroups(config: Pick<ModelConfig, "tableMaxTokens">, d: number): TableGroups {
  const max = config.tableMaxTokens;
  const size = max > 0 && d > max ? Math.ceil(d / max) : 1;
  return { size, tokens: Math.ceil(d / size) };
}

/** [B, d, X] feature-wise values to [B, tokens, X], reduced over each token's features. */
function perToken(
  values: tf.Tensor3D,
  groups: TableGroups,
  reduce: "sum" | "max",
): tf.Tensor3D {
  const [B, d, X] = values.shape;
  const padded = groups.size * groups.tokens === d
    ? values
    : values.pad([[0, 0], [0, groups.size * groups.tokens - d], [0, 0]]);
  const grouped = padded.reshape([B, groups.tokens, groups.size, X]);
  return (reduce === "sum" ? grouped.sum(2) : grouped.max(2)) as tf.Tensor3D;
}

/** Table rows [B, d] (normalised) to feature tokens [B, d, D]. */
export function tableTokens(params: Params, table: string, rows: tf.Tensor2D): tf.Tensor3D {
  const value = p(params, `table.${table}.value`);
  const bias = p(params, `table.${table}.bias`);
  return rows.expandDims(2).mul(value.expandDims(0)).add(bias.expandDims(0)) as tf.Tensor3D;
}

/** Self-attention of `x`; with `queries` (some rows of x), the output for those rows only. */
function attention(
  params: Params,
  name: string,
  x: tf.Tensor3D,
  heads: number,
  queries: tf.Tensor3D = x,
): tf.Tensor3D {
  const q = dense(params, `${name}.q`, queries) as tf.Tensor3D;
  const k = dense(params, `${name}.k`, x) as tf.Tensor3D;
  const v = dense(params, `${name}.v`, x) as tf.Tensor3D;
  // The 1/sqrt(head width) scale is applied inside the fast op.
  return dense(params, `${name}.o`, fastAttention(q, k, v, heads)) as tf.Tensor3D;
}

/**
 * One pre-norm encoder block (`name`, e.g. `enc.0`) on the residual stream `h` [B, N, D]. With
 * `rows`, only those rows of its output are computed ([B, rows, D]): every row is still
 * attended to, but the queries, the MLP and the residual adds run for those alone. `prefixes`
 * name the halves' parameters (see {@linkcode blockPrefixes}); by default the block's own.
 */
export function encoderBlock(
  params: Params,
  name: string,
  h: tf.Tensor3D,
  heads: number,
  rows?: number[],
  prefixes: BlockPrefixes = { attention: name, mlp: name },
): tf.Tensor3D {
  const att = prefixes.attention;
  const normed = layerNorm(params, `${att}.ln1`, h) as tf.Tensor3D;
  let out: tf.Tensor3D;
  if (rows) {
    const queries = tokenRows(normed, rows);
    out = tokenRows(h, rows).add(attention(params, att, normed, heads, queries));
  } else out = h.add(attention(params, att, normed, heads));
  return blockMlp(params, prefixes.mlp, out);
}

/**
 * Rows `rows` of the token axis of [B, N, D]: a slice when they follow one another (a table's
 * feature tokens), else a gather (tfjs-wasm's gather copies one value at a time, several times
 * slower than a slice).
 */
function tokenRows(x: tf.Tensor3D, rows: number[]): tf.Tensor3D {
  const [B, , D] = x.shape;
  const contiguous = rows.length > 0 && rows.every((r, i) => r === rows[0] + i);
  return contiguous
    ? x.slice([0, rows[0], 0], [B, rows.length, D])
    : tf.gather(x, rows, 1) as tf.Tensor3D;
}

/** The second half of block `name`: `h` plus its MLP of the normalised `h` (any shape [..., D]). */
export function blockMlp<T extends tf.Tensor>(params: Params, name: string, h: T): T {
  const mlp = dense(
    params,
    `${name}.fc2`,
    gelu(dense(params, `${name}.fc1`, layerNorm(params, `${name}.ln2`, h))),
  );
  return h.add(mlp);
}

/**
 * The pre-norm encoder: [B, N, D] to [B, N, D], final layer norm applied. With `tapAfter`, also
 * the tokens after that many layers (final layer norm applied too); `layers` or more gives the
 * output itself. With `rows`, only those rows of the output are computed ([B, rows, D]): every
 * row is still attended to, but the last layer's queries, MLP and norm run for those alone.
 * `residuals` holds the residual stream after each block (before any final norm), the last one
 * being `residual`: the pass keeps them anyway, so they cost nothing.
 */
export function encode(
  params: Params,
  config: ModelConfig,
  modality: number,
  x: tf.Tensor3D,
  tapAfter?: number,
  rows?: number[],
): {
  out: tf.Tensor3D;
  tap: tf.Tensor3D | null;
  residual: tf.Tensor3D;
  residuals: tf.Tensor3D[];
} {
  const enc = encoderFor(config, modality);
  let h = x;
  let tap: tf.Tensor3D | null = null;
  const residuals: tf.Tensor3D[] = [];
  for (let l = 0; l < config.layers; l++) {
    if (tapAfter === l) tap = layerNorm(params, `${enc}.lnf`, h) as tf.Tensor3D;
    h = encoderBlock(
      params,
      `${enc}.${l}`,
      h,
      config.heads,
      l === config.layers - 1 ? rows : undefined,
      blockPrefixes(config, `${enc}.${l}`, modality),
    );
    residuals.push(h);
  }
  const out = layerNorm(params, `${enc}.lnf`, h) as tf.Tensor3D;
  return {
    out,
    tap: tapAfter !== undefined && tapAfter >= config.layers ? out : tap,
    residual: h,
    residuals,
  };
}

/** Adds embeddings, replaces masked tokens, prepends CLS, and runs the encoder. */
function embedAndEncode(
  params: Params,
  config: ModelConfig,
  input: EncoderInput,
  tapAfter?: number,
): EncodedSequence {
  const [B, N, D] = input.tokens.shape;
  const sequence = embedSequence(params, config, input);
  const { out: h, tap, residuals } = encode(params, config, input.modality, sequence, tapAfter);
  return {
    cls: h.slice([0, 0, 0], [B, 1, D]).reshape([B, D]),
    tokens: h.slice([0, 1, 0], [B, N, D]),
    tapped: tap ? tap.slice([0, 1, 0], [B, N, D]) : null,
    // Sliced only when read: training never asks, so its steps make no extra copy.
    residual: (blocks = config.layers) =>
      residuals[Math.min(blocks, config.layers) - 1].slice([0, 1, 0], [B, N, D]),
  };
}

/** What the encoder makes of one modality's tokens (CLS split off). */
interface EncodedSequence {
  cls: tf.Tensor2D;
  /** [B, N, D] the output tokens, final layer norm applied. */
  tokens: tf.Tensor3D;
  /** [B, N, D] the tokens after `tapAfter` layers, when asked. */
  tapped: tf.Tensor3D | null;
  /**
   * [B, N, D] the residual stream after the last block (or after `blocks` blocks), before the
   * final layer norm: each token's own magnitude kept, which the norm would scale away. Made
   * when called.
   */
  residual: (blocks?: number) => tf.Tensor3D;
}

/** Tokens of one modality before the encoder, with what their embeddings need. */
interface EncoderInput {
  modality: number;
  /** [B, N, D] */
  tokens: tf.Tensor3D;
  /** [N, D] position (image) or feature-identity (table) embeddings. */
  position: tf.Tensor2D | null;
  /** [B, N], 1 = hidden. */
  mask: tf.Tensor2D | null;
}

/** The encoder's input: embeddings added, masked tokens replaced, CLS first. [B, N + 1, D]. */
function embedSequence(
  params: Params,
  config: ModelConfig,
  { modality, tokens, position, mask }: EncoderInput,
): tf.Tensor3D {
  const [B, , D] = tokens.shape;
  let x: tf.Tensor = tokens;
  if (mask) {
    const m = mask.expandDims(2);
    x = x.mul(tf.scalar(1).sub(m)).add(m.mul(p(params, "embed.mask")));
  }
  if (config.positionEmbedding && position) x = x.add(position.expandDims(0));
  let cls: tf.Tensor = p(params, "embed.cls").reshape([1, 1, D]).tile([B, 1, 1]);
  if (config.modalityEmbedding) {
    const type = p(params, "embed.modality").slice([modality, 0], [1, D]).reshape([1, 1, D]);
    x = x.add(type);
    cls = cls.add(type);
  }
  return tf.concat([cls, x], 1) as tf.Tensor3D;
}

/** Everything the image forward pass produces. */
export interface ImageForward {
  /** [B, D] CLS features. */
  cls: tf.Tensor2D;
  /** [B, T, D] encoded patch tokens. */
  tokens: tf.Tensor3D;
  /** [B, T, D] stem tokens before the encoder. */
  stemTokens: tf.Tensor3D;
  /** Intermediate stem feature maps. */
  stages: tf.Tensor4D[];
  /** [B, T, patchDim] reconstructed normalised pixels. */
  reconstruction: tf.Tensor3D;
  /** [B, T] per-patch anomaly logits. */
  patchLogits: tf.Tensor2D;
  /** [B] per-image anomaly logits. */
  clsLogits: tf.Tensor1D;
}

/** Forward pass for a batch of images [B, S, S, 3] in [0, 1]; `mask` [B, T] has 1 = hidden. */
export function forwardImages(
  params: Params,
  config: ModelConfig,
  images: tf.Tensor4D,
  mask: tf.Tensor2D | null,
): ImageForward {
  const { knnTokens: _, ...encoded } = encodeImages(params, config, images, mask);
  return {
    ...encoded,
    reconstruction: dense(params, "head.recon", encoded.tokens) as tf.Tensor3D,
    ...imageAnomalyLogits(params, encoded.cls, encoded.tokens),
  };
}

/** The sigmoid head's logits for each image (from CLS) and each patch token. */
export function imageAnomalyLogits(
  params: Params,
  cls: tf.Tensor2D,
  tokens: tf.Tensor3D,
): Pick<ImageForward, "patchLogits" | "clsLogits"> {
  const [B, T] = tokens.shape;
  return {
    patchLogits: dense(params, "head.patch", tokens).reshape([B, T]),
    clsLogits: dense(params, "head.cls", cls).reshape([B]),
  };
}

/** What {@linkcode encodeImages} gives: the forward pass without its heads. */
export type EncodedImages = Pick<ImageForward, "cls" | "tokens" | "stemTokens" | "stages"> & {
  /** [B, T, D] the tokens after `tapAfter` encoder layers (the output when not asked). */
  knnTokens: tf.Tensor3D;
  /**
   * [B, T, D] the residual stream after the last block, or after `blocks` blocks (before the
   * final layer norm), on call.
   */
  residual: (blocks?: number) => tf.Tensor3D;
};

/**
 * The image forward pass without its heads: what scoring needs when some heads are unused.
 * `tapAfter` also returns the tokens after that many encoder layers, for the kNN head; training
 * does not ask, so its step computes nothing extra.
 */
export function encodeImages(
  params: Params,
  config: ModelConfig,
  images: tf.Tensor4D,
  mask: tf.Tensor2D | null,
  tapAfter?: number,
): EncodedImages {
  const stem = imageStem(params, config, images);
  const { cls, tokens, tapped, residual } = encodeStemTokens(
    params,
    config,
    stem.tokens,
    mask,
    tapAfter,
  );
  return {
    cls,
    tokens,
    residual,
    stemTokens: stem.tokens,
    knnTokens: tapped ?? tokens,
    stages: stem.stages,
  };
}

/** Image stem tokens through the embeddings and encoder, the tokens of `mask` hidden. */
function encodeStemTokens(
  params: Params,
  config: ModelConfig,
  stemTokens: tf.Tensor3D,
  mask: tf.Tensor2D | null,
  tapAfter?: number,
): EncodedSequence {
  const position = p(params, "embed.position") as tf.Tensor2D;
  return embedAndEncode(
    params,
    config,
    { modality: IMAGE, tokens: stemTokens, position, mask },
    tapAfter,
  );
}

/**
 * Reconstruction of image tokens [B, T, patchDim] from stem tokens already computed, with the
 * tokens of `mask` hidden: scoring runs the stem once per image and then each mask pattern.
 * With `positions`, only the tokens at those positions are reconstructed ([B, positions,
 * patchDim]): scoring reads the hidden ones only.
 */
export function reconstructImageTokens(
  params: Params,
  config: ModelConfig,
  stemTokens: tf.Tensor3D,
  mask: tf.Tensor2D,
  positions?: number[],
): tf.Tensor3D {
  if (!positions) {
    const { tokens } = encodeStemTokens(params, config, stemTokens, mask);
    return dense(params, "head.recon", tokens) as tf.Tensor3D;
  }
  const position = p(params, "embed.position") as tf.Tensor2D;
  const sequence = embedSequence(params, config, {
    modality: IMAGE,
    tokens: stemTokens,
    position,
    mask,
  });
  // Row 0 of the sequence is CLS.
  const rows = positions.map((t) => t + 1);
  const { out } = encode(params, config, IMAGE, sequence, undefined, rows);
  return dense(params, "head.recon", out) as tf.Tensor3D;
}

/** Everything the table forward pass produces. */
export interface TableForward {
  cls: tf.Tensor2D;
  tokens: tf.Tensor3D;
  /**
   * [B, tokens, D] the residual stream after the last block, or after `blocks` blocks (before
   * the final layer norm), on call; `tokens` is d up to `tableMaxTokens` (see `tableGroups`).
   */
  residual: (blocks?: number) => tf.Tensor3D;
  /** [B, d] reconstructed (normalised) feature values. */
  reconstruction: tf.Tensor2D;
  clsLogits: tf.Tensor1D;
}

/** Forward pass for normalised table rows [B, d]; `mask` [B, d] has 1 = hidden. */
export function forwardTable(
  params: Params,
  config: ModelConfig,
  table: string,
  rows: tf.Tensor2D,
  mask: tf.Tensor2D | null,
): TableForward {
  const [B, d] = rows.shape;
  const groups = tableGroups(config, d);
  const features = tableTokens(params, table, rows);
  // A token's features are hidden together (`tableMaskValues`): it is hidden if one of them is.
  const grouped = groups.size > 1;
  const { cls, tokens: h, residual } = embedAndEncode(params, config, {
    modality: TABLE,
    tokens: grouped ? perToken(features, groups, "sum") : features,
    position: p(params, `table.${table}.identity`) as tf.Tensor2D,
    mask: grouped && mask
      ? perToken(mask.expandDims(2) as tf.Tensor3D, groups, "max").reshape([B, groups.tokens])
      : mask,
  });
  // Each feature is predicted from the token that holds it (a broadcast, not a gather: the
  // wasm backend has no gradient for gathers).
  const holders = grouped
    ? h.expandDims(2).add(tf.zeros([1, 1, groups.size, 1]))
      .reshape([B, groups.tokens * groups.size, h.shape[2]]).slice([0, 0, 0], [B, d, h.shape[2]])
    : h;
  const reconstruction = holders.mul(p(params, `table.${table}.recon.w`).expandDims(0)).sum(2)
    .add(p(params, `table.${table}.recon.b`)) as tf.Tensor2D;
  return {
    cls,
    tokens: h,
    residual,
    reconstruction,
    clsLogits: dense(params, "head.cls", cls).reshape([B]),
  };
}

/**
 * Reconstruction targets for image tokens: each patch's pixels, standardised per patch
 * (MAE-style), so the error measures structure rather than brightness.
 */
export function patchTargets(config: ModelConfig, images: tf.Tensor4D): tf.Tensor3D {
  const g = geometry(config);
  const [B] = images.shape;
  const patches = patchify(images, g.patch).reshape([B, g.tokens, g.patchDim]);
  const { mean, variance } = tf.moments(patches, -1, true);
  return patches.sub(mean).div(tf.sqrt(variance.add(1e-4))) as tf.Tensor3D;
}

/**
 * Mask patterns that together hide every token exactly once: token i is hidden in pattern
 * (i * stride) mod k, spread so that hidden tokens are not neighbours.
 */
export function maskPatterns(count: number, tokens: number, grid: number): Float32Array[] {
  const patterns = Array.from({ length: count }, () => new Float32Array(tokens));
  for (let i = 0; i < tokens; i++) {
    const row = Math.floor(i / grid);
    const col = i % grid;
    const side = Math.max(1, Math.round(Math.sqrt(count)));
    const which = ((row % side) * side + (col % side)) % count;
    patterns[which][i] = 1;
  }
  return patterns;
}

/**
 * A random mask [batch * d] of table features hiding `ratio` of each row's tokens: the features of
 * a hidden token are hidden together (with one feature a token, `randomMaskValues` itself).
 */
export function tableMaskValues(
  rng: Rng,
  batch: number,
  d: number,
  ratio: number,
  groups: TableGroups,
): Float32Array {
  const tokens = randomMaskValues(rng, batch, groups.tokens, ratio);
  if (groups.size === 1) return tokens;
  return Float32Array.from(
    { length: batch * d },
    (_, i) => tokens[Math.floor(i / d) * groups.tokens + Math.floor((i % d) / groups.size)],
  );
}

/**
 * The mask a training batch of `batch` rows of `d` features gets: `tableMaskRatio` of each row's
 * tokens hidden (see {@linkcode tableMaskValues}), none without the reconstruction head.
 */
export function tableTrainingMask(
  rng: Rng,
  config: Pick<ModelConfig, "reconstructionHead" | "tableMaskRatio" | "tableMaxTokens">,
  batch: number,
  d: number,
): Float32Array {
  const ratio = config.reconstructionHead ? config.tableMaskRatio : 0;
  return tableMaskValues(rng, batch, d, ratio, tableGroups(config, d));
}

/** A random mask [batch * n] (row-major) hiding `ratio` of the positions in each row. */
export function randomMaskValues(rng: Rng, batch: number, n: number, ratio: number): Float32Array {
  const values = new Float32Array(batch * n);
  const hide = Math.round(ratio * n);
  for (let b = 0; b < batch; b++) {
    const order = rng.shuffle([...Array(n).keys()]);
    for (let i = 0; i < hide; i++) values[b * n + order[i]] = 1;
  }
  return values;
}

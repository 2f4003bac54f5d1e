/**
 * kNN evidence of the pixels themselves, patch by patch: raw (`pix`, the token patch, and
 * `pix<S>`), contrast-normalised (`con<S>`) and standardised per image (`std<S>`), each against a
 * coreset of normals' patches. Their banks depend on the data alone.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../config.ts";
import { geometry, patchify } from "../madformer.ts";
import { coresetBank, featureSlot, knnScore, pixelProjection } from "./common.ts";
import { KNN_SWITCH } from "./switches.ts";
import type { Component, EvidenceComponent, ImageBatch } from "./types.ts";

/** Raw-pixel patch sides the kNN head compares (0 = the token patch), without repeats. */
export function pixelPatches(config: ModelConfig): number[] {
  const patch = geometry(config).patch;
  const sides = config.knnPixelPatches.filter((s) => !(config.knnPixels && s === patch));
  return [...new Set([...(config.knnPixels ? [0] : []), ...sides])].sort((a, b) => a - b);
}

/** Contrast-normalised pixel patch sides the kNN head compares, without repeats. */
export function contrastPatches(config: ModelConfig): number[] {
  return [...new Set(config.knnContrastPatches)].sort((a, b) => a - b);
}

/** Image-standardised pixel patch sides the kNN head compares, without repeats. */
export function standardPatches(config: ModelConfig): number[] {
  return [...new Set(config.knnStandardPatches)].sort((a, b) => a - b);
}

/** Images [B, H, W, C] standardised per image and channel (floored spread). */
export function standardiseImages(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return x.sub(mean).div(variance.sqrt().add(0.01)) as tf.Tensor4D;
  });
}

/**
 * Floor on a patch's pixel standard deviation in contrast normalisation: below it (flat
 * patches, sensor noise) the pattern is not blown up to full length.
 */
export const CONTRAST_FLOOR = 0.05;

/**
 * Contrast-normalised patches [B, h, w, f*f*C] of patchified pixels: each channel's mean over
 * the patch removed, then divided by sqrt(f*f*C) * (std + CONTRAST_FLOOR), so a patch with any
 * real texture has a length near one whatever its brightness and contrast.
 */
export function contrastNormalise(patches: tf.Tensor4D, channels: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, h, w, D] = patches.shape;
    const pixels = patches.reshape([B, h, w, D / channels, channels]);
    const centred = pixels.sub(pixels.mean(3, true)).reshape([B, h, w, D]);
    const std = centred.square().mean(3, true).sqrt();
    return centred.div(std.add(CONTRAST_FLOOR).mul(Math.sqrt(D))) as tf.Tensor4D;
  });
}

/** One way of looking at pixel patches: its name prefix, sides and transform. */
interface PixelView {
  prefix: "pix" | "con" | "std";
  family: string;
  /** How its patches are seen, for the component's meaning (e.g. "raw"). */
  kind: string;
  /** Patch sides for a config (0: the token patch). */
  sides(config: ModelConfig): number[];
  /** The patches [B, h, w, side*side*3] of a batch. */
  patches(batch: ImageBatch, side: number): tf.Tensor4D;
}

function nameOf(prefix: string, side: number): Component {
  return side === 0 ? prefix : `${prefix}${side}`;
}

function pixelView(view: PixelView): EvidenceComponent {
  const names = (config: ModelConfig) => view.sides(config).map((s) => nameOf(view.prefix, s));
  return {
    family: view.family,
    modalities: ["image"],
    switch: KNN_SWITCH,
    trained: false,
    names,
    owns: (name) =>
      new RegExp(`^${view.prefix}${view.prefix === "pix" ? "\\d*" : "\\d+"}$`).test(name),
    meaning: (name) => {
      const side = name.slice(view.prefix.length);
      const patches = side === "" ? "token patches" : `${side} px pixel patches`;
      return `distance of ${view.kind} ${patches} to the nearest normal ones`;
    },
    fit: "coreset",
    dataOnly: true,
    fitBank: (features, settings) =>
      coresetBank(features, settings, pixelProjection(features, settings)),
    score: (bank, features, config, leaveOut) => knnScore(bank, features, config, leaveOut),
    stored: "bank",
    bankDim: (config, name) =>
      name === "pix" ? geometry(config).patchDim : 3 * Number(name.slice(3)) ** 2,
    images: ({ config, n, options }) => {
      const patch = geometry(config).patch;
      const sets = view.sides(config).map((s) => [nameOf(view.prefix, s), s || patch] as const)
        .filter(([name]) => !options.skip?.has(name));
      if (sets.length === 0) return null;
      return {
        batch: (batch, evidence) => {
          for (const [name, side] of sets) {
            const pixels = view.patches(batch, side);
            const grid = config.imageSize / side;
            const dim = 3 * side * side;
            featureSlot(evidence.features, name, n, dim, grid).data
              .set(pixels.dataSync(), batch.start * grid * grid * dim);
          }
        },
      };
    },
  };
}

/** `pix` and `pix<S>`: raw pixel patches. */
export const rawPixels: EvidenceComponent = pixelView({
  prefix: "pix",
  family: "raw pixels",
  kind: "raw",
  sides: pixelPatches,
  patches: ({ x }, side) => patchify(x, side),
});

/** `con<S>`: contrast-normalised pixel patches. */
export const contrastPixels: EvidenceComponent = pixelView({
  prefix: "con",
  family: "contrast-normalised pixels",
  kind: "contrast-normalised",
  sides: contrastPatches,
  patches: ({ x }, side) => contrastNormalise(patchify(x, side), 3),
});

/** `std<S>`: pixel patches of images standardised per channel. */
export const standardPixels: EvidenceComponent = pixelView({
  prefix: "std",
  family: "standardised pixels",
  kind: "per-image standardised",
  sides: standardPatches,
  patches: (batch, side) =>
    patchify(batch.shared("standardised", () => standardiseImages(batch.x)), side),
});

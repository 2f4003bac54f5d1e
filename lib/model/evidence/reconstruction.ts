/**
 * Masked-reconstruction evidence (`recon`): each image token, or each table feature, is hidden
 * in exactly one of a few masks and its reconstruction error there is its evidence. A trained
 * head: nothing is fitted on normals and the weights are the model's.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  forwardTable,
  geometry,
  maskPatterns,
  patchTargets,
  reconstructImageTokens,
  tableGroups,
} from "../madformer.ts";
import { RECONSTRUCTION_SWITCH } from "./switches.ts";
import type { EvidenceComponent } from "./types.ts";

/** `recon`: per-token (images) or per-row (tables) masked-reconstruction error. */
export const reconstruction: EvidenceComponent = {
  family: "reconstruction",
  modalities: ["image", "table"],
  switch: RECONSTRUCTION_SWITCH,
  trained: true,
  names: () => ["recon"],
  owns: (name) => name === "recon",
  meaning: () => "the Transformer's masked reconstruction error",
  fit: "none",
  dataOnly: false,
  stored: "nothing",
  images: ({ params, config, n, options, heads }) => {
    if (!heads || options.skip?.has("recon") === true) return null;
    const g = geometry(config);
    const patterns = maskPatterns(
      Math.max(1, Math.round(1 / Math.max(config.maskRatio, 0.05))),
      g.tokens,
      g.grid,
    );
    const recon = new Float32Array(n * g.tokens);
    return {
      // The masked passes run their own encoder; they read the plain pass's stem tokens.
      encoder: "tap",
      batch: ({ x, B, start, plain }) => {
        const target = patchTargets(config, x);
        // Each token is hidden in exactly one pattern; its error there is its reconstruction error.
        for (const pattern of patterns) {
          const hidden = [...pattern.keys()].filter((i) => pattern[i] === 1);
          if (hidden.length === 0) continue;
          const mask = tf.tensor2d(pattern, [1, g.tokens]).tile([B, 1]) as tf.Tensor2D;
          const reconstruction = reconstructImageTokens(
            params,
            config,
            plain!.stemTokens,
            mask,
            hidden,
          );
          const error = reconstruction.sub(tf.gather(target, hidden, 1)).square().mean(2)
            .dataSync();
          for (let b = 0; b < B; b++) {
            hidden.forEach((token, h) => {
              recon[(start + b) * g.tokens + token] = error[b * hidden.length + h];
            });
          }
        }
      },
      finish: (evidence) => {
        if (patterns.length > 0) evidence.tokens.recon = { grid: g.grid, values: recon };
      },
    };
  },
  tables: ({ params, config, n, options, heads, table }) => {
    if (!heads || options.skip?.has("recon") === true) return null;
    const d = table!.d;
    // Token k is hidden in pattern k mod `groups`, with every feature it holds.
    const { size, tokens } = tableGroups(config, d);
    const groups = Math.max(1, Math.round(1 / Math.max(config.tableMaskRatio, 1 / tokens)));
    const recon = new Float32Array(n);
    return {
      passes: groups,
      batch: ({ table, x, B, start }) => {
        let error = tf.zeros([B]);
        for (let gi = 0; gi < groups; gi++) {
          const pattern = new Float32Array(d).map((_, j) =>
            Math.floor(j / size) % groups === gi ? 1 : 0
          );
          const mask = tf.tensor2d(pattern, [1, d]).tile([B, 1]) as tf.Tensor2D;
          const out = forwardTable(params, config, table, x, mask);
          error = error.add(out.reconstruction.sub(x).square().mul(mask).sum(1));
        }
        recon.set(error.dataSync(), start);
      },
      finish: (evidence) => {
        evidence.sample.recon = recon;
      },
    };
  },
};

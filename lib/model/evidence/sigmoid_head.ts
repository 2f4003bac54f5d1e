/**
 * The sigmoid anomaly head's evidence, trained against synthetic anomalies: per-token logits
 * (`patch`, images) and the class token's logit (`cls`). A trained head: nothing is fitted on
 * normals and the weights are the model's.
 *
 * @module
 */
import { geometry, imageAnomalyLogits } from "../madformer.ts";
import { ANOMALY_HEAD_SWITCH } from "./switches.ts";
import type { EvidenceComponent } from "./types.ts";

/** `patch` (images) and `cls`: the sigmoid head's logits. */
export const sigmoidHead: EvidenceComponent = {
  family: "sigmoid head",
  modalities: ["image", "table"],
  switch: ANOMALY_HEAD_SWITCH,
  trained: true,
  names: (_config, modality) => (modality === "image" ? ["patch", "cls"] : ["cls"]),
  owns: (name) => name === "patch" || name === "cls",
  meaning: (name) =>
    name === "patch"
      ? "the Transformer's anomaly head on each patch"
      : "the Transformer's anomaly head on the whole sample",
  fit: "none",
  dataOnly: false,
  stored: "nothing",
  images: ({ params, config, n, options, heads }) => {
    // The head's two readings cost little; only when validation dropped both is it skipped.
    if (!heads || (options.skip?.has("patch") === true && options.skip?.has("cls") === true)) {
      return null;
    }
    const g = geometry(config);
    const patch = new Float32Array(n * g.tokens);
    const cls = new Float32Array(n);
    return {
      // The head reads the encoder's output.
      encoder: "full",
      batch: ({ start, plain }) => {
        const logits = imageAnomalyLogits(params, plain!.cls, plain!.tokens);
        patch.set(logits.patchLogits.dataSync(), start * g.tokens);
        cls.set(logits.clsLogits.dataSync(), start);
      },
      finish: (evidence) => {
        evidence.tokens.patch = { grid: g.grid, values: patch };
        evidence.sample.cls = cls;
      },
    };
  },
  tables: ({ n, heads }) => {
    if (!heads) return null;
    const cls = new Float32Array(n);
    return {
      // The head reads the class token's logit of the plain pass (shared with `enc`).
      encoder: "full",
      batch: ({ start, plain }) => {
        cls.set(plain!.clsLogits!.dataSync(), start);
      },
      finish: (evidence) => {
        evidence.sample.cls = cls;
      },
    };
  },
};

/**
 * The registry of evidence components, in scoring order, and what is read from it: which
 * components a config turns on, which one owns a name, the config switches, and whether the
 * trained heads' evidence counts. Config validation, evidence, scoring, calibration,
 * checkpoints, `eval`'s evidence report and the ablation grid all go through it.
 *
 * Adding a component: one file implementing {@linkcode EvidenceComponent} and one line below.
 *
 * @module
 */
import type { ModelConfig } from "../config.ts";
import type { Component, EvidenceComponent, EvidenceSwitch, Modality } from "./types.ts";
import { reconstruction } from "./reconstruction.ts";
import { stemKnn } from "./stem_knn.ts";
import { contrastPixels, rawPixels, standardPixels } from "./pixel_views.ts";
import { tableKnn } from "./table_knn.ts";
import { density } from "./density.ts";
import { isolation } from "./isolation.ts";
import { sigmoidHead } from "./sigmoid_head.ts";
import { ENCODER_SWITCH, encoderEvidence } from "./encoder.ts";
import { encoderDensityEvidence } from "./encoder_density.ts";

/** Every evidence component, in the order their names appear in scores and reports. */
export const EVIDENCE_COMPONENTS: readonly EvidenceComponent[] = [
  reconstruction,
  stemKnn,
  rawPixels,
  contrastPixels,
  standardPixels,
  tableKnn,
  density,
  isolation,
  encoderEvidence,
  encoderDensityEvidence,
  sigmoidHead,
];

/** The config switches of the registry's components, each once, in registry order. */
export function evidenceSwitches(
  registry: readonly EvidenceComponent[] = EVIDENCE_COMPONENTS,
): EvidenceSwitch[] {
  const out: EvidenceSwitch[] = [];
  for (const c of registry) {
    if (!out.some((s) => s.key === c.switch.key)) out.push(c.switch);
  }
  return out;
}

/** Whether a component's switch is on. */
export function switchedOn(c: EvidenceComponent, config: ModelConfig): boolean {
  return config[c.switch.key] === true;
}

/**
 * Whether the trained heads' evidence counts in a modality's scores: when asked
 * (`imageHeadEvidence`, `tableHeadEvidence`), and always when no untrained evidence of the
 * modality is switched on, which would leave it nothing else.
 */
export function headsCount(config: ModelConfig, modality: Modality): boolean {
  const asked = modality === "image" ? config.imageHeadEvidence : config.tableHeadEvidence;
  return asked ||
    !EVIDENCE_COMPONENTS.some((c) =>
      !c.trained && c.modalities.includes(modality) && switchedOn(c, config) &&
      c.names(config, modality).length > 0
    );
}

/**
 * Whether a component gives evidence for a modality under a config: it serves the modality, its
 * switch is on and, for a trained head, the heads' evidence counts ({@linkcode headsCount}).
 */
export function enabled(c: EvidenceComponent, config: ModelConfig, modality: Modality): boolean {
  return c.modalities.includes(modality) && switchedOn(c, config) &&
    (!c.trained || headsCount(config, modality));
}

/** The components a config turns on for a modality, in registry order. */
export function activeComponents(config: ModelConfig, modality: Modality): Component[] {
  return EVIDENCE_COMPONENTS.filter((c) => enabled(c, config, modality))
    .flatMap((c) => c.names(config, modality));
}

/** The component that owns a name, if any. */
export function componentOf(name: Component): EvidenceComponent | undefined {
  return EVIDENCE_COMPONENTS.find((c) => c.owns(name));
}

/**
 * The component that owns a name.
 *
 * @throws {Error} when none does.
 */
export function requireComponent(name: Component): EvidenceComponent {
  const c = componentOf(name);
  if (!c) throw new Error(`no evidence component is named ${name}`);
  return c;
}

/**
 * Whether a component is the Transformer's own evidence: read from the encoder's output (`enc`,
 * `enc_kde`), switched with `encoderEvidence`, and what the `encoder_only` ablation scores with.
 */
export function isTransformerEvidence(name: Component): boolean {
  return componentOf(name)?.switch.key === ENCODER_SWITCH.key;
}

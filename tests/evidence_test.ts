import assert from "node:assert/strict";
import { useBackend } from "../lib/backend/mod.ts";
import {
  DEFAULT_CONFIG,
  EVIDENCE_SWITCHES,
  mergeConfig,
  type ModelConfig,
} from "../lib/model/config.ts";
import {
  activeComponents,
  componentOf,
  EVIDENCE_COMPONENTS,
  type EvidenceComponent,
  evidenceSwitches,
  headsCount,
} from "../lib/model/evidence/mod.ts";
import {
  banksFromEvidence,
  concatArrays,
  evidenceBatch,
  imageEvidence,
  knnDim,
  tableEvidence,
} from "../lib/model/detector.ts";
import { encodeImages, initParams } from "../lib/model/madformer.ts";
import * as tf from "@tensorflow/tfjs";
import { evidenceVariants } from "../lib/experiment/ablation.ts";
import { MadError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { SMALL_MODEL } from "./fixtures.ts";
import { IMAGE_SCORE_CHUNK } from "../lib/model/scorer.ts";

await useBackend("wasm");

const small = mergeConfig(DEFAULT_CONFIG, { model: SMALL_MODEL }).model;

// Configs that turn on every kind of image view.
const CONFIGS: ModelConfig[] = [
  DEFAULT_CONFIG.model,
  small,
  { ...small, knnPixels: true, knnLevels: [0, 1, 2], imageHeadEvidence: true },
  { ...small, tableHeadEvidence: true, knnPixelPatches: [2, 8] },
];

Deno.test("evidence registry: every active name is owned by exactly one component", () => {
  for (const config of CONFIGS) {
    for (const modality of ["image", "table"] as const) {
      const names = activeComponents(config, modality);
      assert.equal(new Set(names).size, names.length, `${modality}: ${names}`);
      for (const name of names) {
        const owners = EVIDENCE_COMPONENTS.filter((c) => c.owns(name));
        assert.equal(owners.length, 1, `${name}: ${owners.map((c) => c.family)}`);
        assert.ok(owners[0].modalities.includes(modality), name);
      }
    }
  }
  assert.equal(componentOf("nope"), undefined);
});

Deno.test("evidence registry: fitting, scoring and storage agree for every component", () => {
  for (const c of EVIDENCE_COMPONENTS) {
    const banked = c.fit !== "none";
    assert.equal(c.stored === "bank", banked, c.family);
    for (const hook of [c.fitBank, c.score, c.bankDim]) assert.equal(hook !== undefined, banked);
    // Trained heads are fitted by training, untrained evidence on normals.
    assert.equal(c.trained, !banked, c.family);
    if (c.dataOnly) assert.equal(c.fit, "coreset", c.family);
    for (const modality of c.modalities) {
      assert.ok(modality === "image" ? c.images : c.tables, `${c.family} computes ${modality}`);
    }
  }
  // One switch per kind of evidence, the variant names unique; config.ts checks that one of them
  // is on from its own list, which must be the registry's, in registry order.
  const switches = evidenceSwitches();
  assert.deepEqual(switches.map((s) => s.key), [...EVIDENCE_SWITCHES]);
  const variants = switches.flatMap((s) => [s.only.name, ...(s.without ? [s.without.name] : [])]);
  assert.equal(new Set(variants).size, variants.length);
});

Deno.test("evidence registry: the trained heads count when asked or when nothing else is on", () => {
  assert.equal(headsCount(small, "image"), false);
  assert.equal(headsCount({ ...small, imageHeadEvidence: true }, "image"), true);
  // The encoder evidence is untrained evidence too: without it and the kNN views, the heads count.
  assert.equal(headsCount({ ...small, knnHead: false }, "image"), false);
  assert.equal(headsCount({ ...small, knnHead: false, encoderEvidence: false }, "image"), true);
  // A table keeps its density and isolation evidence without the kNN head.
  assert.equal(headsCount({ ...small, knnHead: false }, "table"), false);
  assert.equal(
    headsCount({
      ...small,
      knnHead: false,
      densityHead: false,
      isolationHead: false,
      encoderEvidence: false,
    }, "table"),
    true,
  );
});

Deno.test("evidence registry: config validation needs one evidence switch on", () => {
  const off = Object.fromEntries(evidenceSwitches().map((s) => [s.key, false]));
  assert.throws(() => mergeConfig(DEFAULT_CONFIG, { model: off }), (e: unknown) => {
    assert.ok(e instanceof MadError);
    assert.match(e.message, /every head is turned off/);
    return true;
  });
  for (const s of evidenceSwitches()) {
    mergeConfig(DEFAULT_CONFIG, { model: { ...off, [s.key]: true } });
  }
});

Deno.test("evidence registry: table features have the width their stored banks are checked for", () => {
  const params = initParams(small, [{ name: "t", features: 3 }], 0);
  const rng = new Rng(1);
  const rows = Float32Array.from({ length: 5 * 3 }, () => rng.next());
  const evidence = tableEvidence(params, small, "t", rows, 3);
  assert.deepEqual(Object.keys(evidence.features), ["knn", "dens", "iso", "enc", "enc_kde"]);
  for (const [name, f] of Object.entries(evidence.features)) {
    assert.equal(knnDim(small, name, 3), f.dim, name);
  }
  // The encoder evidence of a row: its d feature tokens after the encoder; none when left out.
  assert.equal(evidence.features.enc.dim, 3 * small.width);
  const without = { ...small, tableEncoderEvidence: false };
  assert.deepEqual(Object.keys(tableEvidence(params, without, "t", rows, 3).features), [
    "knn",
    "dens",
    "iso",
  ]);
  // Both readings of the encoder's tokens read one array of them, filled by one writer; either
  // alone still gets them when the other is left out of the score.
  assert.equal(evidence.features.enc.data, evidence.features.enc_kde.data);
  for (const left of ["enc", "enc_kde"]) {
    const one = tableEvidence(params, small, "t", rows, 3, { skip: new Set([left]) });
    const kept = left === "enc" ? "enc_kde" : "enc";
    assert.deepEqual(one.features[kept].data, evidence.features.enc.data);
    assert.equal(one.features[left], undefined);
  }
  // Density and isolation read one copy of the rows (so they share one sampled bank).
  assert.equal(evidence.features.dens.data, evidence.features.iso.data);
  assert.notEqual(evidence.features.dens.data, rows);
});

Deno.test("evidence banks: the two readings of a table's tokens share one set of directions", () => {
  const params = initParams(small, [{ name: "t", features: 3 }], 0);
  const rng = new Rng(2);
  const rows = Float32Array.from({ length: 40 * 3 }, () => rng.normal());
  const evidence = tableEvidence(params, small, "t", rows, 3, { featuresOnly: true });
  const banks = banksFromEvidence(evidence, { limit: 20, seed: 0, projection: 4 });
  // `enc` keeps a coreset of 20 rows, `enc_kde` a random sample, both in the same directions.
  assert.equal(banks.enc.rows, 20);
  assert.equal(banks.enc_kde.rows, 20);
  assert.equal(banks.enc_kde.projection!.basis, banks.enc.projection!.basis);
  assert.notDeepEqual(banks.enc_kde.sources, banks.enc.sources);
});

Deno.test("evidence registry: a new component with its own switch joins the ablation grid", () => {
  // What a new file would export; its registry line adds it to EVIDENCE_COMPONENTS.
  const extra: EvidenceComponent = {
    family: "example",
    modalities: ["table"],
    switch: {
      key: "tableLogSkewed", // stands in for the new component's own config switch
      only: { name: "example_only", description: "the example evidence alone" },
    },
    trained: false,
    names: () => ["example"],
    owns: (name) => name === "example",
    fit: "none",
    dataOnly: false,
    stored: "nothing",
    tables: () => null,
  };
  const registry = [...EVIDENCE_COMPONENTS, extra];
  const only = evidenceVariants("only", registry);
  const example = only.find((v) => v.name === "example_only")!;
  assert.equal(example.data, "table");
  // (Config validation reads the real registry, which does not hold the example.)
  const model = example.overrides.model!;
  assert.equal(model.tableLogSkewed, true);
  assert.ok(evidenceSwitches().every((s) => model[s.key] === false));
  // Every other *_only variant switches the new evidence off; no no_* variant is made for it.
  for (const v of only.filter((v) => v !== example)) {
    assert.equal(v.overrides.model!.tableLogSkewed, false, v.name);
  }
  assert.ok(!evidenceVariants("without", registry).some((v) => v.name.includes("example")));
});

Deno.test("evidence registry: image enc reads each cell's residual stream after imageEncoderBlocks blocks", () => {
  const config = { ...small, layers: 2, imageEncoderBlocks: 1 };
  const params = initParams(config, [], 0);
  const rng = new Rng(2);
  const S = config.imageSize;
  const images = [0, 1].map(() => Float32Array.from({ length: S * S * 3 }, () => rng.next()));
  const enc = (c: typeof config) => imageEvidence(params, c, images).features.enc.data;
  const x = tf.tensor4d(concatArrays(images), [2, S, S, 3]);
  const plain = encodeImages(params, config, x, null);
  for (const [blocks, want] of [[1, plain.residual(1)], [0, plain.residual()]] as const) {
    const got = enc({ ...config, imageEncoderBlocks: blocks });
    const expected = want.dataSync();
    assert.equal(got.length, expected.length);
    for (let i = 0; i < got.length; i += 97) {
      assert.ok(Math.abs(got[i] - expected[i]) < 1e-4, `blocks ${blocks}, value ${i}`);
    }
  }
  // Reading an earlier block gives other features than the last one.
  assert.notDeepEqual(enc(config), enc({ ...config, imageEncoderBlocks: 0 }));
  tf.dispose([x, plain.residual(1), plain.residual()]);
});

Deno.test("image evidence passes hold fewer images as the token grid grows", () => {
  const at = (imageSize: number, stem: number[]) => evidenceBatch({ imageSize, stem });
  assert.equal(at(128, [4, 2]), 16); // the default: 256 tokens
  assert.equal(at(64, [4, 2]), 16); // never more than at the default
  assert.equal(at(256, [4, 2]), 4); // 1,024 tokens
  assert.equal(at(256, [4, 4]), 16);
  assert.equal(at(1024, [4, 2]), 1);
  for (const size of [64, 128, 256, 512, 1024]) {
    assert.equal(IMAGE_SCORE_CHUNK % at(size, [4, 2]), 0);
  }
});

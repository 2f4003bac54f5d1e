/**
 * Checkpoint format: round trip, format tag and version, and refusal (one-line MadError naming
 * the file) of truncated, corrupted, foreign and other-config checkpoints.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MadError } from "../lib/errors.ts";
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  decodeCheckpoint,
  disposeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from "../lib/train/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors } from "../lib/train/safetensors.ts";
import {
  type Config,
  DEFAULT_CONFIG,
  imageEncoderDepth,
  mergeConfig,
  tableEncoderDepth,
} from "../lib/model/config.ts";
import { madError, TINY, tinyCheckpoint } from "./fixtures.ts";
import { buildBank, knnDistances } from "../lib/model/knn.ts";
import { coresetBank, knnScore } from "../lib/model/evidence/common.ts";
import { Rng } from "../lib/rng.ts";

function encodeTiny(config?: Config): Uint8Array {
  const ckpt = tinyCheckpoint({ config });
  const bytes = encodeCheckpoint(ckpt);
  disposeCheckpoint(ckpt);
  return bytes;
}

/** Rewrites the metadata of checkpoint bytes, keeping the tensors. */
function withMetadata(
  bytes: Uint8Array,
  edit: (meta: Record<string, string>) => void,
): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(bytes, "x");
  const meta = { ...metadata };
  edit(meta);
  return encodeSafetensors(tensors, meta);
}

function refused(bytes: Uint8Array, name: string, ...parts: string[]): string {
  const message = madError(() => disposeCheckpoint(decodeCheckpoint(bytes, name)), ...parts);
  assert.ok(message.startsWith(name), `does not name the file: ${message}`);
  return message;
}

Deno.test("checkpoint: round trip keeps everything, with format tag and version", () => {
  const ckpt = tinyCheckpoint();
  const bytes = encodeCheckpoint(ckpt);
  const { metadata } = decodeSafetensors(bytes, "x");
  assert.equal(metadata.format, CHECKPOINT_FORMAT);
  assert.equal(metadata.version, String(CHECKPOINT_VERSION));
  const back = decodeCheckpoint(bytes, "rt.safetensors");
  assert.deepEqual(back.config, ckpt.config);
  assert.deepEqual(back.tables, ckpt.tables);
  assert.deepEqual(back.datasets, ckpt.datasets);
  assert.deepEqual(back.stats, ckpt.stats);
  assert.deepEqual(back.progress, ckpt.progress);
  assert.deepEqual([...back.params.keys()], [...ckpt.params.keys()]);
  for (const [name, p] of ckpt.params) {
    assert.deepEqual(back.params.get(name)!.dataSync(), p.dataSync(), name);
  }
  assert.equal(back.adam?.m.size, ckpt.params.size);
  assert.deepEqual([...back.banks.keys()].sort(), ["image:cat|knn2", "table:t|knn"]);
  // For scoring, the optimiser state is left out and the rest read the same.
  const scoring = decodeCheckpoint(bytes, "rt.safetensors", { optimizer: false });
  assert.equal(scoring.adam, null);
  assert.deepEqual([...scoring.params.keys()], [...ckpt.params.keys()]);
  disposeCheckpoint(scoring);
  disposeCheckpoint(back);
  disposeCheckpoint(ckpt);
});

Deno.test("checkpoint: a table kNN bank saved as whole tokens (before v34) reads as positions", () => {
  const ckpt = tinyCheckpoint();
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(ckpt), "x");
  const w = ckpt.config.model.width;
  const slope = ckpt.params.get("table.t.value")!.dataSync() as Float32Array;
  const offset = ckpt.params.get("table.t.bias")!.dataSync() as Float32Array;
  // Two rows of values 1, -2, 0.5 and 0, 3, -1, stored as their tokens, transposed [3 w, 2].
  const values = [[1, -2, 0.5], [0, 3, -1]];
  const tokens = new Float32Array(3 * w * 2);
  values.forEach((row, r) => {
    for (let c = 0; c < 3 * w; c++) {
      tokens[c * 2 + r] = row[Math.floor(c / w)] * slope[c] + offset[c];
    }
  });
  tensors.set("bank.table:t|knn", { shape: [3 * w, 2], data: tokens });
  const back = decodeCheckpoint(encodeSafetensors(tensors, metadata), "old.safetensors");
  const bank = back.banks.get("table:t|knn")!;
  assert.equal(bank.dim, 3);
  assert.equal(bank.rows, 2);
  // Value v of feature j lies at v |slope_j| (token offsets cancel in every distance).
  values.forEach((row, r) => {
    row.forEach((v, j) => {
      const length = Math.hypot(...slope.subarray(j * w, (j + 1) * w));
      assert.ok(Math.abs(bank.transposed[j * 2 + r] - v * length) < 1e-4, `${r}, ${j}`);
    });
  });
  disposeCheckpoint(back);
  disposeCheckpoint(ckpt);
});

Deno.test("checkpoint: one saved before knnTokenLayer keeps the encoder-output token banks", () => {
  const bytes = withMetadata(encodeTiny(), (meta) => {
    const config = JSON.parse(meta.config);
    delete config.model.knnTokenLayer;
    meta.config = JSON.stringify(config);
  });
  const old = decodeCheckpoint(bytes, "old.safetensors");
  assert.equal(old.config.model.knnTokenLayer, old.config.model.layers);
  disposeCheckpoint(old);
  const current = decodeCheckpoint(encodeTiny(), "new.safetensors");
  assert.equal(current.config.model.knnTokenLayer, DEFAULT_CONFIG.model.knnTokenLayer);
  disposeCheckpoint(current);
});

Deno.test("checkpoint: one saved before the normalised pixel evidence scores as it did", () => {
  const added = [
    "knnContrastPatches",
    "knnStandardPatches",
    "imageWeights",
    "imageHeadEvidence",
    "calibrateOnAllNormals",
  ];
  const bytes = withMetadata(encodeTiny(), (meta) => {
    const config = JSON.parse(meta.config);
    for (const key of added) delete config.model[key];
    meta.config = JSON.stringify(config);
  });
  const old = decodeCheckpoint(bytes, "old.safetensors");
  assert.deepEqual(old.config.model.knnContrastPatches, []);
  assert.deepEqual(old.config.model.knnStandardPatches, []);
  assert.equal(old.config.model.imageWeights, "validation");
  assert.equal(old.config.model.imageHeadEvidence, true);
  assert.equal(old.config.model.calibrateOnAllNormals, false);
  disposeCheckpoint(old);
  const current = decodeCheckpoint(encodeTiny(), "new.safetensors");
  for (const key of added) {
    assert.deepEqual(
      (current.config.model as unknown as Record<string, unknown>)[key],
      (DEFAULT_CONFIG.model as unknown as Record<string, unknown>)[key],
      key,
    );
  }
  disposeCheckpoint(current);
});

Deno.test("checkpoint: one saved before the table's log scale and isolation scores as it did", () => {
  const bytes = withMetadata(encodeTiny(), (meta) => {
    const config = JSON.parse(meta.config);
    for (const key of ["tableLogSkewed", "tableHeadEvidence", "isolationHead"]) {
      delete config.model[key];
    }
    meta.config = JSON.stringify(config);
  });
  const old = decodeCheckpoint(bytes, "old.safetensors");
  assert.equal(old.config.model.tableLogSkewed, false);
  assert.equal(old.config.model.tableHeadEvidence, true);
  assert.equal(old.config.model.isolationHead, false);
  disposeCheckpoint(old);
});

Deno.test("checkpoint: one saved before the forest's shape and table weights scores as it did", () => {
  const added = ["isolationSample", "isolationTrees", "tableWeights"];
  const bytes = withMetadata(encodeTiny(), (meta) => {
    const config = JSON.parse(meta.config);
    for (const key of added) delete config.model[key];
    meta.config = JSON.stringify(config);
  });
  const old = decodeCheckpoint(bytes, "old.safetensors");
  assert.equal(old.config.model.isolationSample, 256);
  assert.equal(old.config.model.isolationTrees, 200);
  assert.equal(old.config.model.tableWeights, "validation");
  disposeCheckpoint(old);
  const current = decodeCheckpoint(encodeTiny(), "new.safetensors");
  assert.equal(current.config.model.isolationSample, DEFAULT_CONFIG.model.isolationSample);
  assert.equal(current.config.model.tableWeights, DEFAULT_CONFIG.model.tableWeights);
  disposeCheckpoint(current);
});

Deno.test("checkpoint: one saved before the encoder depths and pose alignment reads as it did", () => {
  const settings = { tableEncoderBlocks: 1, imageEncoderBlocks: 2, alignObjects: true };
  const bytes = withMetadata(encodeTiny(), (meta) => {
    const config = JSON.parse(meta.config);
    Object.assign(config.model, settings);
    meta.config = JSON.stringify(config);
  });
  const current = decodeCheckpoint(bytes, "new.safetensors");
  for (const [key, value] of Object.entries(settings)) {
    assert.equal(current.config.model[key as keyof typeof settings], value, key);
  }
  disposeCheckpoint(current);
  const old = decodeCheckpoint(
    withMetadata(bytes, (meta) => {
      const config = JSON.parse(meta.config);
      for (const key of Object.keys(settings)) delete config.model[key];
      meta.config = JSON.stringify(config);
    }),
    "old.safetensors",
  );
  // 0: through the last block, as the encoder evidence read before the settings; images as
  // decoded, as every category was seen before the alignment.
  assert.equal(old.config.model.tableEncoderBlocks, 0);
  assert.equal(tableEncoderDepth(old.config.model), old.config.model.layers);
  assert.equal(old.config.model.imageEncoderBlocks, 0);
  assert.equal(imageEncoderDepth(old.config.model), old.config.model.layers);
  assert.equal(old.config.model.alignObjects, false);
  disposeCheckpoint(old);
});

Deno.test("checkpoint: one saved before grouped table tokens keeps a token a feature", () => {
  const bytes = encodeTiny();
  const current = decodeCheckpoint(bytes, "new.safetensors");
  assert.equal(current.config.model.tableMaxTokens, 64);
  disposeCheckpoint(current);
  const old = decodeCheckpoint(
    withMetadata(bytes, (meta) => {
      const config = JSON.parse(meta.config);
      delete config.model.tableMaxTokens;
      meta.config = JSON.stringify(config);
    }),
    "old.safetensors",
  );
  assert.equal(old.config.model.tableMaxTokens, 0);
  disposeCheckpoint(old);
});

Deno.test("checkpoint: an image category's pose alignment round-trips; a bad one is refused", () => {
  const ckpt = tinyCheckpoint();
  const image = ckpt.datasets.find((d) => d.modality === "image")!;
  image.pose = { aligned: true, elongation: 17.5, axisConsistency: 0.08, scale: 1.21 };
  const bytes = encodeCheckpoint(ckpt);
  disposeCheckpoint(ckpt);
  const back = decodeCheckpoint(bytes, "pose.safetensors");
  assert.deepEqual(back.datasets.find((d) => d.modality === "image")!.pose, image.pose);
  disposeCheckpoint(back);
  refused(
    withMetadata(
      bytes,
      (m) => (m.datasets = m.datasets.replace('"aligned":true', '"aligned":"yes"')),
    ),
    "badpose.safetensors",
    "bad pose record",
  );
  // A zoom below 1 would crop the objects it is there to keep whole.
  refused(
    withMetadata(bytes, (m) => (m.datasets = m.datasets.replace('"scale":1.21', '"scale":0.5'))),
    "badscale.safetensors",
    "bad pose record",
  );
});

Deno.test("checkpoint: a dataset's digest round-trips; a bad one is refused", () => {
  const ckpt = tinyCheckpoint();
  ckpt.datasets[1].digest = "0123456789abcdef";
  const bytes = encodeCheckpoint(ckpt);
  disposeCheckpoint(ckpt);
  const back = decodeCheckpoint(bytes, "digest.safetensors");
  assert.equal(back.datasets[1].digest, "0123456789abcdef");
  disposeCheckpoint(back);
  refused(
    withMetadata(
      bytes,
      (m) => (m.datasets = m.datasets.replace('"0123456789abcdef"', "17")),
    ),
    "baddigest.safetensors",
    "dataset t has a bad digest",
  );
});

Deno.test("checkpoint: a run that never improved (bestMetric -Infinity) loads back", () => {
  const ckpt = tinyCheckpoint();
  ckpt.progress.bestMetric = -Infinity; // JSON writes null
  const back = decodeCheckpoint(encodeCheckpoint(ckpt), "never.safetensors");
  assert.equal(back.progress.bestMetric, -Infinity);
  disposeCheckpoint(back);
  disposeCheckpoint(ckpt);
});

Deno.test("checkpoint: truncated anywhere is refused naming the file", () => {
  const bytes = encodeTiny();
  const cuts = [0, 3, 8, 20, 200];
  for (let k = 1; k < 12; k++) cuts.push(Math.floor((bytes.length * k) / 12));
  cuts.push(bytes.length - 1);
  for (const cut of cuts) refused(bytes.slice(0, cut), `cut${cut}.safetensors`);
  refused(new Uint8Array(), "empty.safetensors", "empty file");
  refused(bytes.slice(0, bytes.length - 4), "short.safetensors", "truncated?");
});

Deno.test("checkpoint: corrupted header bytes are refused", () => {
  const bytes = encodeTiny();
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  // Length field: too long for the file, and a byte of the JSON.
  for (const at of [0, 1, 5, 7]) {
    const bad = bytes.slice();
    bad[at] ^= 0x40;
    refused(bad, `len${at}.safetensors`, "not a valid checkpoint");
  }
  for (const at of [8, 9, 8 + Math.floor(headerLength / 2), 8 + headerLength - 1]) {
    const bad = bytes.slice();
    bad[at] = 0x00;
    refused(bad, `json${at}.safetensors`);
  }
  // Text that is not a checkpoint at all.
  refused(new TextEncoder().encode("PK\x03\x04 this is a zip file, honest"), "zip.safetensors");
});

Deno.test("checkpoint: foreign safetensors and other format versions are refused", () => {
  const t = new Map([["weight", { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]);
  refused(encodeSafetensors(t, {}), "plain.safetensors", "not a MADformer checkpoint");
  refused(
    encodeSafetensors(t, { format: "pt" }),
    "torch.safetensors",
    "not a MADformer checkpoint",
  );
  // A foreign file with another dtype fails before the metadata check.
  const f16 = new TextEncoder().encode(
    JSON.stringify({ w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }),
  );
  const raw = new Uint8Array(8 + f16.length + 4);
  new DataView(raw.buffer).setBigUint64(0, BigInt(f16.length), true);
  raw.set(f16, 8);
  refused(raw, "f16.safetensors", "F16");

  const bytes = encodeTiny();
  refused(withMetadata(bytes, (m) => (m.version = "2")), "v2.safetensors", "version 2", "reads 1");
  refused(withMetadata(bytes, (m) => delete m.version), "nov.safetensors", "no format version");
  refused(withMetadata(bytes, (m) => delete m.format), "nofmt.safetensors", "not a MADformer");
});

Deno.test("checkpoint: weights of another model config are refused", () => {
  const bytes = encodeTiny();
  // The stored config says width 8 but the weights are for width 4.
  const wider = mergeConfig(DEFAULT_CONFIG, { ...TINY, model: { ...TINY.model, width: 8 } });
  refused(
    withMetadata(bytes, (m) => (m.config = JSON.stringify(wider))),
    "wider.safetensors",
    "another model config",
  );
  const deeper = mergeConfig(DEFAULT_CONFIG, { ...TINY, model: { ...TINY.model, layers: 2 } });
  refused(
    withMetadata(bytes, (m) => (m.config = JSON.stringify(deeper))),
    "deeper.safetensors",
    "another model config",
  );
  // Fewer layers: the extra weights are not silently dropped.
  const smallBytes = encodeTiny(deeper);
  const small = mergeConfig(DEFAULT_CONFIG, TINY);
  refused(
    withMetadata(smallBytes, (m) => (m.config = JSON.stringify(small))),
    "shallower.safetensors",
    "unexpected tensor",
  );
  // A table with another feature count.
  refused(
    withMetadata(bytes, (m) => (m.tables = JSON.stringify([{ name: "t", features: 5 }]))),
    "features.safetensors",
  );
  // A config asking for absurd sizes is refused before anything is allocated.
  refused(
    withMetadata(bytes, (m) => {
      const c = JSON.parse(m.config);
      c.model.width = 1_000_000;
      m.config = JSON.stringify(c);
    }),
    "huge.safetensors",
    "needs at least",
  );
  refused(
    withMetadata(bytes, (m) => (m.config = JSON.stringify({ model: { widht: 4 } }))),
    "typo.safetensors",
    "unknown key 'model.widht'",
  );
});

Deno.test("checkpoint: malformed metadata is refused naming what is wrong", () => {
  const bytes = encodeTiny();
  const cases: [string, (m: Record<string, string>) => void, string][] = [
    ["tables", (m) => (m.tables = "{}"), "'tables' is not a list"],
    ["features", (m) => (m.tables = '[{"name":"t","features":-3}]'), "bad feature count"],
    ["datasets", (m) => delete m.datasets, "'datasets' is missing"],
    ["modality", (m) => (m.datasets = m.datasets.replace('"image"', '"audio"')), "modality"],
    [
      "norm",
      (m) => (m.datasets = m.datasets.replace('"std":[1,2,3]', '"std":[1,0,3]')),
      "standard deviation",
    ],
    ["stats", (m) => (m.stats = m.stats.replace('"threshold":1', '"threshold":"x"')), "stats"],
    [
      "tails",
      (m) => (m.stats = m.stats.replace(
        '"threshold":1',
        '"threshold":1,"tails":{"dens":{"normals":2,"quantiles":[1,0]}}',
      )),
      "malformed tail scale",
    ],
    [
      "normalScores",
      (m) => (m.stats = m.stats.replace(
        '"threshold":1',
        '"threshold":1,"normalScores":{"normals":1,"quantiles":[0,1]}',
      )),
      "malformed calibration scores",
    ],
    ["progress", (m) => (m.progress = "[]"), "'progress' is not an object"],
    ["adam", (m) => (m.adam_step = "-1"), "adam_step"],
  ];
  for (const [name, edit, part] of cases) {
    refused(withMetadata(bytes, edit), `${name}.safetensors`, part);
  }
  // NaN weights (e.g. from a diverged run) are refused too.
  const { tensors, metadata } = decodeSafetensors(bytes, "x");
  tensors.get("param.embed.cls")!.data[0] = NaN;
  refused(encodeSafetensors(tensors, metadata), "nan.safetensors", "NaN");
  // A memory bank of the wrong width.
  tensors.get("param.embed.cls")!.data[0] = 0;
  tensors.set("bank.table:t|knn", { shape: [5, 2], data: new Float32Array(10) });
  refused(encodeSafetensors(tensors, metadata), "bank.safetensors", "memory bank");
});

Deno.test("checkpoint: a projected memory bank keeps its directions and scores the same", () => {
  const ckpt = tinyCheckpoint();
  const w = ckpt.config.model.width;
  const dim = 2 * w;
  const rng = new Rng(3);
  const features = Float32Array.from({ length: 300 * dim }, () => rng.normal());
  const bank = buildBank(features, dim, 40, new Rng(1), { projection: 4 });
  ckpt.banks.set("image:cat|knn2", bank);
  const bytes = encodeCheckpoint(ckpt);
  const back = decodeCheckpoint(bytes, "proj.safetensors");
  const loaded = back.banks.get("image:cat|knn2")!;
  assert.equal(loaded.dim, dim);
  assert.equal(loaded.projection?.width, 4);
  const queries = features.subarray(0, 5 * dim);
  assert.deepEqual(knnDistances(loaded, queries, 1), knnDistances(bank, queries, 1));
  disposeCheckpoint(back);
  // Banks fitted in one set of directions share them again once read back.
  const twin = buildBank(features, dim, 60, new Rng(2), {
    coreset: false,
    projection: 4,
    directions: bank.projection,
  });
  ckpt.banks.set("image:dog|knn2", twin);
  const again = decodeCheckpoint(encodeCheckpoint(ckpt), "twin.safetensors");
  const [a, b] = ["image:cat|knn2", "image:dog|knn2"].map((k) => again.banks.get(k)!.projection!);
  assert.ok(a.basis === b.basis && a.mean === b.mean && a.norms !== b.norms);
  disposeCheckpoint(again);
  ckpt.banks.delete("image:dog|knn2");
  // Parts missing or of the wrong shape are refused.
  const { tensors, metadata } = decodeSafetensors(bytes, "x");
  const norms = tensors.get("bankproj.image:cat|knn2.norms")!;
  tensors.delete("bankproj.image:cat|knn2.norms");
  refused(encodeSafetensors(tensors, metadata), "part.safetensors", "incomplete projection");
  tensors.set("bankproj.image:cat|knn2.norms", { shape: [3], data: norms.data.subarray(0, 3) });
  refused(encodeSafetensors(tensors, metadata), "shape.safetensors", "does not fit");
  disposeCheckpoint(ckpt);
});

Deno.test("checkpoint: a bank comparing cells where they lie keeps its step and scores the same", () => {
  const ckpt = tinyCheckpoint();
  const w = ckpt.config.model.width;
  const rng = new Rng(4);
  const features = {
    dim: 2 * w,
    grid: 2,
    data: Float32Array.from({ length: 12 * 2 * w }, () => rng.normal()),
  };
  const settings = { limit: 40, seed: 0, projection: 0, pixelProjectionShare: 1, cellPositions: 4 };
  const bank = coresetBank(features, settings);
  assert.ok(bank.cellStep! > 0);
  ckpt.banks.set("image:cat|knn2", bank);
  const bytes = encodeCheckpoint(ckpt);
  const back = decodeCheckpoint(bytes, "cells.safetensors");
  const loaded = back.banks.get("image:cat|knn2")!;
  assert.equal(loaded.cellStep, bank.cellStep);
  assert.equal(loaded.dim, 2 * w + 2);
  const model = ckpt.config.model;
  assert.deepEqual(knnScore(loaded, features, model), knnScore(bank, features, model));
  disposeCheckpoint(back);
  // A step that is not one positive number is refused, as is a bank without its step (too wide).
  const { tensors, metadata } = decodeSafetensors(bytes, "x");
  tensors.set("bankcell.image:cat|knn2", { shape: [1], data: Float32Array.of(-1) });
  refused(encodeSafetensors(tensors, metadata), "step.safetensors", "cell step");
  tensors.delete("bankcell.image:cat|knn2");
  refused(encodeSafetensors(tensors, metadata), "nostep.safetensors", "memory bank");
  disposeCheckpoint(ckpt);
});

Deno.test("loadCheckpoint: missing file and folder name the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_ckpt_" });
  try {
    await assert.rejects(
      () => loadCheckpoint(join(dir, "nope.safetensors")),
      (e: unknown) =>
        e instanceof MadError && e.message.includes("nope.safetensors") &&
        e.message.includes("not found"),
    );
    await assert.rejects(
      () => loadCheckpoint(dir),
      (e: unknown) =>
        e instanceof MadError && e.message.startsWith(dir) &&
        e.message.includes("is a folder; give the checkpoint file in it"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Isolation-forest evidence of table rows (`iso`): how few random axis-aligned splits of a
 * random sample of normal rows set a row apart (see `lib/model/isolation.ts`).
 *
 * @module
 */
import { forestOf, isolationScores } from "../isolation.ts";
import { sampleBank } from "./common.ts";
import { normalisedRows } from "./density.ts";
import type { EvidenceComponent } from "./types.ts";

/** `iso`: the isolation forest grown on the sampled normals. */
export const isolation: EvidenceComponent = {
  family: "isolation forest",
  modalities: ["table"],
  switch: {
    key: "isolationHead",
    only: { name: "isolation_only", description: "the table's isolation-forest evidence alone" },
    without: {
      name: "no_isolation_head",
      description: "without the table's isolation-forest evidence",
    },
    legacy: false,
  },
  trained: false,
  names: () => ["iso"],
  owns: (name) => name === "iso",
  meaning: () => "isolation forest",
  fit: "sample",
  dataOnly: false,
  // Its cuts run along one feature at a time: a row the forest finds typical may still be one
  // no normal resembles as a whole.
  oneSided: true,
  fitBank: sampleBank,
  score: (bank, features, config) => {
    const shape = { trees: config.isolationTrees, sample: config.isolationSample };
    return isolationScores(forestOf(bank, shape), features.data);
  },
  stored: "bank",
  bankDim: (_config, _name, features) => features,
  tables: (request) => ({
    finish: (evidence) => {
      const data = normalisedRows(request);
      evidence.features.iso = { dim: request.table!.d, grid: 1, data };
    },
  }),
};

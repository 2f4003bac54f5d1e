/**
 * Per-feature density evidence of table rows (`dens`): a Gaussian kernel density estimate of
 * each feature on a random sample of normal rows (see `lib/model/density.ts`).
 *
 * @module
 */
import { marginalDensityScores, useBandwidthsOf } from "../density.ts";
import { sampleBank } from "./common.ts";
import type { EvidenceComponent, EvidenceRequest } from "./types.ts";

/**
 * The normalised rows of a table request, copied once for the components that keep them as
 * their features (density and isolation, which so share one sampled bank).
 */
export function normalisedRows(request: EvidenceRequest): Float32Array {
  return request.shared("normalised rows", () => request.table!.rows.slice());
}

/** `dens`: how rare each of the row's values is among normals'. */
export const density: EvidenceComponent = {
  family: "density",
  modalities: ["table"],
  switch: {
    key: "densityHead",
    only: { name: "density_only", description: "the table's per-feature density evidence alone" },
    without: {
      name: "no_density_head",
      description: "without the table's per-feature density evidence",
    },
  },
  trained: false,
  names: () => ["dens"],
  owns: (name) => name === "dens",
  meaning: () => "how rare each feature's value is among normals",
  fit: "sample",
  dataOnly: false,
  oneSided: true,
  fitBank: sampleBank,
  foldBank: useBandwidthsOf,
  score: (bank, features) => marginalDensityScores(bank, features.data),
  stored: "bank",
  bankDim: (_config, _name, features) => features,
  tables: (request) => ({
    finish: (evidence) => {
      const data = normalisedRows(request);
      evidence.features.dens = { dim: request.table!.d, grid: 1, data };
    },
  }),
};

/**
 * An epoch's batches: the order of its image and table steps, and each step's data (flips,
 * synthetic anomalies and masks drawn from the run's random stream, so a resumed run draws the
 * same ones as an uninterrupted run).
 *
 * @module
 */
import type { Config } from "../model/config.ts";
import { geometry, randomMaskValues, tableTrainingMask } from "../model/madformer.ts";
import { syntheticImageAnomaly, syntheticTableAnomaly } from "../data/anomalies.ts";
import type { ImageBatchData, TableBatchData } from "./step.ts";
import type { ImageData, TableData } from "./training_data.ts";
import type { Rng } from "../rng.ts";

/** One training step: image pairs (category, index), or row indices of one table. */
export type Step =
  | { kind: "image"; indices: Array<[number, number]> }
  | { kind: "table"; table: number; indices: number[] };

/** The order of an epoch's steps: image batches, each followed by table batches in turn. */
export function epochPlan(
  images: ImageData[],
  tables: TableData[],
  t: Config["train"],
  rng: Rng,
): Step[] {
  const imagePairs: Array<[number, number]> = [];
  images.forEach((d, c) => d.train.forEach((_, i) => imagePairs.push([c, i])));
  rng.shuffle(imagePairs);
  const imageSteps: Step[] = [];
  for (
    let i = 0;
    i + t.batchSize <= imagePairs.length || (i === 0 && imagePairs.length > 0);
    i += t.batchSize
  ) {
    imageSteps.push({ kind: "image", indices: imagePairs.slice(i, i + t.batchSize) });
  }
  const orders = tables.map((d) =>
    rng.shuffle([...Array(d.prepared.train.length / d.prepared.d).keys()])
  );
  const cursors = tables.map(() => 0);
  const nextTableStep = (k: number): Step => {
    const table = k % tables.length;
    const order = orders[table];
    const size = Math.min(t.tableBatchSize, order.length);
    if (cursors[table] + size > order.length) {
      rng.shuffle(order);
      cursors[table] = 0;
    }
    const indices = order.slice(cursors[table], cursors[table] + size);
    cursors[table] += size;
    return { kind: "table", table, indices };
  };
  const plan: Step[] = [];
  let k = 0;
  if (imageSteps.length === 0) {
    for (; k < t.tableStepsPerEpoch; k++) plan.push(nextTableStep(k));
    return plan;
  }
  imageSteps.forEach((step, i) => {
    plan.push(step);
    if (tables.length === 0) return;
    // Table steps due by the end of image step i, less those already taken: a whole rate gives
    // that many after every image step, a fraction spreads them out.
    const due = Math.floor((i + 1) * t.tableStepsPerImageStep);
    for (; k < due; k++) plan.push(nextTableStep(k));
  });
  return plan;
}

/** The data of an image step: flips and synthetic anomalies drawn with `rng`, and token masks. */
export function imageBatch(
  config: Config,
  data: ImageData[],
  indices: Array<[number, number]>,
  rng: Rng,
): ImageBatchData {
  const m = config.model;
  const S = m.imageSize;
  const g = geometry(m);
  const B = indices.length;
  const clean = new Float32Array(B * S * S * 3);
  const input = new Float32Array(B * S * S * 3);
  const masks = new Float32Array(B * S * S);
  const labels = new Float32Array(B);
  indices.forEach(([c, i], b) => {
    const img = flipMaybe(data[c].train[i], S, rng);
    clean.set(img, b * S * S * 3);
    if (m.anomalyHead && rng.next() < config.train.anomalyShare) {
      const donorSet = data[rng.int(data.length)].train;
      const donor = donorSet[rng.int(donorSet.length)];
      const a = syntheticImageAnomaly(rng, { size: S, data: img }, { size: S, data: donor });
      input.set(a.data, b * S * S * 3);
      masks.set(a.mask, b * S * S);
      labels[b] = 1;
    } else {
      input.set(img, b * S * S * 3);
    }
  });
  const tokenMask = randomMaskValues(rng, B, g.tokens, m.reconstructionHead ? m.maskRatio : 0);
  return { n: B, size: S, input, clean, masks, labels, tokenMask };
}

/** Random horizontal flip: a symmetry most inspection images have. */
function flipMaybe(img: Float32Array, S: number, rng: Rng): Float32Array {
  if (rng.next() < 0.5) return img;
  const out = new Float32Array(img.length);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const src = (y * S + (S - 1 - x)) * 3;
      const dst = (y * S + x) * 3;
      out[dst] = img[src];
      out[dst + 1] = img[src + 1];
      out[dst + 2] = img[src + 2];
    }
  }
  return out;
}

/** The data of a table step: synthetic anomalies drawn with `rng`, and feature masks. */
export function tableBatch(
  config: Config,
  data: TableData,
  indices: number[],
  rng: Rng,
): TableBatchData {
  const m = config.model;
  const p = data.prepared;
  const d = p.d;
  const B = indices.length;
  const nTrain = p.train.length / d;
  const clean = new Float32Array(B * d);
  const input = new Float32Array(B * d);
  const labels = new Float32Array(B);
  indices.forEach((r, b) => {
    const row = p.train.subarray(r * d, r * d + d);
    clean.set(row, b * d);
    if (m.anomalyHead && rng.next() < config.train.anomalyShare) {
      const donor = rng.int(nTrain);
      input.set(syntheticTableAnomaly(rng, row, p.train.subarray(donor * d, donor * d + d)), b * d);
      labels[b] = 1;
    } else {
      input.set(row, b * d);
    }
  });
  const mask = tableTrainingMask(rng, m, B, d);
  return { table: p.record.name, n: B, d, input, clean, labels, mask };
}

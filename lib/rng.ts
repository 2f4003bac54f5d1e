/**
 * A small seeded random number generator whose whole state is one number, so that a run can
 * record it in a checkpoint and resume with the same stream.
 *
 * @module
 */

/** Seeded PRNG (mulberry32). Deterministic for a seed; state is serialisable. */
export class Rng {
  state: number;
  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal sample (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A new generator derived from this one, for an independent stream. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
}

/**
 * Step between the run's seed and the seeds of the synthetic anomalies that image datasets are
 * validated and calibrated on: image dataset `i` (from 0) draws them with
 * `seed + ANOMALY_SEED_OFFSET * (i + 1)`, and a table's calibration after the last epoch takes
 * the next index after the images' (its validation anomalies draw from a stream of their own). A
 * large prime keeps those streams apart from the training stream and from each other, and
 * training, calibration and evaluation must use the same value to draw the same anomalies.
 */
export const ANOMALY_SEED_OFFSET = 104729;

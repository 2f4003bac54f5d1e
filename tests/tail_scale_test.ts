import assert from "node:assert/strict";
import {
  fitTailScale,
  isTailScale,
  normalsAtOrAbove,
  pValue,
  TAIL_QUANTILES,
  tailValue,
} from "../lib/model/tail_scale.ts";

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} against ${b}`);

Deno.test("tailValue: minus the log of the share of normals at or above, interpolated", () => {
  const scale = fitTailScale([3, 0, 2, 1]);
  assert.deepEqual(scale, { normals: 4, quantiles: [0, 1, 2, 3] });
  close(tailValue(scale, 0), 0, "the smallest");
  close(tailValue(scale, 1.5), -Math.log(2.5 / 4), "between two normals");
  close(tailValue(scale, 3), Math.log(4), "the largest");
  close(tailValue(scale, 5), Math.log(4) + 2, "beyond the largest: log m plus the excess");
  close(tailValue(scale, -1), -1, "below the smallest: the shortfall");
  // Ties take the last of them (as numpy's interp reads them): the median of [0, 1, 1, 2] is
  // at rank 2, so minus log(2 / 4).
  close(tailValue(fitTailScale([0, 1, 1, 2]), 1), Math.LN2, "ties");
  // Increasing and continuous.
  let last = tailValue(scale, -2);
  for (let x = -1.99; x <= 6; x += 0.01) {
    const t = tailValue(scale, x);
    assert.ok(t >= last && t - last < 0.2, `at ${x}`);
    last = t;
  }
});

Deno.test("fitTailScale: at most TAIL_QUANTILES values kept, ranks still counted whole", () => {
  const m = 10_001;
  const scale = fitTailScale(Float64Array.from({ length: m }, (_, i) => m - 1 - i));
  assert.equal(scale.normals, m);
  assert.equal(scale.quantiles.length, TAIL_QUANTILES);
  // 5,000 is kept (every fifth rank): it is the 5,000th of 10,001 normals.
  close(tailValue(scale, 5000), -Math.log((m - 5000) / m), "a kept rank");
  close(tailValue(scale, 5002), -Math.log((m - 5002) / m), "between kept ranks");
  close(tailValue(scale, m - 1), Math.log(m), "the largest");
  assert.deepEqual(fitTailScale([7]), { normals: 1, quantiles: [7] });
  close(tailValue(fitTailScale([7]), 7), 0, "one normal");
});

Deno.test("pValue: (1 + normals at or above) / (m + 1), a share of normals at most its rate", () => {
  const scale = fitTailScale([3, 0, 2, 1]);
  close(normalsAtOrAbove(scale, 0), 4, "the smallest: every normal");
  close(normalsAtOrAbove(scale, 3), 1, "the largest: itself");
  close(normalsAtOrAbove(scale, 9), 0, "beyond every normal");
  close(normalsAtOrAbove(scale, -9), 4, "below every normal");
  close(pValue(scale, 9), 1 / 5, "beyond every normal: 1 / (m + 1)");
  close(pValue(scale, -9), 1, "below every normal");
  close(pValue(scale, 2), 3 / 5, "two normals at or above");
  close(pValue(scale, 1.5), 3.5 / 5, "between two normals, interpolated");
  // Exchangeable samples: new normals from the calibration's own distribution get p <= r about
  // a share r of the time. Given one calibration set the share varies by about
  // sqrt(r (1 - r) / m) around r; the fresh samples add their own sampling error.
  let seed = 7;
  const uniform = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const m0 = 999;
  const fitted = fitTailScale(Array.from({ length: m0 }, uniform));
  const fresh = Array.from({ length: 20_000 }, () => pValue(fitted, uniform()));
  for (const rate of [0.01, 0.05, 0.2]) {
    const share = fresh.filter((p) => p <= rate).length / fresh.length;
    const spread = Math.sqrt((rate * (1 - rate)) / m0) + Math.sqrt(rate / fresh.length);
    assert.ok(Math.abs(share - rate) < 3 * spread, `${rate}: ${share}`);
  }
  // A scale that keeps fewer values than its normals still counts them whole.
  const m = 10_001;
  const many = fitTailScale(Float64Array.from({ length: m }, (_, i) => i));
  close(normalsAtOrAbove(many, 5000), m - 5000, "a kept rank");
  close(pValue(many, m - 1), 2 / (m + 1), "the largest");
});

Deno.test("fitTailScale: no normals or values that are not finite are refused", () => {
  assert.throws(() => fitTailScale([]), /no normals/);
  assert.throws(() => fitTailScale([1, NaN, 2]), /not finite/);
  assert.throws(() => fitTailScale([1, Infinity]), /not finite/);
});

Deno.test("isTailScale: what a checkpoint may hold", () => {
  assert.ok(isTailScale({ normals: 4, quantiles: [0, 1, 1, 3] }));
  assert.ok(isTailScale(fitTailScale([2, 1, 5])));
  for (
    const bad of [
      null,
      [],
      { normals: 0, quantiles: [1] },
      { normals: 2, quantiles: [] },
      { normals: 2, quantiles: [1, 0] },
      { normals: 1, quantiles: [0, 1] },
      { normals: 2, quantiles: [0, "1"] },
      { normals: 2.5, quantiles: [0, 1] },
    ]
  ) assert.ok(!isTailScale(bad), JSON.stringify(bad));
});

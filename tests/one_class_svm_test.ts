import assert from "node:assert/strict";
import {
  fitOneClassSvm,
  scaleGamma,
  svmDecision,
  svmScores,
} from "../lib/benchmark/one_class_svm.ts";
import { MadError } from "../lib/errors.ts";

/** 40 rows along a wobbly curve, as two features (the reference values below are on these). */
function curve(): Float32Array {
  const out = new Float32Array(80);
  for (let i = 0; i < 40; i++) {
    out[2 * i] = Math.cos(i * 0.7) * (1 + 0.02 * i);
    out[2 * i + 1] = Math.sin(i * 1.3) * 0.5 + 0.01 * i;
  }
  return out;
}
const QUERIES = Float32Array.from([0, 0, 3, 3, 1, -0.5, 0.5, 0.2]);

Deno.test("one-class SVM: decision values of scikit-learn's OneClassSVM(gamma='scale')", () => {
  // scikit-learn 1.x on the same rows: gamma 0.90212, decision_function of the queries, and
  // the number of support rows, for nu 0.05 and 0.3.
  const reference = [
    { nu: 0.05, decision: [0.00914, -0.57380, -0.05666, 0.06289], support: 10 },
    { nu: 0.3, decision: [0.02407, -3.71193, -0.45602, 0.33391], support: 14 },
  ];
  const rows = curve();
  assert.ok(Math.abs(scaleGamma(rows, 2) - 0.9021151) < 1e-5);
  for (const { nu, decision, support } of reference) {
    const model = fitOneClassSvm(rows, 2, { nu });
    const got = svmDecision(model, QUERIES);
    // SMO stops at a violation of 1e-3, so the values agree to about that.
    got.forEach((v, i) =>
      assert.ok(Math.abs(v - decision[i]) < 2e-3, `nu ${nu}: ${v} vs ${decision[i]}`)
    );
    assert.equal(model.alpha.length, support);
    const sum = model.alpha.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - nu * 40) < 1e-9, "the weights sum to nu times the rows");
    assert.ok(model.alpha.every((a) => a > 0 && a <= 1));
  }
});

Deno.test("one-class SVM: a row far from the normals scores highest; sampling keeps the limit", () => {
  const rows = curve();
  const model = fitOneClassSvm(rows, 2, { limit: 25, seed: 3 });
  assert.ok(model.support.length / 2 <= 25);
  const scores = svmScores(model, QUERIES);
  assert.equal(scores.indexOf(Math.max(...scores)), 1, "(3, 3) lies furthest from the curve");
  assert.throws(() => fitOneClassSvm(rows, 2, { nu: 0 }), MadError);
  assert.throws(() => fitOneClassSvm(new Float32Array(0), 2), MadError);
});

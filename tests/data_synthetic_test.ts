import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { MadError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import {
  CHIMERA_WIDTH,
  syntheticTableAnomaly,
  VALIDATION_ANOMALIES_PER_NORMAL,
  VALIDATION_OPACITY,
  validationImageAnomalies,
} from "../lib/data/anomalies.ts";
import { decodeImage, decodeMask, discoverImageCategories } from "../lib/data/images.ts";
import {
  makeSyntheticTable,
  renderSyntheticPicture,
  SYNTHETIC_DEFECTS,
  writeSyntheticImages,
  writeSyntheticTableCsv,
} from "../lib/data/synthetic.ts";

async function listFiles(root: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else out.set(relative(root, p), await Deno.readFile(p));
    }
  };
  await walk(root);
  return out;
}

const small = { size: 32, nTrain: 4, nTestGood: 2, nTestBad: 4 };

Deno.test("writeSyntheticImages: MVTec layout discovered with the expected counts", async () => {
  const dir = join(await Deno.makeTempDir(), "synthetic data");
  await writeSyntheticImages(dir, { seed: 3, ...small });
  const cats = await discoverImageCategories(dir);
  assert.deepEqual(cats.map((c) => [c.category, c.layout, c.train.length, c.test.length]), [
    ["dots", "mvtec", 4, 6],
    ["weave", "mvtec", 4, 6],
  ]);
  for (const c of cats) {
    const bad = c.test.filter((s) => s.label === 1);
    assert.equal(bad.length, 4);
    assert.ok(bad.every((s) => s.maskPath && SYNTHETIC_DEFECTS.includes(s.defect as never)));
    assert.deepEqual(new Set(bad.map((s) => s.defect)), new Set(SYNTHETIC_DEFECTS));
  }
  const weave = await decodeImage(cats[1].train[0].path, { size: 32, channels: 3 });
  assert.equal(weave.data.length, 32 * 32 * 3);
  // weave is colour, dots is grayscale
  assert.ok(weave.data.some((v, i) => i % 3 === 0 && Math.abs(v - weave.data[i + 2]) > 0.1));
  const dots = await decodeImage(cats[0].train[0].path, { size: 32, channels: 3 });
  assert.ok(dots.data.every((v, i) => i % 3 !== 0 || v === dots.data[i + 1]));

  // A second run replaces its own output; a foreign folder is refused.
  await writeSyntheticImages(dir, { seed: 3, ...small, nTrain: 2 });
  assert.equal((await discoverImageCategories(dir))[0].train.length, 2);
  const other = await Deno.makeTempDir();
  await Deno.mkdir(join(other, "weave"));
  await Deno.writeTextFile(join(other, "weave", "mine.txt"), "x");
  await assert.rejects(() => writeSyntheticImages(other, small), MadError);
});

Deno.test("writeSyntheticImages: same seed gives byte-identical files, other seed differs", async () => {
  const a = await Deno.makeTempDir();
  const b = await Deno.makeTempDir();
  const c = await Deno.makeTempDir();
  await writeSyntheticImages(a, { seed: 11, ...small });
  await writeSyntheticImages(b, { seed: 11, ...small });
  await writeSyntheticImages(c, { seed: 12, ...small });
  const fa = await listFiles(a);
  const fb = await listFiles(b);
  const fc = await listFiles(c);
  assert.deepEqual([...fa.keys()].sort(), [...fb.keys()].sort());
  for (const [k, v] of fa) assert.deepEqual(v, fb.get(k), k);
  assert.notDeepEqual(fa.get("weave/train/good/000.png"), fc.get("weave/train/good/000.png"));
});

Deno.test("synthetic masks cover the planted defects", async () => {
  const rng = new Rng(5);
  for (const kind of ["weave", "dots"] as const) {
    for (const defect of SYNTHETIC_DEFECTS) {
      const p = renderSyntheticPicture(kind, 48, rng, defect);
      let inside = 0;
      let changedInside = 0;
      for (let i = 0; i < 48 * 48; i++) {
        let changed = false;
        for (let ch = 0; ch < p.channels; ch++) {
          if (p.pixels[i * p.channels + ch] !== p.clean[i * p.channels + ch]) changed = true;
        }
        if (p.mask![i]) {
          inside++;
          if (changed) changedInside++;
        } else {
          assert.ok(!changed, `${kind}/${defect}: pixel ${i} changed outside the mask`);
        }
      }
      assert.ok(inside >= 5, `${kind}/${defect}: mask area ${inside}`);
      assert.ok(changedInside / inside > 0.8, `${kind}/${defect}: ${changedInside}/${inside}`);
    }
  }
  // The written masks match the written defects: defect pixels differ from the texture.
  const dir = await Deno.makeTempDir();
  await writeSyntheticImages(dir, { seed: 1, ...small, categories: ["weave"] });
  const [cat] = await discoverImageCategories(dir);
  for (const s of cat.test.filter((t) => t.label === 1)) {
    const mask = await decodeMask(s.maskPath!, 32);
    const area = mask.reduce((a, v) => a + v, 0);
    assert.ok(area >= 5 && area < 32 * 32 * 0.3, `${s.path}: mask area ${area}`);
  }
});

Deno.test("makeSyntheticTable: deterministic, correlated normals, planted outliers", async () => {
  const t = makeSyntheticTable({ seed: 2, n: 600, d: 6, anomalyShare: 0.1 });
  assert.deepEqual([t.n, t.d, t.values.length, t.columns], [600, 6, 3600, [
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "f6",
  ]]);
  assert.equal(t.labels!.reduce((a, v) => a + v, 0), 60);
  assert.deepEqual(makeSyntheticTable({ seed: 2, n: 600, d: 6, anomalyShare: 0.1 }), t);
  assert.notDeepEqual(
    makeSyntheticTable({ seed: 3, n: 600, d: 6, anomalyShare: 0.1 }).values,
    t.values,
  );

  // Normals are correlated: some feature pair has |r| > 0.5.
  const normals = [...Array(t.n).keys()].filter((r) => t.labels![r] === 0);
  const col = (j: number, rows: number[]) => rows.map((r) => t.values[r * t.d + j]);
  const corr = (x: number[], y: number[]) => {
    const mx = x.reduce((a, v) => a + v, 0) / x.length;
    const my = y.reduce((a, v) => a + v, 0) / y.length;
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < x.length; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) ** 2;
      syy += (y[i] - my) ** 2;
    }
    return sxy / Math.sqrt(sxx * syy);
  };
  let best = 0;
  for (let i = 0; i < t.d; i++) {
    for (let j = i + 1; j < t.d; j++) {
      best = Math.max(best, Math.abs(corr(col(i, normals), col(j, normals))));
    }
  }
  assert.ok(best > 0.5, `max |corr| among normals ${best}`);

  // Anomalies are farther from the normal mean in Mahalanobis-free terms: mean |z| is larger.
  const mean = [...Array(t.d).keys()].map((j) => col(j, normals).reduce((a, v) => a + v, 0));
  const sd = [...Array(t.d).keys()].map((j) => {
    const m = mean[j] / normals.length;
    return Math.sqrt(col(j, normals).reduce((a, v) => a + (v - m) ** 2, 0) / normals.length);
  });
  const maxZ = (r: number) =>
    Math.max(
      ...[...Array(t.d).keys()].map((j) =>
        Math.abs(t.values[r * t.d + j] - mean[j] / normals.length) / sd[j]
      ),
    );
  const outliers = [...Array(t.n).keys()].filter((r) => t.labels![r] === 1);
  assert.ok(outliers.filter((r) => maxZ(r) > 4.5).length >= outliers.length * 0.45);
  assert.ok(normals.filter((r) => maxZ(r) > 4.5).length <= 2);

  assert.throws(() => makeSyntheticTable({ anomalyShare: 1.5 }), MadError);
  assert.throws(() => makeSyntheticTable({ d: 1 }), MadError);

  // CSV: header, labels, byte-identical for the same seed.
  const dir = await Deno.makeTempDir();
  await writeSyntheticTableCsv(join(dir, "sub dir", "a.csv"), { seed: 2, n: 50, d: 3 });
  await writeSyntheticTableCsv(join(dir, "b.csv"), { seed: 2, n: 50, d: 3 });
  const a = await Deno.readTextFile(join(dir, "sub dir", "a.csv"));
  assert.equal(a, await Deno.readTextFile(join(dir, "b.csv")));
  const lines = a.trimEnd().split("\n");
  assert.equal(lines[0], "f1,f2,f3,label");
  assert.equal(lines.length, 51);
  assert.ok(lines.slice(1).every((l) => /^(-?\d+\.\d{6},){3}[01]$/.test(l)));
});

Deno.test("validationImageAnomalies: deterministic, two per normal, faint changes only", () => {
  const size = 24;
  const rng = new Rng(5);
  const image = () => new Float32Array(size * size * 3).map(() => rng.next());
  const val = [image(), image(), image()];
  const train = [image(), image()];
  const a = validationImageAnomalies(11, val, train, size);
  assert.equal(a.length, VALIDATION_ANOMALIES_PER_NORMAL * val.length);
  assert.deepEqual(validationImageAnomalies(11, val, train, size), a);
  a.forEach((altered, i) => {
    const normal = val[i % val.length];
    let changed = 0;
    altered.forEach((v, k) => {
      const delta = Math.abs(v - normal[k]);
      // Blended at the validation opacity: never more than that share of the full range.
      assert.ok(delta <= VALIDATION_OPACITY + 1e-6, `change ${delta} at ${k}`);
      if (delta > 1e-6) changed++;
    });
    assert.ok(changed > 0, `anomaly ${i} changed nothing`);
  });
});

Deno.test("syntheticTableAnomaly: a few features of a narrow row, a chimera of a wide one", () => {
  const changed = (a: Float32Array, b: Float32Array) => a.filter((v, j) => v !== b[j]).length;
  const narrow = Float32Array.from({ length: CHIMERA_WIDTH }, (_, j) => j);
  const far = narrow.map((v) => v + 100);
  const rng = new Rng(3);
  for (let i = 0; i < 300; i++) {
    assert.ok(changed(syntheticTableAnomaly(rng, narrow, far), narrow) <= 3);
  }
  // One wider: a third become chimeras, half their features the donor's, the rest as before.
  const d = CHIMERA_WIDTH + 1;
  const wide = Float32Array.from({ length: d }, (_, j) => j);
  const donor = wide.map((v) => v + 100);
  let chimeras = 0;
  for (let i = 0; i < 3000; i++) {
    const out = syntheticTableAnomaly(rng, wide, donor);
    const count = changed(out, wide);
    if (count > 3) {
      assert.equal(count, d >> 1);
      assert.ok(out.every((v, j) => v === wide[j] || v === donor[j]));
      chimeras++;
    }
  }
  assert.ok(chimeras > 900 && chimeras < 1100, `${chimeras} chimeras of 3000`);
});

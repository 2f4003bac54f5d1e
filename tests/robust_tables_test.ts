/**
 * Odd table inputs (robustness sweep s55, P1-P10, P19, P20): huge and tiny values, reordered,
 * renamed and unlabelled tables to score, headers with quoted separators, sparse and v7.3
 * MAT-files, files that are not CSV text, training normals that do not vary. Every refusal is
 * one line naming the file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readLabelledCsv, tableFromArrays } from "../lib/data/table.ts";
import { parseMat, readOddsMat } from "../lib/data/mat.ts";
import { readNpzTable } from "../lib/data/npz.ts";
import {
  applyNormalisation,
  checkNormalisation,
  fitNormalisation,
  STANDARD_BOUND,
  STD_FLOOR,
} from "../lib/data/normalise.ts";
import { moments, quartileMoments } from "../lib/model/detector.ts";
import {
  checkTableScores,
  datasetKey,
  matchTrainedColumns,
  prepareTable,
  readTableSource,
} from "../lib/train/datasets.ts";
import { scoreTableFile } from "../lib/experiment/score_files.ts";
import { evaluateCheckpoint } from "../lib/experiment/evaluate_checkpoint.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import { type Checkpoint, disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { useBackend } from "../lib/backend/mod.ts";
import {
  concat,
  csvText,
  inTempDir,
  madError,
  oneLineError,
  smoothTableRows,
  trainTinyTable,
} from "./fixtures.ts";
import { npzBytes } from "./npz_fixtures.ts";

const SPLIT = { protocol: "half-normals" as const, seed: 0, valShare: 0.1 };

// ---------------------------------------------------------------------------------------------
// Reading: files that are not CSV text, quoted headers, MAT-files, labels when scoring

Deno.test("tables: non-CSV files are refused in one line saying what they are (P19)", async () => {
  await inTempDir(async (dir) => {
    const xlsx = join(dir, "sheet.xlsx");
    await Deno.writeFile(xlsx, Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]));
    oneLineError(() => readTableSource(xlsx), "sheet.xlsx", ".xlsx", "UTF-8 CSV");
    const gz = join(dir, "data.csv.gz");
    await Deno.writeFile(gz, Uint8Array.from([0x1f, 0x8b, 8, 0]));
    oneLineError(() => readTableSource(gz), "data.csv.gz", ".gz");
    const cases: [string, Uint8Array, string][] = [
      ["gzipped.csv", Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2]), "gzip"],
      ["zipped.csv", Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]), "ZIP"],
      [
        "utf16.csv",
        concat(Uint8Array.from([0xff, 0xfe]), new Uint8Array(new Uint16Array([97, 44, 98]).buffer)),
        "UTF-16",
      ],
      ["nul.csv", new TextEncoder().encode("a,b,label\n1,2\u00000\n"), "NUL"],
    ];
    for (const [name, bytes, what] of cases) {
      const path = join(dir, name);
      await Deno.writeFile(path, bytes);
      oneLineError(() => readTableSource(path), name, what, "UTF-8 CSV");
    }
  });
});

Deno.test("tables: a quoted header name may hold the separator (P6)", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "quoted.csv");
    await Deno.writeTextFile(path, '"x, mm",b,"say ""hi""",label\n1,2,3,0\n4,5,6,1\n');
    const t = readLabelledCsv(path);
    assert.deepEqual(t.columns, ["x, mm", "b", 'say "hi"']);
    assert.deepEqual([...t.values], [1, 2, 3, 4, 5, 6]);
    const semi = join(dir, "semi.csv");
    await Deno.writeTextFile(semi, '"a, b";c;label\n1;2;0\n');
    assert.deepEqual(readLabelledCsv(semi).columns, ["a, b", "c"]);
  });
});

// A level-5 MAT-file encoder (little-endian), as in data_table_test.ts, with sparse matrices.
function tag(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + Math.ceil(data.length / 8) * 8);
  new DataView(out.buffer).setUint32(0, type, true);
  new DataView(out.buffer).setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

const int32s = (values: number[]) => new Uint8Array(Int32Array.from(values).buffer);
const doubles = (values: number[]) => new Uint8Array(Float64Array.from(values).buffer);

function matrix(
  name: string,
  mxClass: number,
  dims: number[],
  parts: Uint8Array[],
  flags = 0,
): Uint8Array {
  const body = concat(
    tag(6, int32s([mxClass | flags, 0])),
    tag(5, int32s(dims)),
    tag(1, new TextEncoder().encode(name)),
    ...parts,
  );
  return tag(14, body);
}

const dense = (name: string, rows: number, cols: number, colMajor: number[]) =>
  matrix(name, 6, [rows, cols], [tag(9, doubles(colMajor))]);

/** Sparse (mxSPARSE_CLASS) from a dense column-major matrix. */
function sparse(name: string, rows: number, cols: number, colMajor: number[]): Uint8Array {
  const ir: number[] = [];
  const jc = [0];
  const pr: number[] = [];
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      const v = colMajor[c * rows + r];
      if (v !== 0) (ir.push(r), pr.push(v));
    }
    jc.push(ir.length);
  }
  return matrix(name, 5, [rows, cols], [
    tag(5, int32s(ir)),
    tag(5, int32s(jc)),
    tag(9, doubles(pr)),
  ]);
}

function matFile(elements: Uint8Array[], text = "MATLAB 5.0 MAT-file, test", version = 0x0100) {
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode(text), 0);
  header.fill(0, 116, 124);
  new DataView(header.buffer).setUint16(124, version, true);
  header.set([0x49, 0x4d], 126);
  return concat(header, ...elements);
}

// X is 3x2, row-major [[0, 2], [-3.25, 0], [5, 1e-9]].
const X_COL_MAJOR = [0, -3.25, 5, 2, 0, 1e-9];
const X_ROWS = [0, 2, -3.25, 0, 5, 1e-9];

Deno.test("tables: sparse X is read as dense; v7.3 files get their own message (P7, P8)", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "sparse.mat");
    await Deno.writeFile(
      path,
      matFile([sparse("X", 3, 2, X_COL_MAJOR), dense("y", 3, 1, [0, 1, 0])]),
    );
    const t = readOddsMat(path);
    assert.deepEqual([...t.values], X_ROWS);
    assert.deepEqual([...t.labels!], [0, 1, 0]);
    // A v7.3 (HDF5) file carries "MATLAB 7.3" text, the endian bytes and version 0x0200.
    const v73 = matFile([], "MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00", 0x0200);
    const p73 = join(dir, "v73.mat");
    await Deno.writeFile(p73, v73);
    oneLineError(() => readOddsMat(p73), "v73.mat", "v7.3 (HDF5)", "-v7");
    madError(() => parseMat("raw.mat", matFile([], "MATLAB 5.0", 0x0200)), "raw.mat", "v7.3");
  });
});

Deno.test("tables: scoring reads tables without labels; training still needs them (P9, P10)", async () => {
  await inTempDir(async (dir) => {
    const noY = join(dir, "noy.npz");
    await Deno.writeFile(
      noY,
      await npzBytes({ descr: "<f8", shape: [2, 2], values: [1, 2, 3, 4] }, null),
    );
    assert.equal(readTableSource(noY, { scoring: true }).table.labels, null);
    assert.deepEqual([...readNpzTable(noY, "ignore").values], [1, 2, 3, 4]);
    oneLineError(() => readTableSource(noY), "noy.npz", "y.npy");
    const matNoY = join(dir, "noy.mat");
    await Deno.writeFile(matNoY, matFile([dense("X", 3, 2, X_COL_MAJOR)]));
    assert.deepEqual([...readTableSource(matNoY, { scoring: true }).table.values], X_ROWS);
    oneLineError(() => readTableSource(matNoY), "noy.mat", `"y"`);
    const unknown = join(dir, "unknown.csv");
    await Deno.writeTextFile(unknown, "a,b,label\n1,2,?\n3,4,\n5,6,1\n");
    const t = readTableSource(unknown, { scoring: true }).table;
    assert.deepEqual(t.columns, ["a", "b"]);
    assert.deepEqual([...t.values], [1, 2, 3, 4, 5, 6]);
    assert.equal(t.labels, null);
    oneLineError(() => readTableSource(unknown), "unknown.csv", "row 1", `"?"`);
  });
});

Deno.test("tables: a complex X or y is refused, not read as its real part", async () => {
  await inTempDir(async (dir) => {
    // mxDOUBLE_CLASS with the complex flag: the real part, then the imaginary part.
    const complex = (name: string, rows: number, cols: number, re: number[], im: number[]) =>
      matrix(name, 6, [rows, cols], [tag(9, doubles(re)), tag(9, doubles(im))], 0x0800);
    const y = dense("y", 3, 1, [0, 1, 0]);
    const path = join(dir, "complex.mat");
    await Deno.writeFile(path, matFile([complex("X", 3, 2, X_COL_MAJOR, [1, 2, 3, 4, 5, 6]), y]));
    oneLineError(() => readOddsMat(path), "complex.mat", "X is complex", "real(X)");
    oneLineError(() => readOddsMat(path, "ignore"), "complex.mat", "X is complex");
    const complexY = join(dir, "complex_y.mat");
    await Deno.writeFile(
      complexY,
      matFile([dense("X", 3, 2, X_COL_MAJOR), complex("y", 3, 1, [0, 1, 0], [0, 0, 1])]),
    );
    oneLineError(() => readOddsMat(complexY), "complex_y.mat", "y is complex");
    // The real file still reads.
    const real = join(dir, "real.mat");
    await Deno.writeFile(real, matFile([dense("X", 3, 2, X_COL_MAJOR), y]));
    assert.deepEqual([...readOddsMat(real).values], X_ROWS);
  });
});

Deno.test("tables: a MATLAB v4 file is named as one, with the -v7 way out", () => {
  // A v4 matrix header: MOPT 0 (little-endian doubles), 3 rows, 1 column, real, name "X\0".
  const v4 = concat(
    new Uint8Array(Int32Array.from([0, 3, 1, 0, 2]).buffer),
    new TextEncoder().encode("X\0"),
    doubles([1, 2, 3]),
  );
  oneLineError(() => parseMat("v4.mat", v4), "v4.mat", "MATLAB v4", "-v7");
  const other = new Uint8Array(200).fill(0x41);
  oneLineError(() => parseMat("other.mat", other), "other.mat", "not a MATLAB 5 MAT-file", "-v7");
});

// ---------------------------------------------------------------------------------------------
// Normalisation: tiny and huge scales, constant features

Deno.test("normalisation: a feature on a tiny scale standardises like its scaled-up copy (P2)", () => {
  const { rows } = smoothTableRows(60);
  const normals = rows.slice(0, 60).map((_, i) => i);
  const base = tableFromArrays("base", ["a", "b", "c", "d"], rows, null);
  const expected = applyNormalisation(base, fitNormalisation(base, normals)).values;
  for (const factor of [1e-7, 1e-30, 1e30]) {
    const scaled = tableFromArrays(
      "s",
      ["a", "b", "c", "d"],
      rows.map((r) => r.map((v) => v * factor)),
      null,
    );
    const got = applyNormalisation(scaled, fitNormalisation(scaled, normals)).values;
    const worst = Math.max(...got.map((v, i) => Math.abs(v - expected[i])));
    assert.ok(worst < 1e-9, `x${factor}: standardised values differ by ${worst}`);
  }
  // A feature constant over the training rows keeps the absolute floor, as before.
  const constant = tableFromArrays("k", ["a", "b"], [[0.5, 1], [0.5, 2], [0.5, 3]], null);
  assert.deepEqual(fitNormalisation(constant, [0, 1, 2]).std[0], STD_FLOOR);
  const big = tableFromArrays("k", ["a", "b"], [[1e12, 1], [1e12, 2]], null);
  assert.ok(fitNormalisation(big, [0, 1]).std[0] <= STD_FLOOR);
});

Deno.test("normalisation: a value a constant feature never took is as far out as the rarest value", () => {
  // "b" varies (standardised training values -1.22 .. 1.22); "a" and "c" never do.
  const rows = [[0, 1, 7], [0, 2, 7], [0, 3, 7]];
  const table = tableFromArrays("k", ["a", "b", "c"], rows, null, "k.csv");
  const norm = fitNormalisation(table, [0, 1, 2]);
  assert.deepEqual(norm.constant?.features, [0, 2]);
  // The rarest training value lies 1.22 standard deviations out ("b" at 1 and 3).
  assert.ok(Math.abs(norm.constant!.bound - Math.sqrt(1.5)) < 1e-12, `${norm.constant!.bound}`);
  const unseen = tableFromArrays("k", ["a", "b", "c"], [[5, 2, 6], [0, 2, 7], [-1e-3, 9, 7]], null);
  const z = applyNormalisation(unseen, norm).values;
  assert.deepEqual(Array.from(z.subarray(0, 3)), [norm.constant!.bound, 0, -norm.constant!.bound]);
  assert.deepEqual(Array.from(z.subarray(3, 6)), [0, 0, 0]);
  // However little a constant feature moves, it reaches the bound; a varying one is not bounded
  // so: 9 lies 8.6 standard deviations out.
  assert.deepEqual(z[6], -norm.constant!.bound);
  assert.ok(Math.abs(z[7] - 7 / Math.sqrt(2 / 3)) < 1e-9, `${z[7]}`);
  // A table without a constant feature records none, so its checkpoint is as before.
  const varying = tableFromArrays("v", ["b"], [[1], [2], [3]], null);
  assert.equal("constant" in fitNormalisation(varying, [0, 1, 2]), false);
  oneLineError(
    () =>
      checkNormalisation(
        { kind: "standard", mean: [0, 0], std: [1, 1], constant: { features: [2], bound: 3 } },
        "ck.json",
      ),
    "ck.json",
    "constant",
  );
});

Deno.test("normalisation: huge values fit, are bounded, and bad fits name the feature (P3, P4)", () => {
  const rows = [[1e300, 1], [2e300, 2], [3e300, 4], [1.5e300, 3]];
  const table = tableFromArrays("h", ["big", "x"], rows, null, "huge.csv");
  const norm = fitNormalisation(table, [0, 1, 2, 3]);
  assert.ok(norm.std.every((s) => Number.isFinite(s) && s > 0), JSON.stringify(norm));
  assert.ok(Math.abs(norm.mean[0] / 1.875e300 - 1) < 1e-12);
  const far = tableFromArrays("h", ["big", "x"], [[1.7e308, -1.7e308]], null);
  const z = applyNormalisation(far, norm).values;
  assert.ok(z.every((v) => Number.isFinite(v) && Math.abs(v) <= STANDARD_BOUND), `${z}`);
  oneLineError(
    () => checkNormalisation({ kind: "standard", mean: [0, 0], std: [1, Infinity] }, "ck.json"),
    "ck.json",
    "feature 2",
  );
  oneLineError(() => checkTableScores([1, 2, NaN], "new.csv"), "new.csv", "row 3", "NaN");
});

Deno.test("training refuses normals that do not vary at all (P1)", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "flat.csv");
    const rows = Array.from({ length: 30 }, () => [5, 0.25, -1]);
    const labels = rows.map(() => 0);
    rows.push([6, 1, 2], [7, 2, 3]);
    labels.push(1, 1);
    await Deno.writeTextFile(path, csvText(["a", "b", "c"], rows, labels));
    oneLineError(() => prepareTable(path, SPLIT), "flat.csv", "do not vary");
    // One varying feature is enough.
    rows[0][2] = -1.5;
    await Deno.writeTextFile(path, csvText(["a", "b", "c"], rows, labels));
    rows.forEach((r, i) => (r[2] = i % 2 ? -1 : -1.5));
    await Deno.writeTextFile(path, csvText(["a", "b", "c"], rows, labels));
    assert.equal(prepareTable(path, SPLIT).d, 3);
  });
});

Deno.test("evidence standardisation: float noise around a constant is no spread (P1)", () => {
  // Evidence of identical inputs differing by float32 rounding only (as batching makes it).
  const values = Float32Array.from({ length: 20 }, (_, i) => 53.75 + (i % 3) * 4e-6);
  for (const m of [moments(values), quartileMoments(values)]) {
    assert.ok(m.std >= 0.005, `std ${m.std}`);
    assert.ok(Math.abs((values[1] - values[0]) / m.std) < 1e-2);
  }
  // Real spread is kept.
  const spread = Float32Array.from({ length: 20 }, (_, i) => 53.75 + i * 0.5);
  assert.ok(Math.abs(moments(spread).std - 2.958) < 1e-3);
});

Deno.test("column matching: by name when both have real names, else by position (P5, P20)", () => {
  const trained = ["a", "b", "c"];
  const t = tableFromArrays("t", ["c", "a", "b"], [[3, 1, 2], [30, 10, 20]], null, "new.csv");
  const m = matchTrainedColumns(t, trained, "new.csv");
  assert.deepEqual(m.columns, trained);
  assert.deepEqual([...m.values], [1, 2, 3, 10, 20, 30]);
  const renamed = tableFromArrays("t", ["a", "x", "c"], [[1, 2, 3]], null);
  oneLineError(
    () => matchTrainedColumns(renamed, trained, "new.csv"),
    "new.csv",
    "missing b",
    "unexpected x",
  );
  const fewer = tableFromArrays("t", ["a", "b"], [[1, 2]], null);
  oneLineError(
    () => matchTrainedColumns(fewer, trained, "new.csv"),
    "new.csv",
    "a, b, c",
    "missing c",
  );
  // Generated names (.npz / .mat) and a headerless CSV's numbers: by position.
  const npz = tableFromArrays("t", ["f1", "f2", "f3"], [[1, 2, 3]], null);
  assert.equal(matchTrainedColumns(npz, trained, "x.npz"), npz);
  const headerless = tableFromArrays("t", ["0.5", "1", "2"], [[1, 2, 3]], null);
  assert.equal(matchTrainedColumns(headerless, trained, "x.csv"), headerless);
  oneLineError(
    () => matchTrainedColumns(tableFromArrays("t", ["f1"], [[1]], null), trained, "x.npz"),
    "x.npz",
    "has 1 feature columns, the model was trained on 3 (a, b, c)",
  );
});

// ---------------------------------------------------------------------------------------------
// Scoring and evaluating with a trained model

let trained: Promise<{ dir: string; ckpt: Checkpoint; table: string }> | undefined;

/** One small model trained on `base.csv` (a, b, c, d), shared by the tests below. */
function trainedModel(): Promise<{ dir: string; ckpt: Checkpoint; table: string }> {
  trained ??= (async () => {
    await useBackend("auto");
    const dir = await Deno.makeTempDir({ prefix: "mad_robust_tables_run_" });
    const table = join(dir, "base.csv");
    const { rows, labels } = smoothTableRows(60);
    await Deno.writeTextFile(table, csvText(["a", "b", "c", "d"], rows, labels));
    const best = await trainTinyTable(table, join(dir, "run"));
    return { dir, ckpt: await loadCheckpoint(best), table };
  })();
  return trained;
}

/** Scores equal up to float32 rounding. */
function near(got: number[], expected: number[]): void {
  assert.equal(got.length, expected.length);
  got.forEach((s, i) => assert.ok(Math.abs(s - expected[i]) < 1e-5, `${s} vs ${expected[i]}`));
}

async function withModel(
  fn: (m: { dir: string; ckpt: Checkpoint; table: string }) => Promise<void>,
): Promise<void> {
  const m = await trainedModel();
  try {
    await fn(m);
  } finally {
    disposeCheckpoint(m.ckpt);
    await Deno.remove(m.dir, { recursive: true });
    trained = undefined;
  }
}

Deno.test("score and eval with a trained model: order, labels, huge values, batching", async () => {
  await withModel(async ({ dir, ckpt, table }) => {
    const { rows, labels } = smoothTableRows(60);
    const scores = scoreTableFile(ckpt, table).map((s) => s.score);

    // P5: the same columns in another order score the same, in score and in eval.
    const other = join(dir, "other");
    await Deno.mkdir(other);
    const order = [3, 1, 0, 2];
    const names = order.map((j) => "abcd"[j]);
    const reordered = join(other, "base.csv");
    await Deno.writeTextFile(
      reordered,
      csvText(names, rows.map((r) => order.map((j) => r[j])), labels),
    );
    assert.deepEqual(scoreTableFile(ckpt, reordered).map((s) => s.score), scores);
    const [before] = await evaluateCheckpoint(ckpt, {
      cache: new ImageCache(),
      tablePaths: [table],
    });
    const [after] = await evaluateCheckpoint(ckpt, {
      cache: new ImageCache(),
      tablePaths: [reordered],
    });
    assert.deepEqual([...after.scores], [...before.scores]);
    const renamed = join(other, "renamed.csv");
    await Deno.writeTextFile(renamed, csvText(["a", "b", "c", "e"], rows.slice(0, 3)));
    // The checkpoint knows the table as "base": score a file of another name through a copy.
    const wrongNames = join(dir, "wrong", "base.csv");
    await Deno.mkdir(join(dir, "wrong"));
    await Deno.copyFile(renamed, wrongNames);
    oneLineError(
      () => scoreTableFile(ckpt, wrongNames),
      "wrong/base.csv",
      "missing d",
      "unexpected e",
    );
    const one = join(dir, "one", "base.csv");
    await Deno.mkdir(join(dir, "one"));
    await Deno.writeTextFile(one, csvText(["a"], rows.map((r) => [r[0]]), labels));
    await assert.rejects(
      () => evaluateCheckpoint(ckpt, { cache: new ImageCache(), tablePaths: [one] }),
      (e: Error) => /one\/base\.csv: .*a, b, c, d/.test(e.message) && !e.message.includes("\n"),
    );

    // P9, P10: unknown labels and no labels are fine for scoring.
    const unknown = join(dir, "unknown", "base.csv");
    await Deno.mkdir(join(dir, "unknown"));
    await Deno.writeTextFile(
      unknown,
      csvText(["a", "b", "c", "d"], rows.slice(0, 4), ["?", "", "1", "x"]),
    );
    // Other batches (4 rows, not 66) differ by float32 rounding only.
    near(scoreTableFile(ckpt, unknown).map((s) => s.score), scores.slice(0, 4));
    const npz = join(dir, "npz", "base.npz");
    await Deno.mkdir(join(dir, "npz"));
    const flat = rows.slice(0, 4).flat();
    await Deno.writeFile(npz, await npzBytes({ descr: "<f8", shape: [4, 4], values: flat }, null));
    near(scoreTableFile(ckpt, npz).map((s) => s.score), scores.slice(0, 4));

    // P4: huge finite values give finite scores, flagged.
    const huge = join(dir, "huge", "base.csv");
    await Deno.mkdir(join(dir, "huge"));
    const wild = [[9.97e36, 0, 0, 0], [1e300, -1e300, 0, 1], [0.1, 0.2, 1e20, 0], [-1e30, 0, 0, 0]];
    await Deno.writeTextFile(huge, csvText(["a", "b", "c", "d"], [...rows.slice(0, 2), ...wild]));
    const hugeScores = scoreTableFile(ckpt, huge, { explain: true });
    assert.ok(hugeScores.every((s) => Number.isFinite(s.score)), JSON.stringify(hugeScores));
    assert.ok(hugeScores.slice(2).every((s) => s.anomaly));
    const glitch = join(dir, "glitch", "base.csv");
    await Deno.mkdir(join(dir, "glitch"));
    const glitched = rows.map((r, i) => (labels[i] ? [1e30, ...r.slice(1)] : r));
    await Deno.writeTextFile(glitch, csvText(["a", "b", "c", "d"], glitched, labels));
    const [evaluated] = await evaluateCheckpoint(ckpt, {
      cache: new ImageCache(),
      tablePaths: [glitch],
    });
    assert.ok([...evaluated.scores].every(Number.isFinite));

    // P1: identical rows score the same, one row a batch or all together.
    const same = join(dir, "same", "base.csv");
    await Deno.mkdir(join(dir, "same"));
    const copies = [...Array(12).fill(rows[5]), rows[61], ...Array(12).fill(rows[61])];
    await Deno.writeTextFile(same, csvText(["a", "b", "c", "d"], copies));
    const alone = scoreTableFile(ckpt, same, { batchRows: 1 }).map((s) => s.score);
    const together = scoreTableFile(ckpt, same).map((s) => s.score);
    for (const s of [...alone, ...together].slice(0, 12)) assert.ok(Math.abs(s - alone[0]) < 1e-4);
    for (const s of [...alone.slice(12), ...together.slice(12)]) {
      assert.ok(Math.abs(s - alone[12]) < 1e-4);
    }

    // A file in other units (every value x1000) scores, and warns in one line naming the file
    // and the features; the training file itself does not warn.
    const quiet: string[] = [];
    scoreTableFile(ckpt, table, { onWarning: (m) => quiet.push(m) });
    assert.equal(quiet.length, 0);
    const warnings: string[] = [];
    const units = join(dir, "units", "base.csv");
    await Deno.mkdir(join(dir, "units"));
    await Deno.writeTextFile(
      units,
      csvText(["a", "b", "c", "d"], rows.map((r) => r.map((v) => v * 1000))),
    );
    const scaled = scoreTableFile(ckpt, units, { onWarning: (m) => warnings.push(m) });
    assert.equal(scaled.length, rows.length);
    assert.equal(warnings.length, 1);
    assert.ok(!warnings[0].includes("\n"));
    assert.match(
      warnings[0],
      /units\/base\.csv: the typical row lies far from the training rows on /,
    );
    assert.match(warnings[0], /of 4 features\): is the file on the training data's scale/);

    // Every row gets its p-value among the calibration normals; a false-alarm rate flags by it,
    // and the threshold chosen at training flags as before when none is given.
    const stats = ckpt.stats[datasetKey({ modality: "table", name: "base" })];
    const m = stats.normalScores!.normals;
    const scored = scoreTableFile(ckpt, table);
    for (const r of scored) {
      assert.ok(r.pValue! >= 1 / (m + 1) && r.pValue! <= 1, `${r.pValue}`);
      assert.equal(r.anomaly, r.score >= stats.threshold);
    }
    const byRate = scoreTableFile(ckpt, table, { falseAlarmRate: 0.2 });
    assert.deepEqual(byRate.map((r) => r.score), scored.map((r) => r.score));
    for (const r of byRate) assert.equal(r.anomaly, r.pValue! <= 0.2);
    const loose = scoreTableFile(ckpt, table, { falseAlarmRate: 0.9 });
    assert.ok(
      loose.filter((r) => r.anomaly).length > scored.filter((r) => r.anomaly).length,
      JSON.stringify(scored.map((r) => r.pValue)),
    );
    const unreachable: string[] = [];
    const none = scoreTableFile(ckpt, table, {
      falseAlarmRate: 0.5 / (m + 1),
      onWarning: (w) => unreachable.push(w),
    });
    assert.ok(none.every((r) => !r.anomaly));
    assert.equal(unreachable.length, 1);
    assert.match(unreachable[0], /base\.csv: table base: a false-alarm rate of .* nothing will be/);
  });
});

Deno.test("a model trained on a real header f1..fd refuses a file with another header (QA 8)", async () => {
  await useBackend("auto");
  const dir = await Deno.makeTempDir({ prefix: "mad_robust_tables_fnames_" });
  let ckpt: Checkpoint | undefined;
  try {
    const names = ["f1", "f2", "f3", "f4"];
    const { rows, labels } = smoothTableRows(60);
    const table = join(dir, "base.csv");
    await Deno.writeTextFile(table, csvText(names, rows, labels));
    ckpt = await loadCheckpoint(await trainTinyTable(table, join(dir, "run")));
    const record = ckpt.datasets.find((d) => d.modality === "table")!;
    assert.equal(record.columnsFromHeader, true);
    const scores = scoreTableFile(ckpt, table).map((s) => s.score);

    // A header that differs in one name is refused in one line naming the file and the column.
    const renamed = join(dir, "renamed", "base.csv");
    await Deno.mkdir(join(dir, "renamed"));
    await Deno.writeTextFile(renamed, csvText(["f1", "f2", "f3", "TSH"], rows, labels));
    oneLineError(
      () => scoreTableFile(ckpt!, renamed),
      "renamed/base.csv",
      "missing f4",
      "unexpected TSH",
    );
    await assert.rejects(
      () => evaluateCheckpoint(ckpt!, { cache: new ImageCache(), tablePaths: [renamed] }),
      (e: Error) =>
        /renamed\/base\.csv: .*missing f4; unexpected TSH/.test(e.message) &&
        !e.message.includes("\n"),
    );

    // The same header in another order is reordered; a headerless file and an .npz go by position.
    const reordered = join(dir, "reordered", "base.csv");
    await Deno.mkdir(join(dir, "reordered"));
    const order = [2, 0, 3, 1];
    await Deno.writeTextFile(
      reordered,
      csvText(order.map((j) => names[j]), rows.map((r) => order.map((j) => r[j])), labels),
    );
    near(scoreTableFile(ckpt, reordered).map((s) => s.score), scores);
    const headerless = join(dir, "headerless", "base.csv");
    await Deno.mkdir(join(dir, "headerless"));
    await Deno.writeTextFile(headerless, rows.map((r) => r.join(",")).join("\n") + "\n");
    near(scoreTableFile(ckpt, headerless).map((s) => s.score), scores);
    const npz = join(dir, "npz", "base.npz");
    await Deno.mkdir(join(dir, "npz"));
    await Deno.writeFile(
      npz,
      await npzBytes({ descr: "<f8", shape: [4, 4], values: rows.slice(0, 4).flat() }, null),
    );
    near(scoreTableFile(ckpt, npz).map((s) => s.score), scores.slice(0, 4));
  } finally {
    if (ckpt) disposeCheckpoint(ckpt);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("column matching: generated f1..fd names stay positional unless both are headers", () => {
  const trained = ["f1", "f2", "f3"];
  const renamed = { ...tableFromArrays("t", ["f1", "f2", "x"], [[1, 2, 3]], null), header: true };
  // An older checkpoint, or one trained on a .mat/.npz: by position, as before.
  assert.equal(matchTrainedColumns(renamed, trained, "new.csv"), renamed);
  oneLineError(
    () => matchTrainedColumns(renamed, trained, "new.csv", true),
    "new.csv",
    "missing f3",
    "unexpected x",
  );
  // A file whose columns were generated (no header line) is taken by position.
  const npz = tableFromArrays("t", ["f1", "f2", "f3"], [[1, 2, 3]], null);
  assert.equal(matchTrainedColumns(npz, trained, "x.npz", true), npz);
  const headerless = tableFromArrays("t", ["1", "2", "3"], [[1, 2, 3]], null);
  assert.equal(matchTrainedColumns(headerless, trained, "x.csv", true), headerless);
});

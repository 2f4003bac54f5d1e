import assert from "node:assert/strict";
import { join } from "node:path";
import { MadError } from "../lib/errors.ts";
import { readNpz, readNpzTable } from "../lib/data/npz.ts";
import { parseNpy } from "../lib/data/npy.ts";
import { crc32, zipEntries } from "../lib/data/zip.ts";
import { prepareTable, readTableSource } from "../lib/train/datasets.ts";
import { npyBytes, type NpySpec, npzBytes, zipBytes } from "./npz_fixtures.ts";
import { crc32 as pngCrc32 } from "./fixtures.ts";

const ADBENCH = new URL("../../shared/datasets/tables/adbench", import.meta.url).pathname;
const hasAdbench = (() => {
  try {
    return Deno.statSync(join(ADBENCH, "14_glass.npz")).isFile;
  } catch {
    return false;
  }
})();

async function withNpz(
  name: string,
  bytes: Uint8Array | Promise<Uint8Array>,
  fn: (path: string) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mad_npz_" });
  try {
    const path = join(dir, name);
    await Deno.writeFile(path, await bytes);
    fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertMadError(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MadError, `expected MadError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `message has several lines: ${e.message}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

/** 4 rows x 3 features, integer-valued so that every dtype holds them exactly. */
const X_VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 120];
const Y_VALUES = [0, 1, 0, 0];
const x = (descr: string, fortran = false, version = 1): NpySpec => ({
  descr,
  shape: [4, 3],
  values: X_VALUES,
  fortran,
  version,
});
const y = (descr = "<i8", shape = [4]): NpySpec => ({ descr, shape, values: Y_VALUES });

Deno.test("zip: our CRC-32 agrees with the PNG fixture's", () => {
  const bytes = new TextEncoder().encode("MADformer reads .npz tables");
  assert.equal(crc32(bytes), pngCrc32(bytes));
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("npz: every dtype, C and Fortran order, stored and deflated, versions 1-3", async () => {
  for (const descr of ["<f8", "<f4", "|u1", "<i4", "<i8", "<i2", "|i1", "<u4"]) {
    for (const fortran of [false, true]) {
      for (const deflate of [false, true]) {
        const version = 1 + (X_VALUES.length + descr.length + Number(fortran)) % 3;
        await withNpz(
          "t.npz",
          npzBytes(x(descr, fortran, version), y(descr === "<f8" ? "<i4" : "<i8"), { deflate }),
          (path) => {
            const t = readNpzTable(path);
            const what = `${descr} fortran=${fortran} deflate=${deflate} v${version}`;
            assert.deepEqual([...t.values], X_VALUES, what);
            assert.deepEqual([...t.labels!], Y_VALUES, what);
            assert.deepEqual([t.n, t.d, t.name], [4, 3, "t"], what);
            assert.deepEqual(t.columns, ["f1", "f2", "f3"]);
          },
        );
      }
    }
  }
});

Deno.test("npz: fractional floats, a column of labels (n x 1) and extra arrays", async () => {
  const values = [0.1, -2.5e-8, 3.25, 1e300, -0, 6.5];
  await withNpz(
    "frac.npz",
    npzBytes(
      { descr: "<f8", shape: [3, 2], values, fortran: true },
      { descr: "<i4", shape: [3, 1], values: [1, 0, 0] },
      { extra: [{ name: "notes.txt", data: new TextEncoder().encode("hi") }] },
    ),
    (path) => {
      const t = readNpzTable(path);
      assert.deepEqual([...t.values], values);
      assert.deepEqual([...t.labels!], [1, 0, 0]);
      assert.deepEqual([...readNpz(path).keys()].sort(), ["X", "y"]);
    },
  );
});

Deno.test("npz: only X and y are read; other arrays, and y when scoring, may be anything", async () => {
  // A string array beside X and y (dataset notes, feature names): not read, so no error.
  const strings = (name: string, shape: number[]): { name: string; data: Uint8Array } => ({
    name,
    data: npyBytes({
      descr: "<i4",
      shape,
      values: shape.length ? new Array(shape[0] * 5).fill(104) : [],
      header: `{'descr': '<U5', 'fortran_order': False, 'shape': (${shape.join(",")},), }`,
    }),
  });
  await withNpz(
    "extra.npz",
    npzBytes(x("<f8"), y(), { extra: [strings("meta.npy", [1])] }),
    (path) => {
      const t = readNpzTable(path);
      assert.deepEqual([...t.values], X_VALUES);
      assert.deepEqual([...t.labels!], Y_VALUES);
      // Read on its own, the extra array is still refused with its dtype.
      assertMadError(() => readNpz(path), "meta.npy", "'<U5' is not supported", "float16");
      assert.deepEqual([...readNpz(path, ["X"]).keys()], ["X"]);
    },
  );
  // Scoring needs no labels: a y of strings is left unread there, and refused for training.
  await withNpz(
    "ystr.npz",
    npzBytes(x("<f8"), null, { extra: [strings("y.npy", [4])] }),
    (path) => {
      const t = readNpzTable(path, "ignore");
      assert.equal(t.labels, null);
      assert.deepEqual([...t.values], X_VALUES);
      assertMadError(() => readNpzTable(path), "ystr.npz", "y.npy", "'<U5' is not supported");
    },
  );
});

Deno.test("npz: float16 X is read exactly (normal, negative, subnormal and largest values)", async () => {
  // Half-precision bit patterns of 1, 2, -2.5, 2^-24, 65504 and 0.5, written as int16.
  const bits = [0x3c00, 0x4000, 0xc100 - 0x10000, 0x0001, 0x7bff, 0x3800];
  const half: NpySpec = {
    descr: "<i2",
    shape: [3, 2],
    values: bits,
    header: "{'descr': '<f2', 'fortran_order': False, 'shape': (3, 2), }",
  };
  await withNpz(
    "half.npz",
    npzBytes(half, { descr: "<i8", shape: [3], values: [0, 0, 1] }),
    (path) => {
      const t = readNpzTable(path);
      assert.deepEqual([...t.values], [1, 2, -2.5, 2 ** -24, 65504, 0.5]);
      assert.deepEqual([...t.labels!], [0, 0, 1]);
    },
  );
  // Infinity in float16 is refused like any infinite feature.
  await withNpz(
    "halfinf.npz",
    npzBytes({ ...half, values: [0x7c00, ...bits.slice(1)] }, {
      descr: "<i8",
      shape: [3],
      values: [0, 0, 1],
    }),
    (path) => assertMadError(() => readNpzTable(path), "halfinf.npz", "X row 1, column f1"),
  );
});

Deno.test("npy: Fortran order of three dimensions comes back in C order", () => {
  // NumPy: np.arange(24).reshape(2, 3, 4) saved with order='F' stores a.ravel('F').
  const shape = [2, 3, 4];
  const c = Array.from({ length: 24 }, (_, i) => i);
  const f: number[] = [];
  for (let k = 0; k < 4; k++) {
    for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) f.push(c[i * 12 + j * 4 + k]);
  }
  const bytes = npyBytes({ descr: "<f8", shape, values: f, header: undefined });
  // Written as C data holding the F sequence, then declared Fortran in the header.
  const header = `{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }`;
  const fBytes = npyBytes({ descr: "<f8", shape, values: f, header });
  assert.deepEqual([...parseNpy("a.npy", "a", bytes).data], f);
  assert.deepEqual([...parseNpy("a.npy", "a", fBytes).data], c);
});

Deno.test("npz: whole tables split by half-normals, the same rows as the CSV of the table", async () => {
  const n = 40;
  const rows = Array.from({ length: n }, (_, i) => [i, (i * 7) % 11, i % 3 === 0 ? 5 : 1]);
  const labels = rows.map((_, i) => (i % 8 === 3 ? 1 : 0));
  const dir = await Deno.makeTempDir({ prefix: "mad_npz_split_" });
  try {
    const npz = join(dir, "same.npz");
    const csv = join(dir, "same.csv");
    await Deno.writeFile(
      npz,
      await npzBytes(
        { descr: "<f8", shape: [n, 3], values: rows.flat(), fortran: true },
        { descr: "<i8", shape: [n], values: labels },
      ),
    );
    await Deno.writeTextFile(
      csv,
      "f1,f2,f3,label\n" + rows.map((r, i) => `${r.join(",")},${labels[i]}`).join("\n") + "\n",
    );
    assert.equal(readTableSource(npz).protocol, "half-normals");
    const split = { protocol: "half-normals" as const, seed: 3, valShare: 0.2 };
    const a = prepareTable(npz, split);
    const b = prepareTable(csv, split);
    assert.equal(a.record.name, "same");
    assert.deepEqual([a.train, a.val, a.test, a.testLabels], [
      b.train,
      b.val,
      b.test,
      b.testLabels,
    ]);
    const normals = labels.filter((l) => l === 0).length;
    const anomalies = n - normals;
    assert.equal(a.testLabels.length, normals - Math.floor(normals / 2) + anomalies);
    assert.equal(a.testLabels.reduce((s, l) => s + l, 0), anomalies);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npz: what cannot be read is a one-line MadError naming the file", async () => {
  const cases: [string, Promise<Uint8Array> | Uint8Array, string[]][] = [
    ["bigendian.npz", npzBytes(x(">f8"), y()), ["bigendian.npz", "X.npy", "big-endian", ">f8"]],
    ["object.npz", npzBytes(x("|O"), y()), ["object.npz", "X.npy", "object arrays"]],
    ["complex.npz", npzBytes(x("<c16"), y()), ["complex.npz", "'<c16' is not supported"]],
    [
      "record.npz",
      npzBytes({
        ...x("<f8"),
        header: "{'descr': [('a', '<f8')], 'fortran_order': False, " +
          "'shape': (4,), }",
      }, y()),
      ["record.npz", "structured"],
    ],
    ["nox.npz", npzBytes(null, y()), ["nox.npz", "no X.npy", "found: y.npy"]],
    ["noy.npz", npzBytes(x("<f8"), null), ["noy.npz", "no y.npy", "found: X.npy"]],
    [
      "mismatch.npz",
      npzBytes(x("<f8"), { descr: "<i8", shape: [3], values: [0, 1, 0] }),
      ["mismatch.npz", "shape mismatch", "4x3", "(3)"],
    ],
    [
      "labels.npz",
      npzBytes(x("<f8"), { descr: "<i8", shape: [4], values: [0, 1, 2, 0] }),
      ["labels.npz", "y row 3 is 2", "0 or 1"],
    ],
    [
      "nan.npz",
      npzBytes({ descr: "<f8", shape: [2, 2], values: [1, 2, NaN, 4] }, {
        descr: "<i4",
        shape: [2],
        values: [0, 0],
      }),
      ["nan.npz", "X row 2, column f1", "NaN"],
    ],
    [
      "inf.npz",
      npzBytes({ descr: "<f4", shape: [2, 2], values: [1, Infinity, 3, 4] }, {
        descr: "<i4",
        shape: [2],
        values: [0, 0],
      }),
      ["inf.npz", "X row 1, column f2", "Infinity"],
    ],
    [
      "vector.npz",
      npzBytes({ descr: "<f8", shape: [4], values: [1, 2, 3, 4] }, y()),
      ["vector.npz", "X has shape (4)", "rows x features"],
    ],
    [
      "empty.npz",
      npzBytes({ descr: "<f8", shape: [0, 3], values: [] }, {
        descr: "<i8",
        shape: [0],
        values: [],
      }),
      ["empty.npz", "X is empty"],
    ],
    ["text.npz", new TextEncoder().encode("X,y\n1,0\n"), ["text.npz", "not a ZIP archive"]],
    ["tiny.npz", new Uint8Array(3), ["tiny.npz", "not a ZIP archive"]],
    [
      "method.npz",
      zipBytes([{ name: "X.npy", data: npyBytes(x("<f8")), deflate: false, method: 12 }]),
      ["method.npz", "X.npy", "compression method 12"],
    ],
    [
      "crc.npz",
      zipBytes([{ name: "X.npy", data: npyBytes(x("<f8")), crc: 1234 }]),
      ["crc.npz", "X.npy", "CRC-32"],
    ],
    [
      "magic.npz",
      zipBytes([{ name: "X.npy", data: new TextEncoder().encode("1,2,3\n") }]),
      ["magic.npz", "X.npy", "not a NumPy .npy array"],
    ],
    [
      "version.npz",
      zipBytes([{ name: "X.npy", data: npyBytes({ ...x("<f8"), version: 4 }) }]),
      ["version.npz", "X.npy", "format version 4"],
    ],
  ];
  for (const [name, bytes, parts] of cases) {
    await withNpz(name, bytes, (path) => assertMadError(() => readNpzTable(path), ...parts));
  }
  assertMadError(() => readNpzTable("/nonexistent/none.npz"), "none.npz", "not found");
});

Deno.test("npz: truncated archives and data", async () => {
  const whole = await npzBytes(x("<f8"), y(), { deflate: false });
  await withNpz("cut.npz", whole.subarray(0, whole.length - 30), (path) => {
    assertMadError(() => readNpzTable(path), "cut.npz");
  });
  // X.npy holding fewer values than its shape says.
  const short = npyBytes(x("<f8")).subarray(0, npyBytes(x("<f8")).length - 8);
  await withNpz(
    "short.npz",
    zipBytes([{ name: "X.npy", data: short }, { name: "y.npy", data: npyBytes(y()) }]),
    (path) => assertMadError(() => readNpzTable(path), "short.npz", "X.npy", "holds 88 data"),
  );
  // A corrupt deflate stream.
  const entries = await zipBytes([{ name: "X.npy", data: npyBytes(x("<f8")) }]);
  const broken = entries.slice();
  broken.fill(0xff, 40, 60);
  await withNpz("deflate.npz", broken, (path) => {
    assert.equal(zipEntries(path, broken).size, 1);
    assertMadError(() => readNpzTable(path), "deflate.npz", "X.npy");
  });
});

/** rows, features and anomalies of each ADBench table (README of the shared datasets). */
const ADBENCH_SHAPES: Record<string, [number, number, number]> = {
  "7_Cardiotocography": [2114, 21, 466],
  "12_fault": [1941, 27, 673],
  "14_glass": [214, 7, 9],
  "15_Hepatitis": [80, 19, 13],
  "20_letter": [1600, 32, 100],
  "21_Lymphography": [148, 18, 6],
  "27_PageBlocks": [5393, 10, 510],
  "30_satellite": [6435, 36, 2036],
  "37_Stamps": [340, 9, 31],
  "39_vertebral": [240, 6, 30],
  "40_vowels": [1456, 12, 50],
  "41_Waveform": [3443, 21, 100],
  "43_WDBC": [367, 30, 10],
  "44_Wilt": [4819, 5, 257],
  "45_wine": [129, 13, 10],
  "46_WPBC": [198, 33, 47],
  "47_yeast": [1484, 8, 507],
};

Deno.test({
  name: "npz: the 17 ADBench tables read, with their shapes, and split by half-normals",
  ignore: !hasAdbench,
  fn() {
    const files = [...Deno.readDirSync(ADBENCH)].map((e) => e.name).filter((f) =>
      f.endsWith(".npz")
    );
    assert.equal(files.length, 17);
    for (const file of files) {
      const path = join(ADBENCH, file);
      const t = readNpzTable(path);
      const [n, d, anomalies] = ADBENCH_SHAPES[t.name];
      assert.deepEqual([t.n, t.d, t.labels!.reduce((a, b) => a + b, 0)], [n, d, anomalies], file);
      const p = prepareTable(path, { protocol: "half-normals", seed: 0, valShare: 0.1 });
      const normals = n - anomalies;
      assert.equal(p.testLabels.length, normals - Math.floor(normals / 2) + anomalies, file);
      assert.equal((p.train.length + p.val.length) / d, Math.floor(normals / 2), file);
    }
    // Spot values, against NumPy: X[0, :2] and X[1, 0] (Fortran-ordered float64 and uint8).
    const fault = readNpzTable(join(ADBENCH, "12_fault.npz"));
    assert.deepEqual(
      [fault.values[0], fault.values[1], fault.values[27]],
      [-1.01621949730739, -1.14134478846243, 0.141857712629202],
    );
    const satellite = readNpzTable(join(ADBENCH, "30_satellite.npz"));
    assert.deepEqual([satellite.values[0], satellite.values[1], satellite.values[36]], [
      92,
      115,
      84,
    ]);
  },
});

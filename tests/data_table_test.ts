import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { join } from "node:path";
import { noLabelColumn, parseLabel, readLabelledCsv, tableFromArrays } from "../lib/data/table.ts";
import { readOddsMat } from "../lib/data/mat.ts";
import { readUciThyroid } from "../lib/data/uci.ts";
import { concat, hasSharedThyroid, madError, SHARED_THYROID } from "./fixtures.ts";

async function withFile(
  name: string,
  content: string | Uint8Array,
  fn: (path: string) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mad_table_" });
  try {
    const path = join(dir, name);
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("csv: each label form is accepted", async () => {
  const forms: [string, string, string][] = [
    ["0", "1", "plain"],
    ["0.0", "1.0", "float"],
    ["normal", "anomaly", "words"],
    ["Good", "BAD", "good/bad mixed case"],
  ];
  for (const [neg, pos] of forms) {
    await withFile("t.csv", `a,b,Label\n1,2,${neg}\n3.5,-4e2,${pos}\n`, (path) => {
      const t = readLabelledCsv(path);
      assert.deepEqual(t.columns, ["a", "b"]);
      assert.equal(t.n, 2);
      assert.equal(t.d, 2);
      assert.deepEqual([...t.values], [1, 2, 3.5, -400]);
      assert.deepEqual([...t.labels!], [0, 1]);
      assert.equal(t.name, "t");
      assert.equal(t.source, path);
    });
  }
});

Deno.test("csv: label column may sit anywhere; BOM, CRLF, blank lines", async () => {
  const text = "\uFEFFlabel,x,y\r\n0,1,2\r\n\r\n1,3,4\r\n\r\n";
  await withFile("bom.csv", text, (path) => {
    const t = readLabelledCsv(path, { name: "demo" });
    assert.equal(t.name, "demo");
    assert.deepEqual(t.columns, ["x", "y"]);
    assert.deepEqual([...t.values], [1, 2, 3, 4]);
    assert.deepEqual([...t.labels!], [0, 1]);
  });
});

Deno.test("csv: semicolon-separated file", async () => {
  await withFile("semi.csv", "f1;f2;label\n0.5;1;normal\n2;3;anomaly\n", (path) => {
    const t = readLabelledCsv(path);
    assert.deepEqual(t.columns, ["f1", "f2"]);
    assert.deepEqual([...t.values], [0.5, 1, 2, 3]);
    assert.deepEqual([...t.labels!], [0, 1]);
  });
});

Deno.test("csv: the separator is the one that splits the header and the first rows alike", async () => {
  // Commas inside unquoted names of a `;` file: the rows have no commas, so `;` it is.
  const units = "temp, C;pressure, bar;flow, l/min;label\n0.1234;1.2;3.4;0\n2;3;4;1\n";
  await withFile("units.csv", units, (path) => {
    const t = readLabelledCsv(path);
    assert.deepEqual(t.columns, ["temp, C", "pressure, bar", "flow, l/min"]);
    assert.deepEqual([...t.values], [0.1234, 1.2, 3.4, 2, 3, 4]);
    assert.deepEqual([...t.labels!], [0, 1]);
  });
  // A comma file whose names hold a semicolon stays a comma file; so does a one-column file.
  await withFile("c.csv", "a;x,b,label\n1,2,0\n3,4,1\n", (path) => {
    assert.deepEqual(readLabelledCsv(path).columns, ["a;x", "b"]);
  });
  await withFile("one.csv", "a\n1\n2\n", (path) => {
    assert.deepEqual(readLabelledCsv(path, { requireLabel: false }).columns, ["a"]);
  });
  // Tabs, with commas in the names.
  await withFile("t.tsv", "x, mm\ty, mm\tlabel\n1\t2\t0\n", (path) => {
    assert.deepEqual(readLabelledCsv(path).columns, ["x, mm", "y, mm"]);
  });
  // Ragged rows are still refused as before, by the header's separator.
  await withFile("ragged.csv", "a,b,label\n1,2,0\n1,2,3,0\n", (path) => {
    madError(() => readLabelledCsv(path), "ragged.csv", "row 2 (line 3) has 4 fields");
  });
});

Deno.test("csv: Excel's sep= first line sets the separator and is not the header", async () => {
  await withFile("excel.csv", "sep=;\na;b;label\n1,5;2;0\n3;4;1\n", (path) => {
    // Its line still counts in messages: the decimal comma is on line 3.
    madError(() => readLabelledCsv(path), "excel.csv", "row 1 (line 3)", "decimal comma");
  });
  await withFile("excel2.csv", "sep=;\r\na;b;label\r\n1.5;2;0\r\n3;4;1\r\n", (path) => {
    const t = readLabelledCsv(path);
    assert.deepEqual(t.columns, ["a", "b"]);
    assert.deepEqual([...t.values], [1.5, 2, 3, 4]);
  });
  await withFile("excel3.csv", "sep=,\na,b,label\n1,2,0\n", (path) => {
    assert.deepEqual(readLabelledCsv(path).columns, ["a", "b"]);
  });
  await withFile("excel4.csv", "sep=;\n", (path) => {
    madError(() => readLabelledCsv(path), "excel4.csv", "no header");
  });
  await withFile("excel5.csv", "sep=x\naxb\n", (path) => {
    madError(() => readLabelledCsv(path), "excel5.csv", `names the separator "x"`);
  });
});

Deno.test("csv: no label column gives null labels when not required", async () => {
  await withFile("nolabel.csv", "a,b\n1,2\n", (path) => {
    const t = readLabelledCsv(path, { requireLabel: false });
    assert.equal(t.labels, null);
    madError(() => readLabelledCsv(path), "nolabel.csv", "no 'label' column");
  });
});

Deno.test("csv: a first line of numbers is the first row, not a header", async () => {
  await withFile("headerless.csv", "1.5,2,0\n-3,4e2,1\n", (path) => {
    const t = readLabelledCsv(path, { requireLabel: false });
    assert.equal(t.n, 2);
    assert.deepEqual(t.columns, ["1", "2", "3"]);
    assert.deepEqual([...t.values], [1.5, 2, 0, -3, 400, 1]);
    assert.equal(t.labels, null);
  });
  // Row numbers in errors count from the file's first line.
  await withFile("headerless_bad.csv", "1,2\n3,x\n", (path) => {
    madError(
      () => readLabelledCsv(path, { requireLabel: false }),
      "headerless_bad.csv",
      "row 2 (line 2)",
      `column "2"`,
    );
  });
  // A header with one name among numbers is still a header.
  await withFile("named.csv", "1,2,label\n3,4,0\n", (path) => {
    const t = readLabelledCsv(path);
    assert.equal(t.n, 1);
    assert.deepEqual(t.columns, ["1", "2"]);
  });
});

Deno.test("csv: a missing label column is named, with the rename when one looks like it", async () => {
  await withFile("y.csv", "a,b,y\n1,2,0\n", (path) => {
    madError(() => readLabelledCsv(path), "y.csv", "no 'label' column (columns: a, b, y)", `"y"`);
  });
  assert.equal(noLabelColumn(["a", "b"]), "no 'label' column (columns: a, b)");
  // A headerless CSV's numbered columns: the way out is a header.
  assert.match(noLabelColumn(["1", "2", "3"]), /; the file has no header: add one that names/);
  assert.match(noLabelColumn(["a", "Class"], "why"), /: why; if "Class" holds the labels/);
});

Deno.test("csv: one-line file with header only", async () => {
  await withFile("h.csv", "a,b,label", (path) => {
    madError(() => readLabelledCsv(path), "h.csv", "no data rows");
  });
});

Deno.test("csv: errors name the file and the problem", async () => {
  madError(() => readLabelledCsv("/nonexistent/missing.csv"), "missing.csv", "not found");
  const cases: [string, string, string[]][] = [
    ["empty.csv", "", ["empty.csv", "empty"]],
    ["blank.csv", "\n\n  \n", ["blank.csv", "empty"]],
    ["badlabel.csv", "a,label\n1,0\n2,maybe\n", ["badlabel.csv", `"maybe"`, "row 2", "line 3"]],
    ["twolabel.csv", "a,label\n1,2\n", ["twolabel.csv", `"2"`, "row 1"]],
    ["emptylabel.csv", "a,label\n1,\n", ["emptylabel.csv", "empty label", "row 1"]],
    ["text.csv", "a,b,label\n1,2,0\n1,abc,1\n", ["text.csv", `column "b"`, "row 2", "abc"]],
    ["emptycell.csv", "a,b,label\n1,,0\n", ["emptycell.csv", `column "b"`, "row 1", "empty cell"]],
    ["nan.csv", "a,b,label\n1,2,0\nNaN,2,0\n", ["nan.csv", `column "a"`, "row 2", "NaN"]],
    ["inf.csv", "a,b,label\n1,inf,0\n", ["inf.csv", `column "b"`, "row 1", "infinite"]],
    ["ragged.csv", "a,b,label\n1,2,0\n1,2,3,0\n", ["ragged.csv", "line 3", "4 fields"]],
    ["dup.csv", "a,a,label\n1,2,0\n", ["dup.csv", `"a" appears twice`]],
    [
      "case.csv",
      "a,Label,label\n1,0,0\n",
      ["case.csv", `"Label" and "label" differ only in case`],
    ],
    ["pdindex.csv", ",a,label\n0,1,0\n", ["pdindex.csv", "column 1 has no name", "index=False"]],
    ["onlylabel.csv", "label\n0\n", ["onlylabel.csv", "no feature columns"]],
  ];
  for (const [name, text, parts] of cases) {
    await withFile(name, text, (path) => madError(() => readLabelledCsv(path), ...parts));
  }
});

Deno.test("csv: blank lines keep file line numbers right in errors", async () => {
  await withFile("gap.csv", "a,label\n\n1,0\n\nx,1\n", (path) => {
    madError(() => readLabelledCsv(path), "gap.csv", "row 2 (line 5)");
  });
});

Deno.test("parseLabel and tableFromArrays", () => {
  assert.equal(parseLabel(" 1.0 "), 1);
  assert.equal(parseLabel("NORMAL"), 0);
  assert.equal(parseLabel("0.5"), null);
  assert.equal(parseLabel(null), null);
  const t = tableFromArrays("x", ["a", "b"], [[1, 2], [3, 4]], [0, 1]);
  assert.deepEqual([...t.values], [1, 2, 3, 4]);
  assert.deepEqual([...t.labels!], [0, 1]);
  madError(() => tableFromArrays("x", ["a", "b"], [[1]], null), "x", "row 1");
});

// ---- MAT-file encoder for tests: level 5, little-endian. ----

function tag(type: number, data: Uint8Array, small = false): Uint8Array {
  if (small && data.length <= 4) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setUint32(0, (data.length << 16) | type, true);
    out.set(data, 4);
    return out;
  }
  const padded = Math.ceil(data.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

/** A double matrix; `asUint8` stores the values as miUINT8, as MATLAB does for small ints. */
function matrix(name: string, rows: number, cols: number, colMajor: number[], asUint8 = false) {
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, 6, true); // mxDOUBLE_CLASS
  const dims = new Uint8Array(8);
  new DataView(dims.buffer).setInt32(0, rows, true);
  new DataView(dims.buffer).setInt32(4, cols, true);
  const real = asUint8
    ? tag(2, Uint8Array.from(colMajor))
    : tag(9, new Uint8Array(Float64Array.from(colMajor).buffer));
  const body = concat(
    tag(6, flags),
    tag(5, dims),
    tag(1, new TextEncoder().encode(name), true),
    real,
  );
  const head = new Uint8Array(8);
  new DataView(head.buffer).setUint32(0, 14, true);
  new DataView(head.buffer).setUint32(4, body.length, true);
  return concat(head, body);
}

function compressed(element: Uint8Array): Uint8Array {
  const z = new Uint8Array(deflateSync(element));
  const head = new Uint8Array(8);
  new DataView(head.buffer).setUint32(0, 15, true);
  new DataView(head.buffer).setUint32(4, z.length, true);
  return concat(head, z);
}

function matFile(elements: Uint8Array[]): Uint8Array {
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode("MATLAB 5.0 MAT-file, test"), 0);
  header.fill(0, 116, 124);
  new DataView(header.buffer).setUint16(124, 0x0100, true);
  header.set([0x49, 0x4d], 126); // "IM": little-endian
  return concat(header, ...elements);
}

// X is 3x2 row-major [[0.1, 2], [-3.25, 4], [5, 1e-9]]; y = [0, 1, 0].
const X_COL_MAJOR = [0.1, -3.25, 5, 2, 4, 1e-9];
const X_ROWS = [0.1, 2, -3.25, 4, 5, 1e-9];

Deno.test("mat: uncompressed encoder round-trip", async () => {
  const bytes = matFile([matrix("X", 3, 2, X_COL_MAJOR), matrix("y", 3, 1, [0, 1, 0])]);
  await withFile("tiny.mat", bytes, (path) => {
    const t = readOddsMat(path);
    assert.equal(t.name, "tiny");
    assert.equal(t.n, 3);
    assert.equal(t.d, 2);
    assert.deepEqual(t.columns, ["f1", "f2"]);
    assert.deepEqual([...t.values], X_ROWS);
    assert.deepEqual([...t.labels!], [0, 1, 0]);
  });
});

Deno.test("mat: compressed elements and uint8-stored y", async () => {
  const bytes = matFile([
    compressed(matrix("y", 3, 1, [1, 0, 0], true)),
    compressed(matrix("X", 3, 2, X_COL_MAJOR)),
  ]);
  await withFile("z.mat", bytes, (path) => {
    const t = readOddsMat(path);
    assert.deepEqual([...t.values], X_ROWS);
    assert.deepEqual([...t.labels!], [1, 0, 0]);
  });
});

Deno.test("mat: errors", async () => {
  const good = matFile([matrix("X", 3, 2, X_COL_MAJOR), matrix("y", 3, 1, [0, 1, 0])]);
  await withFile(
    "text.mat",
    "a,b\n1,2\n",
    (p) => madError(() => readOddsMat(p), "text.mat", "not a MATLAB 5"),
  );
  await withFile("cut.mat", good.subarray(0, good.length - 20), (p) => {
    madError(() => readOddsMat(p), "cut.mat", "truncated");
  });
  const z = compressed(matrix("X", 3, 2, X_COL_MAJOR));
  await withFile("cutz.mat", matFile([z]).subarray(0, 128 + z.length - 5), (p) => {
    madError(() => readOddsMat(p), "cutz.mat", "truncated");
  });
  await withFile("noy.mat", matFile([matrix("X", 3, 2, X_COL_MAJOR)]), (p) => {
    madError(() => readOddsMat(p), "noy.mat", `"y"`);
  });
  await withFile("nox.mat", matFile([matrix("y", 3, 1, [0, 1, 0])]), (p) => {
    madError(() => readOddsMat(p), "nox.mat", `"X"`);
  });
  const mismatch = matFile([matrix("X", 3, 2, X_COL_MAJOR), matrix("y", 2, 1, [0, 1])]);
  await withFile("shape.mat", mismatch, (p) => {
    madError(() => readOddsMat(p), "shape.mat", "shape mismatch", "3x2", "2x1");
  });
  const badY = matFile([matrix("X", 3, 2, X_COL_MAJOR), matrix("y", 3, 1, [0, 2, 0])]);
  await withFile(
    "y2.mat",
    badY,
    (p) => madError(() => readOddsMat(p), "y2.mat", "y(2) is 2"),
  );
  madError(() => readOddsMat("/nonexistent/none.mat"), "none.mat", "not found");
});

Deno.test({
  name: "mat: ODDS thyroid.mat equals thyroid.csv",
  ignore: !hasSharedThyroid,
  fn() {
    const mat = readOddsMat(new URL("odds/thyroid.mat", SHARED_THYROID).pathname);
    const csv = readLabelledCsv(new URL("odds/thyroid.csv", SHARED_THYROID).pathname);
    assert.equal(mat.name, "thyroid");
    assert.equal(mat.n, 3772);
    assert.equal(mat.d, 6);
    assert.equal(mat.labels!.reduce((a, b) => a + b, 0), 93);
    assert.deepEqual(mat.labels, csv.labels);
    for (let i = 0; i < mat.values.length; i++) {
      assert.ok(Math.abs(mat.values[i] - csv.values[i]) <= 1e-9, `value ${i} differs`);
    }
  },
});

Deno.test("uci: comma and whitespace files with trailing separators", async () => {
  const rows = [
    "0.5 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0.001 0.02 0.1 0.08 0.1 3",
    "0.7 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0.003 0.01 0.2 0.10 0.3 1",
    "0.3 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0.002 0.03 0.3 0.12 0.2 2",
  ];
  const expected = [0.5, 0, 0.5, 0, 0, 0, 1, 1, 0, 0.5, 0.5, 1, 0, 0.5, 1, 1, 1, 0.5];
  const spaced = rows.map((r) => r + "  ").join("\n") + "\n\n";
  const commas = rows.map((r) => r.replaceAll(" ", ",") + ",").join("\r\n") + "\r\n";
  for (const text of [spaced, commas]) {
    await withFile("ann-train.data", text, (path) => {
      const t = readUciThyroid(path);
      assert.equal(t.n, 3);
      assert.deepEqual(t.columns, ["f1", "f2", "f3", "f4", "f5", "f6"]);
      assert.deepEqual([...t.labels!], [0, 1, 0]);
      t.values.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-12, `value ${i}`));
    });
  }
  await withFile("short.data", "1 2 3\n", (p) => {
    madError(() => readUciThyroid(p), "short.data", "line 1", "3 values", "UCI ann-thyroid");
  });
  await withFile("cls.data", rows[0].replace(/3$/, "4"), (p) => {
    madError(() => readUciThyroid(p), "cls.data", `class "4"`);
  });
  await withFile("nan.data", rows[0].replace("0.5", "x"), (p) => {
    madError(() => readUciThyroid(p), "nan.data", `"x" is not a number`);
  });
});

Deno.test({
  name: "uci: ann-train.data converts to the ODDS thyroid matrix",
  ignore: !hasSharedThyroid,
  fn() {
    const uci = readUciThyroid(new URL("uci/ann-train.data", SHARED_THYROID).pathname);
    const odds = readLabelledCsv(new URL("odds/thyroid.csv", SHARED_THYROID).pathname);
    assert.equal(uci.n, odds.n);
    assert.equal(uci.d, odds.d);
    assert.deepEqual(uci.labels, odds.labels);
    for (let i = 0; i < uci.values.length; i++) {
      assert.ok(Math.abs(uci.values[i] - odds.values[i]) <= 1e-9, `value ${i} differs`);
    }
  },
});

/**
 * Tables as users bring them (QA sweep 6): headers of numbers that name the trained columns,
 * file names in any script, a likely-label column next to `label`, files that are not UTF-8,
 * very wide tables, whitespace-separated files, decimal commas and duplicate normal rows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { firstInvalidUtf8, readLabelledCsv, rowIndexColumns } from "../lib/data/table.ts";
import { asciiTableName, safeTableName, tableNameOf } from "../lib/data/table_name.ts";
import {
  duplicateNormalRows,
  type DuplicateRows,
  duplicateRowsText,
  invertedLabelsWarning,
  prepareTable,
  readTableSource,
} from "../lib/train/datasets.ts";
import { scoreTableFile } from "../lib/experiment/score_files.ts";
import { evaluateCheckpoint, tableRecordFor } from "../lib/experiment/evaluate_checkpoint.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import type { Normalisation } from "../lib/data/types.ts";
import { type Checkpoint, disposeCheckpoint, loadCheckpoint } from "../lib/train/checkpoint.ts";
import { useBackend } from "../lib/backend/mod.ts";
import {
  csvText,
  hasSharedThyroid,
  inTempDir,
  oneLineError,
  SHARED_THYROID,
  smoothTableRows,
  trainTinyTable,
} from "./fixtures.ts";

const SPLIT = { protocol: "half-normals" as const, seed: 0, valShare: 0.1 };

Deno.test("a first line of numbers equal to the trained column names is a header", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "s.csv");
    await Deno.writeTextFile(path, "400,410,420\n1,2,3\n4,5,6\n");
    // Without the trained names it is a row, as for a file np.savetxt wrote.
    assert.equal(readLabelledCsv(path, { requireLabel: false }).n, 3);
    for (const names of [["400", "410", "420"], ["420", "400", "410"]]) {
      const t = readLabelledCsv(path, { requireLabel: false, headerNames: names });
      assert.equal(t.n, 2);
      assert.deepEqual(t.columns, ["400", "410", "420"]);
      assert.deepEqual([...t.values], [1, 2, 3, 4, 5, 6]);
    }
    // Other numbers, or the 1..d a headerless file's columns are named: still a row.
    assert.equal(readLabelledCsv(path, { requireLabel: false, headerNames: ["1", "2", "3"] }).n, 3);
    assert.equal(
      readLabelledCsv(path, { requireLabel: false, headerNames: ["400", "410", "430"] }).n,
      3,
    );
  });
});

Deno.test("score: spectra named by wavelength score one result a row, in any column order", async () => {
  await useBackend("auto");
  await inTempDir(async (dir) => {
    const names = ["400", "410", "420", "430"];
    const { rows, labels } = smoothTableRows(40);
    const table = join(dir, "spectra.csv");
    await Deno.writeTextFile(table, csvText(names, rows, labels));
    const ckpt = await loadCheckpoint(await trainTinyTable(table, join(dir, "run")));
    try {
      const fresh = rows.slice(0, 10);
      const scoreOf = async (file: string, text: string) => {
        const path = join(dir, file);
        await Deno.writeTextFile(path, text);
        return scoreTableFile(ckpt, path, { table: "spectra" }).map((s) => s.score);
      };
      const plain = await scoreOf("headerless.csv", fresh.map((r) => r.join(",")).join("\n"));
      assert.equal(plain.length, 10);
      const headed = await scoreOf("new.csv", csvText(names, fresh));
      assert.equal(headed.length, 10);
      assert.deepEqual(headed, plain);
      // Reordered wavelengths are matched by name, not by position.
      const order = [2, 0, 3, 1];
      const reordered = await scoreOf(
        "reordered.csv",
        csvText(order.map((j) => names[j]), fresh.map((r) => order.map((j) => r[j]))),
      );
      assert.deepEqual(reordered, plain);
    } finally {
      disposeCheckpoint(ckpt);
    }
  });
});

Deno.test("table names keep letters and digits of any script", () => {
  const cases: [string, string][] = [
    ["温度", "温度"],
    ["圧力", "圧力"],
    ["Müller-Daten", "Müller-Daten"],
    // macOS gives file names decomposed: the same name as the composed one.
    ["Mu\u0308ller", "Müller"],
    ["हिन्दी", "हिन्दी"],
    ["données v2", "données_v2"],
    ["x.١٢", "x_١٢"],
    ["温度.a|b", "温度_a_b"],
    ["°", "table"],
  ];
  for (const [raw, safe] of cases) assert.equal(safeTableName(raw), safe, raw);
  assert.notEqual(tableNameOf("/t/温度.csv", false), tableNameOf("/t/圧力.csv", false));
  assert.equal(asciiTableName("Müller-Daten"), "M_ller-Daten");
});

Deno.test("a Unicode table name trains, scores and evaluates; older ASCII names are found", async () => {
  await useBackend("auto");
  await inTempDir(async (dir) => {
    const { rows, labels } = smoothTableRows(40);
    const table = join(dir, "Müller-Daten.csv");
    await Deno.writeTextFile(table, csvText(["温度", "b", "c", "d"], rows, labels));
    const ckpt = await loadCheckpoint(await trainTinyTable(table, join(dir, "run")));
    try {
      assert.deepEqual(ckpt.tables.map((t) => t.name), ["Müller-Daten"]);
      assert.ok(ckpt.params.has("table.Müller-Daten.value"));
      assert.equal(scoreTableFile(ckpt, table).length, rows.length);
      const [result] = await evaluateCheckpoint(ckpt, { cache: new ImageCache() });
      assert.equal(result.name, "Müller-Daten");
      assert.ok(Number.isFinite(result.metrics.auroc));
    } finally {
      disposeCheckpoint(ckpt);
    }
    // A checkpoint trained before names kept Unicode letters knows the file as M_ller-Daten.
    const split = { protocol: "half-normals" as const, seed: 0, valShare: 0.1 };
    const old = {
      datasets: [
        { name: "M_ller-Daten", modality: "table", source: "/old/x.csv", split },
        { name: "other", modality: "table", source: "/old/other.csv", split },
      ],
    } as unknown as Checkpoint;
    assert.equal(tableRecordFor(old, table).name, "M_ller-Daten");
  });
});

Deno.test("a likely-label column next to label warns in one line naming file and column", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "leak.csv");
    await Deno.writeTextFile(path, "a,label,Outlier\n1,0,0\n2,1,1\n");
    const lines: string[] = [];
    const t = readLabelledCsv(path, { warn: (l) => lines.push(l) });
    assert.deepEqual(t.columns, ["a", "Outlier"]);
    assert.deepEqual(lines, [
      `warning: ${path}: column Outlier looks like a label and is used as a feature; drop it if ` +
      "it is one",
    ]);
    // Through readTableSource too; not when labels are ignored (scoring) or absent.
    lines.length = 0;
    readTableSource(path, { warn: (l) => lines.push(l) });
    assert.equal(lines.length, 1);
    readTableSource(path, { scoring: true, warn: (l) => lines.push(l) });
    const plain = join(dir, "plain.csv");
    await Deno.writeTextFile(plain, "a,outlier\n1,0\n2,1\n");
    readLabelledCsv(plain, { requireLabel: false, warn: (l) => lines.push(l) });
    assert.equal(lines.length, 1);
  });
});

Deno.test("a row-number or ID column warns in one line naming the file, the column and the fix", async () => {
  await inTempDir(async (dir) => {
    const { rows, labels } = smoothTableRows(40);
    const lines: string[] = [];
    const prepare = (path: string) =>
      prepareTable(path, SPLIT, undefined, undefined, {}, undefined, (l) => lines.push(l));
    // pandas' index column, under its round-trip name: warned, and still read (not dropped).
    const pandas = join(dir, "pandas.csv");
    const indexed = rows.map((r, i) => [i, ...r]);
    await Deno.writeTextFile(pandas, csvText(["Unnamed: 0", "a", "b", "c", "d"], indexed, labels));
    const prepared = prepare(pandas);
    assert.equal(prepared.d, 5);
    assert.equal(lines.length, 1);
    assert.ok(lines[0].startsWith(`warning: ${pandas}: column "Unnamed: 0" looks like a row `));
    assert.match(lines[0], /index=False/);
    // By values: 1..n in file order under a neutral name; an `id` of any values by its name.
    lines.length = 0;
    const numbered = join(dir, "numbered.csv");
    const both = rows.map((r, i) => [i + 1, (i * 7) % 40, ...r]);
    await Deno.writeTextFile(numbered, csvText(["n", "ID", "a", "b", "c", "d"], both, labels));
    prepare(numbered);
    assert.deepEqual(lines.length, 1);
    assert.match(lines[0], /columns "n", "ID" look like a row number or ID/);
    // Evaluation from a checkpoint warns too (it passes the trained columns).
    lines.length = 0;
    prepareTable(pandas, SPLIT, prepared.record.normalisation, undefined, {}, [
      "Unnamed: 0",
      "a",
      "b",
      "c",
      "d",
    ], (l) => lines.push(l));
    assert.equal(lines.length, 1);
    // Not: the same numbers shuffled, a short table, ordinary columns.
    lines.length = 0;
    const shuffled = join(dir, "shuffled.csv");
    const mixed = rows.map((r, i) => [(i * 7) % 40, ...r]);
    await Deno.writeTextFile(shuffled, csvText(["n", "a", "b", "c", "d"], mixed, labels));
    prepare(shuffled);
    const plain = join(dir, "plain.csv");
    await Deno.writeTextFile(plain, csvText(["a", "b", "c", "d"], rows, labels));
    prepare(plain);
    assert.deepEqual(lines, []);
    assert.deepEqual(
      rowIndexColumns(readTableSource(join(dir, "numbered.csv")).table),
      ["n", "ID"],
    );
  });
});

Deno.test("most rows labelled anomalous: one warning line asks whether the labels are inverted", async () => {
  await inTempDir(async (dir) => {
    const { rows, labels } = smoothTableRows(40);
    const lines: string[] = [];
    const prepare = (path: string, normalisation?: Normalisation, columns?: string[]) =>
      prepareTable(path, SPLIT, normalisation, undefined, {}, columns, (l) => lines.push(l));
    const plain = join(dir, "plain.csv");
    await Deno.writeTextFile(plain, csvText(["a", "b", "c", "d"], rows, labels));
    prepare(plain);
    assert.deepEqual(lines, []);
    // Four in five rows labelled 1: a file that writes 1 for normal.
    const swapped: number[] = rows.map((_, i) => (i % 5 === 0 ? 0 : 1));
    const inverted = join(dir, "inverted.csv");
    await Deno.writeTextFile(inverted, csvText(["a", "b", "c", "d"], rows, swapped));
    const ones = swapped.reduce((a, b) => a + b, 0);
    const prepared = prepare(inverted);
    assert.deepEqual(lines, [
      `warning: ${inverted}: ${ones} of ${rows.length} rows are labelled anomalous; normals ` +
      "are 0/normal/good, and training learns from them: are the labels inverted?",
    ]);
    // At evaluation too (a checkpoint's normalisation and columns given).
    prepare(inverted, prepared.record.normalisation, ["a", "b", "c", "d"]);
    assert.equal(lines.length, 2);
    // Exactly half is not "most".
    assert.equal(invertedLabelsWarning("x.csv", Uint8Array.from([0, 1, 0, 1])), null);
    assert.match(invertedLabelsWarning("x.csv", Uint8Array.from([1, 1, 0]))!, /2 of 3 rows/);
    // No normal at all is refused by the split, whose message asks instead.
    assert.equal(invertedLabelsWarning("x.csv", Uint8Array.from([1, 1, 1])), null);
    const all = join(dir, "all.csv");
    await Deno.writeTextFile(all, csvText(["a", "b", "c", "d"], rows, rows.map(() => 1)));
    oneLineError(() => prepare(all), all, "no normal rows", "are the labels inverted?");
  });
});

Deno.test("a CSV that is not UTF-8 is refused naming the line and byte", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "latin1.csv");
    // "temp°C" in Latin-1 on line 2 (° is the single byte 0xB0).
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("a,b,label\nx,temp"),
      0xb0,
      ...new TextEncoder().encode("C,label\n"),
    ]);
    await Deno.writeFile(path, bytes);
    oneLineError(
      () => readLabelledCsv(path),
      "latin1.csv",
      "not UTF-8",
      "line 2, byte 16: 0xb0",
      "save it as a UTF-8 CSV",
    );
    const utf8 = join(dir, "utf8.csv");
    await Deno.writeTextFile(utf8, "temp°C,label\n1,0\n");
    assert.deepEqual(readLabelledCsv(utf8).columns, ["temp°C"]);
    const enc = (s: string) => new TextEncoder().encode(s);
    assert.equal(firstInvalidUtf8(enc("aé温😀")), enc("aé温😀").length);
    assert.equal(firstInvalidUtf8(new Uint8Array([0x61, 0xc3])), 1); // truncated
    assert.equal(firstInvalidUtf8(new Uint8Array([0xc0, 0x80])), 0); // overlong
    assert.equal(firstInvalidUtf8(new Uint8Array([0x61, 0xed, 0xa0, 0x80])), 1); // surrogate
    assert.equal(firstInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), 0); // > U+10FFFF
  });
});

Deno.test("a wide CSV reads every column in place, across the blocks it is cast in", async () => {
  await inTempDir(async (dir) => {
    // 150 features and the label first: columns fall in three blocks of the numeric cast, and
    // the label's block is read again after the features'. (How reading time grows with the
    // columns is a benchmark's question, not a test's: 30 x 5,000 took 36 s, now about 1 s.)
    const d = 150;
    const path = join(dir, "wide.csv");
    const head = ["label", ...Array.from({ length: d }, (_, j) => `g${j}`)].join(",");
    const rows = Array.from(
      { length: 30 },
      (_, r) => [r % 2, ...Array.from({ length: d }, (_, j) => ((r * 31 + j) % 97) / 7)].join(","),
    );
    await Deno.writeTextFile(path, [head, ...rows].join("\n") + "\n");
    const t = readLabelledCsv(path);
    assert.equal(t.d, d);
    for (const [r, j] of [[0, 0], [3, 63], [3, 64], [17, 127], [29, d - 1]]) {
      assert.equal(t.values[r * d + j], ((r * 31 + j) % 97) / 7, `row ${r}, column ${j}`);
    }
    assert.deepEqual([...t.labels!.slice(0, 3)], [0, 1, 0]);
  });
});

Deno.test("a whitespace-separated file and decimal commas get a hint", async () => {
  await inTempDir(async (dir) => {
    const spaces = join(dir, "spaces.txt");
    await Deno.writeTextFile(spaces, "f0 f1 label\n0.5 -0.1 0\n0.2 0.3 1\n");
    oneLineError(
      () => readLabelledCsv(spaces, { requireLabel: false }),
      "spaces.txt",
      "separator was not detected",
      "comma, semicolon or tab",
    );
    // One column whose name has a space is a one-column table.
    const single = join(dir, "single.csv");
    await Deno.writeTextFile(single, "temp C\n0.5\n0.25\n");
    assert.deepEqual([...readLabelledCsv(single, { requireLabel: false }).values], [0.5, 0.25]);
    const comma = join(dir, "deccomma.csv");
    await Deno.writeTextFile(comma, "a;b;label\n0,125;1;0\n");
    oneLineError(() => readLabelledCsv(comma), "deccomma.csv", `"0,125"`, "decimal comma");
  });
});

Deno.test("duplicate normal rows warn once at the split; rows without copies do not", async () => {
  await inTempDir(async (dir) => {
    const { rows, labels } = smoothTableRows(40);
    const unique = join(dir, "unique.csv");
    await Deno.writeTextFile(unique, csvText(["a", "b", "c", "d"], rows, labels));
    const lines: string[] = [];
    prepareTable(unique, SPLIT, undefined, undefined, {}, undefined, (l) => lines.push(l));
    assert.equal(lines.length, 0);
    // Every normal twice; anomalies repeated do not count.
    const normals = rows.filter((_, i) => labels[i] === 0);
    const anomalies = rows.filter((_, i) => labels[i] === 1);
    const dupRows = [...normals, ...normals, ...anomalies, ...anomalies];
    const dupLabels = dupRows.map((_, i) => (i < 2 * normals.length ? 0 : 1));
    const dup = join(dir, "dup.csv");
    await Deno.writeTextFile(dup, csvText(["a", "b", "c", "d"], dupRows, dupLabels));
    const read = readTableSource(dup).table;
    assert.deepEqual(duplicateNormalRows(read), {
      count: 40,
      normals: 80,
      distinct: 40,
      largest: { row: 0, copies: 1, allZero: false },
    });
    const prepared = prepareTable(dup, SPLIT, undefined, undefined, {}, undefined, (l) => {
      lines.push(l);
    });
    assert.deepEqual(lines, [
      `warning: ${dup}: 40 of 80 normal rows are duplicates of 40 distinct rows: copies may ` +
      "land in both the training and test halves and inflate the metrics",
    ]);
    // The split itself is unchanged: half the normals train, as without the warning.
    assert.equal(prepared.train.length / 4 + prepared.val.length / 4, 40);
    // A training run keeps the warning in its log, with the run it concerns.
    await trainTinyTable(dup, join(dir, "run"));
    const log = await Deno.readTextFile(join(dir, "run", "train.log"));
    assert.match(log, /warning: \S*dup\.csv: 40 of 80 normal rows are duplicates/);
  });
});

Deno.test("duplicate rows of a sparse table: the warning names the all-zero row most of them copy", async () => {
  await inTempDir(async (dir) => {
    // 1,000 normals of 8 features: 101 all zero, 12 rows twice, the rest once; 5 anomalies.
    const zero = [0, 0, 0, 0, 0, 0, 0, 0];
    const once = (i: number) => zero.map((_, j) => (j === i % 8 ? 1 + i / 1000 : 0));
    const twice = Array.from({ length: 12 }, (_, i) => once(5000 + i));
    const normals = [
      ...Array.from({ length: 101 }, () => zero),
      ...twice,
      ...twice,
      ...Array.from({ length: 1000 - 101 - 24 }, (_, i) => once(i)),
    ];
    const anomalies = Array.from({ length: 5 }, () => zero.map(() => 9));
    const path = join(dir, "sparse.csv");
    const columns = zero.map((_, j) => `f${j}`);
    const labels = [...normals.map(() => 0), ...anomalies.map(() => 1)];
    await Deno.writeTextFile(path, csvText(columns, [...normals, ...anomalies], labels));
    const found = duplicateNormalRows(readTableSource(path).table);
    assert.deepEqual(found, {
      count: 112,
      normals: 1000,
      distinct: 13,
      largest: { row: 0, copies: 100, allZero: true },
    });
    const lines: string[] = [];
    prepareTable(path, SPLIT, undefined, undefined, {}, undefined, (l) => lines.push(l));
    assert.deepEqual(lines, [
      `warning: ${path}: 112 of 1000 normal rows are duplicates of 13 distinct rows, 100 of ` +
      "them copies of one all-zero row: copies may land in both the training and test halves " +
      "and inflate the metrics",
    ]);
  });
});

Deno.test("duplicateRowsText: the row most duplicates copy is named by number, one copied by half is not", () => {
  const base = { count: 30, normals: 500, distinct: 4 };
  const text = (largest: DuplicateRows["largest"], more = {}) =>
    duplicateRowsText({ ...base, largest, ...more }).split(":")[0];
  assert.equal(
    text({ row: 16, copies: 27, allZero: false }),
    "30 of 500 normal rows are duplicates of 4 distinct rows, 27 of them copies of row 17",
  );
  // Half is not most: no row is named.
  assert.equal(
    text({ row: 16, copies: 15, allZero: true }),
    "30 of 500 normal rows are duplicates of 4 distinct rows",
  );
  assert.equal(
    text({ row: 3, copies: 30, allZero: true }, { distinct: 1 }),
    "30 of 500 normal rows are copies of one all-zero row",
  );
});

Deno.test("ODDS thyroid: 116 of 3,679 normal rows are duplicates, of 47 rows, none most", {
  ignore: !hasSharedThyroid,
}, () => {
  const path = new URL("odds/thyroid.mat", SHARED_THYROID).pathname;
  const found = duplicateNormalRows(readTableSource(path).table);
  assert.equal(found.count, 116);
  assert.equal(found.normals, 3679);
  assert.equal(found.distinct, 47);
  assert.equal(found.largest?.copies, 9);
  assert.equal(
    duplicateRowsText(found).split(":")[0],
    "116 of 3679 normal rows are duplicates of 47 distinct rows",
  );
});

Deno.test("the rows a table's explanation names are rows of the user's file", async () => {
  await useBackend("wasm");
  await inTempDir(async (dir) => {
    // Anomalies at the end of the file: the test part (half the normals, then the anomalies)
    // numbers them from about 20, the file from 40.
    const { rows, labels } = smoothTableRows(40);
    const path = join(dir, "rows.csv");
    await Deno.writeTextFile(path, csvText(["a", "b", "c", "d"], rows, labels));
    const ckpt = await loadCheckpoint(await trainTinyTable(path, join(dir, "run")));
    try {
      const [e] = await evaluateCheckpoint(ckpt, { cache: new ImageCache(), explain: true });
      const f = e.features!;
      assert.ok(f.rows.length > 0);
      f.rows.forEach((row, i) => assert.equal(labels[row], f.labels[i], `row ${row}`));
      assert.ok(f.rows.some((row) => row >= 40), `anomalies named by their file rows: ${f.rows}`);
    } finally {
      disposeCheckpoint(ckpt);
    }
  });
});

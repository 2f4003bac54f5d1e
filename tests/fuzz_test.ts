/**
 * Seeded fuzzing of the loaders: random mutations of a valid CSV, a valid PNG and a valid
 * checkpoint must each give valid data or the project's own MadError, never another exception.
 * Counts (tried / valid / refused) are printed so the closing note of a run can quote them.
 * Set `FUZZ_TRACE=1` to print every case and every refusal message.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { MadError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { readLabelledCsv } from "../lib/data/table.ts";
import { decodeImage } from "../lib/data/images.ts";
import { decodeCheckpoint, disposeCheckpoint, encodeCheckpoint } from "../lib/train/checkpoint.ts";
import { concat, crc32, tinyCheckpoint } from "./fixtures.ts";

const TRACE = Deno.env.get("FUZZ_TRACE") === "1";
const CSV_CASES = 1200;
const PNG_CASES = 1200;
const CHECKPOINT_CASES = 400;

/** Tokens that loaders must either read as numbers/labels or refuse cleanly. */
const TOKENS = [
  "NaN",
  "nan",
  "inf",
  "-inf",
  "Infinity",
  "-Infinity",
  "",
  " ",
  '""',
  '"',
  '"1,2"',
  "abc",
  "1e400",
  "-1e400",
  "1e308",
  "4.9e-324",
  "-0",
  "0x1F",
  "1_000",
  "１",
  "\u0000",
  "\uFEFF",
  "\r",
  "label",
  "normal",
  "anomaly",
  "good",
  "BAD",
  "2",
  "0.5",
  "1.0",
  "null",
  "true",
  "9".repeat(400),
  "1,2",
  ";",
  "\t",
  "#",
];
const SEPARATORS = [",", ";", "\t", " ", "|", ",,", ""];

/** Outcome counts of one fuzz target. */
interface Counts {
  tried: number;
  valid: number;
  refused: number;
  /** Cases that crashed (any exception other than MadError); the test fails on any. */
  crashes: string[];
}

function newCounts(): Counts {
  return { tried: 0, valid: 0, refused: 0, crashes: [] };
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

function report(name: string, c: Counts): void {
  console.log(
    `fuzz ${name}: tried ${c.tried}, valid ${c.valid}, refused ${c.refused} (MadError), ` +
      `crashed ${c.crashes.length}`,
  );
  assert.deepEqual(c.crashes.slice(0, 20), [], `${c.crashes.length} crashes`);
}

/** Runs `fn`; a MadError counts as a refusal, any other exception fails with the case's seed. */
async function classify(
  counts: Counts,
  label: string,
  fn: () => Promise<void> | void,
): Promise<void> {
  counts.tried++;
  if (TRACE) console.error(label.slice(0, 300));
  try {
    await fn();
    counts.valid++;
  } catch (e) {
    if (!(e instanceof MadError)) {
      counts.crashes.push(`${label}: ${e?.constructor?.name}: ${String(e).split("\n")[0]}`);
    } else if (e.message.includes("\n")) {
      counts.crashes.push(`${label}: multi-line message: ${e.message}`);
    } else {
      if (TRACE) console.error(`  refused: ${e.message.slice(0, 200)}`);
      counts.refused++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

function validCsv(rng: Rng): string {
  const lines = ["a,b,c,label"];
  for (let r = 0; r < 8; r++) {
    const row = [0, 1, 2].map(() => (rng.normal() * 10).toFixed(3));
    lines.push([...row, r % 4 === 3 ? "1" : "0"].join(","));
  }
  return lines.join("\n") + "\n";
}

function mutateCsv(rng: Rng, text: string): string {
  const ops = 1 + rng.int(3);
  for (let k = 0; k < ops; k++) {
    const lines = text.split("\n");
    const at = rng.int(text.length + 1);
    switch (rng.int(11)) {
      case 0: { // flip a character's bits
        if (text.length === 0) break;
        const code = text.charCodeAt(Math.min(at, text.length - 1)) ^ (1 << rng.int(7));
        const i = Math.min(at, text.length - 1);
        text = text.slice(0, i) + String.fromCharCode(code) + text.slice(i + 1);
        break;
      }
      case 1: // truncate
        text = text.slice(0, at);
        break;
      case 2: // insert a token
        text = text.slice(0, at) + pick(rng, TOKENS) + text.slice(at);
        break;
      case 3: { // duplicate a line
        const i = rng.int(lines.length);
        lines.splice(i, 0, lines[i]);
        text = lines.join("\n");
        break;
      }
      case 4: { // delete a line
        lines.splice(rng.int(lines.length), 1);
        text = lines.join("\n");
        break;
      }
      case 5: { // change the separator of one line or of all lines
        const sep = pick(rng, SEPARATORS);
        if (rng.next() < 0.5) {
          const i = rng.int(lines.length);
          lines[i] = lines[i].split(",").join(sep);
          text = lines.join("\n");
        } else {
          text = text.split(",").join(sep);
        }
        break;
      }
      case 6: { // replace one cell with a token
        const i = rng.int(lines.length);
        const cells = lines[i].split(",");
        cells[rng.int(cells.length)] = pick(rng, TOKENS);
        lines[i] = cells.join(",");
        text = lines.join("\n");
        break;
      }
      case 7: { // add or remove a column on one line
        const i = rng.int(lines.length);
        const cells = lines[i].split(",");
        if (rng.next() < 0.5) cells.push(pick(rng, TOKENS));
        else cells.splice(rng.int(cells.length), 1);
        lines[i] = cells.join(",");
        text = lines.join("\n");
        break;
      }
      case 8: // BOM, CRLF or CR line ends
        text = pick(rng, [
          () => "\uFEFF" + text,
          () => text.replaceAll("\n", "\r\n"),
          () => text.replaceAll("\n", "\r"),
        ])();
        break;
      case 9: // a random byte-ish character
        text = text.slice(0, at) + String.fromCharCode(rng.int(0x3000)) + text.slice(at);
        break;
      default: { // huge or tiny numbers in a whole column
        const col = rng.int(4);
        text = lines.map((line, i) => {
          if (i === 0) return line;
          const cells = line.split(",");
          if (col < cells.length) cells[col] = pick(rng, ["1e308", "-1e308", "1e-320", "0"]);
          return cells.join(",");
        }).join("\n");
      }
    }
  }
  return text;
}

function checkTable(t: ReturnType<typeof readLabelledCsv>): void {
  assert.ok(Number.isInteger(t.n) && t.n >= 1, `n ${t.n}`);
  assert.ok(Number.isInteger(t.d) && t.d >= 1, `d ${t.d}`);
  assert.equal(t.columns.length, t.d);
  assert.equal(t.values.length, t.n * t.d);
  assert.ok(t.values.every(Number.isFinite), "values must be finite");
  assert.ok(t.labels !== null, "labels required");
  assert.equal(t.labels.length, t.n);
  assert.ok(t.labels.every((l) => l === 0 || l === 1), "labels must be 0/1");
}

Deno.test(`fuzz: ${CSV_CASES} mutated CSVs give a valid Table or a MadError`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_fuzz_csv_" });
  const counts = newCounts();
  try {
    const rng = new Rng(20240607);
    for (let i = 0; i < CSV_CASES; i++) {
      const text = mutateCsv(rng, validCsv(rng));
      const path = join(dir, `case${i}.csv`);
      Deno.writeTextFileSync(path, text);
      await classify(counts, `CSV case ${i} ${JSON.stringify(text.slice(0, 200))}`, () => {
        const table = readLabelledCsv(path);
        checkTable(table);
      });
      Deno.removeSync(path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  report("csv", counts);
  assert.equal(counts.tried, CSV_CASES);
  assert.ok(counts.valid > 0 && counts.refused > 0, "mutations should give both outcomes");
});

// ---------------------------------------------------------------------------------------------
// PNG

/** Offsets of the PNG chunks (length field) after the signature. */
function chunkOffsets(png: Uint8Array): number[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: number[] = [];
  let at = 8;
  while (at + 12 <= png.length) {
    out.push(at);
    at += 12 + view.getUint32(at);
  }
  return out;
}

/** Recomputes the CRC of the chunk at `at`, so a mutation reaches the decoder's deeper checks. */
function fixCrc(png: Uint8Array, at: number): void {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const len = view.getUint32(at);
  if (at + 12 + len > png.length) return;
  view.setUint32(at + 8 + len, crc32(png.subarray(at + 4, at + 8 + len)));
}

async function basePngs(): Promise<Uint8Array[]> {
  const raw = (w: number, h: number, c: number) => {
    const out = new Uint8Array(w * h * c);
    for (let i = 0; i < out.length; i++) out[i] = (i * 37 + (i >> 3) * 11) % 256;
    return out;
  };
  const img = (w: number, h: number, c: 1 | 2 | 3 | 4) =>
    sharp(raw(w, h, c), { raw: { width: w, height: h, channels: c } });
  return [
    new Uint8Array(await img(8, 8, 3).png().toBuffer()),
    new Uint8Array(await img(6, 10, 1).png().toBuffer()),
    new Uint8Array(await img(8, 8, 4).png().toBuffer()),
    new Uint8Array(await img(8, 8, 3).png({ palette: true }).toBuffer()),
    new Uint8Array(await img(8, 8, 3).toColourspace("rgb16").png().toBuffer()),
    new Uint8Array(await img(5, 5, 2).png().toBuffer()),
  ];
}

function mutatePng(rng: Rng, base: Uint8Array): Uint8Array {
  let png: Uint8Array = base.slice();
  const ops = 1 + rng.int(2);
  for (let k = 0; k < ops; k++) {
    const chunks = chunkOffsets(png);
    switch (rng.int(10)) {
      case 8: { // harmless: bytes after IEND
        const extra = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
        png = concat(png, extra);
        break;
      }
      case 9: { // an ancillary text chunk with a correct CRC (valid), or a bogus critical one
        if (chunks.length < 2) break;
        const type = pick(rng, ["tEXt", "zTXt", "iTXt", "tIME", "gAMA", "bKGD", "ABCD"]);
        const body = Uint8Array.from({ length: rng.int(20) }, () => rng.int(256));
        const chunk = new Uint8Array(12 + body.length);
        new DataView(chunk.buffer).setUint32(0, body.length);
        chunk.set(new TextEncoder().encode(type), 4);
        chunk.set(body, 8);
        fixCrc(chunk, 0);
        png = concat(png.subarray(0, chunks[1]), chunk, png.subarray(chunks[1]));
        break;
      }
      case 0: { // flip bits anywhere
        const n = 1 + rng.int(4);
        for (let j = 0; j < n && png.length > 0; j++) png[rng.int(png.length)] ^= 1 << rng.int(8);
        break;
      }
      case 1: // truncate
        png = png.slice(0, rng.int(png.length + 1));
        break;
      case 2: { // insert random bytes
        const at = rng.int(png.length + 1);
        const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
        png = concat(png.subarray(0, at), extra, png.subarray(at));
        break;
      }
      case 3: { // duplicate or drop a chunk
        if (chunks.length === 0) break;
        const i = rng.int(chunks.length);
        const end = i + 1 < chunks.length ? chunks[i + 1] : png.length;
        const chunk = png.slice(chunks[i], end);
        png = rng.next() < 0.5
          ? concat(png.subarray(0, end), chunk, png.subarray(end))
          : concat(png.subarray(0, chunks[i]), png.subarray(end));
        break;
      }
      case 4: { // IHDR width/height: huge, zero or just different, with a correct CRC
        if (chunks.length === 0 || png.length < 33) break;
        const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
        const field = 16 + 4 * rng.int(2);
        view.setUint32(field, pick(rng, [0, 1, 3, 100, 40000, 100000, 0x7fffffff, 0xffffffff]));
        fixCrc(png, 8);
        break;
      }
      case 5: { // IHDR bit depth, colour type, compression, filter or interlace byte
        if (png.length < 33) break;
        png[24 + rng.int(5)] = pick(rng, [0, 1, 2, 3, 4, 6, 8, 16, 255]);
        fixCrc(png, 8);
        break;
      }
      case 6: { // flip a byte inside a chunk's data and fix its CRC (reaches zlib and filters)
        if (chunks.length === 0) break;
        const at = pick(rng, chunks);
        const len = new DataView(png.buffer, png.byteOffset).getUint32(at);
        if (len > 0 && at + 8 + len <= png.length) {
          png[at + 8 + rng.int(len)] ^= 1 << rng.int(8);
          fixCrc(png, at);
        }
        break;
      }
      default: // another format's magic, or nothing at all
        png = pick(rng, [
          new Uint8Array(),
          new TextEncoder().encode("GIF89a not really"),
          Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]),
          concat(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>")),
          png.subarray(8),
        ]);
    }
  }
  return png;
}

Deno.test(`fuzz: ${PNG_CASES} mutated PNGs decode to the requested shape or a MadError`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mad_fuzz_png_" });
  const counts = newCounts();
  try {
    const bases = await basePngs();
    const rng = new Rng(77);
    for (let i = 0; i < PNG_CASES; i++) {
      const bytes = mutatePng(rng, pick(rng, bases));
      const path = join(dir, `case${i}.png`);
      await Deno.writeFile(path, bytes);
      const size = pick(rng, [4, 8, 13]);
      const channels = pick(rng, [1, 3] as const);
      await classify(counts, `PNG case ${i}`, async () => {
        const img = await decodeImage(path, { size, channels, maxPixels: 4096 * 4096 });
        assert.deepEqual([img.width, img.height, img.channels], [size, size, channels]);
        assert.equal(img.data.length, size * size * channels);
        assert.ok(img.data.every((v) => v >= 0 && v <= 1), "values must lie in [0, 1]");
      });
      await Deno.remove(path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  report("png", counts);
  assert.equal(counts.tried, PNG_CASES);
  assert.ok(counts.valid > 0 && counts.refused > 0, "mutations should give both outcomes");
});

// ---------------------------------------------------------------------------------------------
// Checkpoints

const JSON_VALUES: unknown[] = [
  null,
  -1,
  0,
  0.5,
  1e9,
  1e300,
  "x",
  "",
  true,
  [],
  {},
  [1, 2],
  { name: "t" },
];

/** Replaces one random leaf (or container) of a JSON value. */
function mutateJson(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== "object" || rng.next() < 0.15) {
    return pick(rng, JSON_VALUES);
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || rng.next() < 0.1) return [...value, pick(rng, JSON_VALUES)];
    const i = rng.int(value.length);
    const copy = [...value];
    if (rng.next() < 0.1) copy.splice(i, 1);
    else copy[i] = mutateJson(rng, copy[i]);
    return copy;
  }
  const obj = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(obj);
  if (keys.length === 0) return { extra: pick(rng, JSON_VALUES) };
  const key = pick(rng, keys);
  if (rng.next() < 0.1) delete obj[key];
  else obj[key] = mutateJson(rng, obj[key]);
  return obj;
}

/** The safetensors header of `bytes`, parsed, and where the data starts. */
function splitSafetensors(
  bytes: Uint8Array,
): { header: Record<string, unknown>; data: Uint8Array } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))),
    data: bytes.subarray(8 + len),
  };
}

function joinSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function mutateCheckpoint(rng: Rng, base: Uint8Array): Uint8Array {
  const { header, data } = splitSafetensors(base);
  switch (rng.int(7)) {
    case 6: { // bit flips in the weights (valid unless they make NaN or infinity)
      const out = base.slice();
      const start = base.length - data.length;
      for (let j = 0; j < 1 + rng.int(4); j++) {
        out[start + rng.int(data.length)] ^= 1 << rng.int(8);
      }
      return out;
    }
    case 0: { // bit flips anywhere in the first part (length, header, some data)
      const out = base.slice();
      const n = 1 + rng.int(3);
      const span = Math.min(out.length, 8 + JSON.stringify(header).length + 64);
      for (let j = 0; j < n; j++) out[rng.int(span)] ^= 1 << rng.int(8);
      return out;
    }
    case 1: // truncation
      return base.slice(0, rng.int(base.length));
    case 2: { // a metadata JSON document mutated inside the metadata string
      const meta = { ...(header.__metadata__ as Record<string, string>) };
      const key = pick(rng, ["config", "tables", "datasets", "stats", "progress"]);
      meta[key] = JSON.stringify(mutateJson(rng, JSON.parse(meta[key])));
      return joinSafetensors({ ...header, __metadata__: meta }, data);
    }
    case 3: { // a metadata entry replaced, removed or retyped
      const meta: Record<string, unknown> = { ...(header.__metadata__ as Record<string, string>) };
      const key = pick(rng, [...Object.keys(meta), "extra"]);
      if (rng.next() < 0.3) delete meta[key];
      else meta[key] = pick(rng, [...JSON_VALUES, "2", "{", "[]", "null"]);
      const out = rng.next() < 0.1 ? pick(rng, JSON_VALUES) : meta;
      return joinSafetensors({ ...header, __metadata__: out }, data);
    }
    case 4: { // a tensor entry mutated (dtype, shape, offsets) or deleted
      const names = Object.keys(header).filter((n) => n !== "__metadata__");
      const name = pick(rng, names);
      const copy = { ...header };
      if (rng.next() < 0.2) delete copy[name];
      else copy[name] = mutateJson(rng, copy[name]);
      return joinSafetensors(copy, data);
    }
    default: { // the header itself replaced by something else
      return joinSafetensors(pick(rng, JSON_VALUES), data);
    }
  }
}

Deno.test(`fuzz: ${CHECKPOINT_CASES} mutated checkpoints load or give a MadError`, async () => {
  const ckpt = tinyCheckpoint({ adam: false, std: [1, 1, 1], cls: true });
  const base = encodeCheckpoint(ckpt);
  disposeCheckpoint(ckpt);
  // The unmutated bytes must load.
  disposeCheckpoint(decodeCheckpoint(base, "base.safetensors"));
  const counts = newCounts();
  const rng = new Rng(4242);
  for (let i = 0; i < CHECKPOINT_CASES; i++) {
    const bytes = mutateCheckpoint(rng, base);
    await classify(counts, `checkpoint case ${i}`, () => {
      const loaded = decodeCheckpoint(bytes, `case${i}.safetensors`);
      disposeCheckpoint(loaded);
    });
  }
  report("checkpoint", counts);
  assert.equal(counts.tried, CHECKPOINT_CASES);
  assert.ok(counts.refused > CHECKPOINT_CASES / 2, "most mutations should be refused");
});

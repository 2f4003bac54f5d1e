import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { MadError } from "../lib/errors.ts";
import {
  copyFromLocal,
  downloadFile,
  extractTarXz,
  fetchFromBase,
  fetchSources,
  summarizeDataDir,
} from "../lib/data/download.ts";
import {
  defaultDataPaths,
  KNOWN_CHECKSUMS,
  parseUrlOverrides,
  resolveUrl,
  selectSources,
  urlEnvVar,
  urlKeySummary,
} from "../lib/data/sources.ts";
import { trainingLine } from "../scripts/data.ts";
import { exists, inTempDir } from "./fixtures.ts";

/** Deterministic fixture bytes. */
function fixture(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface Seen {
  path: string;
  range: string | null;
}

/** A local server; `handler` answers, `seen` records every request. */
async function withServer(
  handler: (req: Request, count: number) => Response | Promise<Response>,
  body: (base: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ path: new URL(req.url).pathname, range: req.headers.get("range") });
    return handler(req, seen.length);
  });
  try {
    await body(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

/** Serves `bytes`, honouring `Range: bytes=N-` with a 206. */
function rangeResponse(req: Request, bytes: Uint8Array): Response {
  const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
  if (m) {
    const start = Number(m[1]);
    return new Response(bytes.slice(start), {
      status: 206,
      headers: {
        "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        "content-length": String(bytes.length - start),
      },
    });
  }
  return new Response(bytes.slice(), { headers: { "content-length": String(bytes.length) } });
}

const DATA = fixture(200_000);

Deno.test("downloadFile: full download with a correct sha256", async () => {
  await inTempDir(async (dir) => {
    await withServer((req) => rangeResponse(req, DATA), async (base) => {
      const dest = join(dir, "sub", "file.bin");
      const calls: Array<[number, number | null]> = [];
      const hash = await downloadFile(`${base}/file.bin`, dest, {
        sha256: sha256(DATA),
        onProgress: (done, total) => calls.push([done, total]),
      });
      assert.equal(hash, sha256(DATA));
      assert.deepEqual(await Deno.readFile(dest), DATA);
      assert.equal(await exists(`${dest}.part`), false);
      assert.deepEqual(calls.at(-1), [DATA.length, DATA.length]);
    });
  });
});

Deno.test("downloadFile: checksum mismatch deletes the file and names it", async () => {
  await inTempDir(async (dir) => {
    await withServer((req) => rangeResponse(req, DATA), async (base) => {
      const dest = join(dir, "thyroid.mat");
      const wrong = "0".repeat(64);
      await assert.rejects(
        downloadFile(`${base}/thyroid.mat`, dest, { sha256: wrong }),
        (e: unknown) => {
          assert.ok(e instanceof MadError);
          assert.match(e.message, /thyroid\.mat/);
          assert.match(e.message, /checksum/);
          assert.ok(e.message.includes(wrong) && e.message.includes(sha256(DATA)));
          assert.ok(!e.message.includes("\n"));
          return true;
        },
      );
      assert.equal(await exists(dest), false);
      assert.equal(await exists(`${dest}.part`), false);
    });
  });
});

Deno.test("downloadFile: connection dropped halfway is resumed with Range", async () => {
  await inTempDir(async (dir) => {
    const half = DATA.length / 2;
    await withServer((req, count) => {
      if (count > 1) return rangeResponse(req, DATA);
      // First request: announce the whole length, send half, then break the connection.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(DATA.slice(0, half));
          setTimeout(() => controller.close(), 20);
        },
      });
      return new Response(stream, { headers: { "content-length": String(DATA.length) } });
    }, async (base, seen) => {
      const dest = join(dir, "file.bin");
      await downloadFile(`${base}/file.bin`, dest, { sha256: sha256(DATA), retryDelayMs: 1 });
      assert.deepEqual(await Deno.readFile(dest), DATA);
      assert.ok(seen.length >= 2);
      assert.equal(seen[0].range, null);
      assert.match(seen[1].range ?? "", /^bytes=\d+-$/);
    });
  });
});

Deno.test("downloadFile: an existing .part is resumed with Range", async () => {
  await inTempDir(async (dir) => {
    const half = DATA.length / 2;
    await withServer((req) => rangeResponse(req, DATA), async (base, seen) => {
      const dest = join(dir, "file.bin");
      await Deno.writeFile(`${dest}.part`, DATA.slice(0, half));
      await downloadFile(`${base}/file.bin`, dest, { sha256: sha256(DATA) });
      assert.deepEqual(await Deno.readFile(dest), DATA);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].range, `bytes=${half}-`);
    });
  });
});

Deno.test("downloadFile: a server ignoring Range restarts from zero", async () => {
  await inTempDir(async (dir) => {
    await withServer(
      () => new Response(DATA.slice(), { headers: { "content-length": String(DATA.length) } }),
      async (base, seen) => {
        const dest = join(dir, "file.bin");
        await Deno.writeFile(`${dest}.part`, fixture(1000, 99)); // stale, different bytes
        await downloadFile(`${base}/file.bin`, dest, { sha256: sha256(DATA) });
        assert.deepEqual(await Deno.readFile(dest), DATA);
        assert.equal(seen[0].range, "bytes=1000-");
      },
    );
  });
});

Deno.test("downloadFile: 404 gives a one-line error naming the URL", async () => {
  await inTempDir(async (dir) => {
    await withServer(() => new Response("nope", { status: 404 }), async (base) => {
      const url = `${base}/missing.mat`;
      const dest = join(dir, "missing.mat");
      await assert.rejects(downloadFile(url, dest), (e: unknown) => {
        assert.ok(e instanceof MadError);
        assert.ok(e.message.includes(url));
        assert.match(e.message, /404/);
        assert.ok(!e.message.includes("\n"));
        return true;
      });
      assert.equal(await exists(dest), false);
    });
  });
});

Deno.test("downloadFile: an unreachable host says nothing arrived, not that a rerun resumes", async () => {
  await inTempDir(async (dir) => {
    // A port nothing listens on: the connection is refused at once, on every retry.
    const listener = Deno.listen({ port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const dest = join(dir, "t.mat");
    await assert.rejects(
      downloadFile(`http://127.0.0.1:${port}/t.mat`, dest, { retries: 1, retryDelayMs: 1 }),
      (e: unknown) => {
        assert.ok(e instanceof MadError);
        assert.match(
          e.message,
          /nothing arrived: check the network, or give a local copy with --from/,
        );
        assert.ok(!e.message.includes("resume"));
        return true;
      },
    );
    assert.equal(await exists(`${dest}.part`), false);
  });
});

/** A small folder laid out like the shared datasets folder, with a space in a name. */
async function makeLocalFixture(root: string): Promise<void> {
  const files: Record<string, string> = {
    "thyroid/course/train-set.csv": "feature_1\n0.5\n",
    "thyroid/uci/ann-train.data": "1,2,3\n",
    "images/course/hazelnut/train/good/000.png": "png0",
    "images/course/hazelnut/test/001.png": "png1",
    "images/course/zip per/train/good/a b.png": "png2",
    "images/course/image_anomaly_labels.json": "{}",
  };
  for (const [rel, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, rel), text);
  }
}

Deno.test("copyFromLocal: copies the layout, including names with spaces", async () => {
  await inTempDir(async (dir) => {
    const from = join(dir, "my datasets");
    await makeLocalFixture(from);
    // "zip per" is no known category, so it is not copied.
    const data = join(dir, "data");
    const copied = await copyFromLocal(from, data);
    assert.ok(copied.includes("thyroid/course/train-set.csv"));
    assert.ok(copied.includes("images/course/hazelnut/test/001.png"));
    assert.equal(
      await Deno.readTextFile(join(data, "images/course/hazelnut/train/good/000.png")),
      "png0",
    );
    assert.equal(await Deno.readTextFile(join(data, "thyroid/uci/ann-train.data")), "1,2,3\n");
    const paths = defaultDataPaths(data);
    assert.deepEqual(paths.imagesDirs, [join(data, "images/course/hazelnut")]);
    assert.equal(paths.thyroidMat, join(data, "thyroid/odds/thyroid.mat"));

    const only = join(dir, "only");
    const some = await copyFromLocal(from, only, { only: ["thyroid-course"] });
    assert.deepEqual(some, ["thyroid/course/train-set.csv"]);
    await assert.rejects(copyFromLocal(from, only, { only: ["thyroid"] }), MadError);
    await assert.rejects(copyFromLocal(join(dir, "absent"), only), MadError);
  });
});

Deno.test("copyFromLocal: folder names with spaces inside a category", async () => {
  await inTempDir(async (dir) => {
    const from = join(dir, "src dir");
    await Deno.mkdir(join(from, "images/course/zipper/test/bad ones"), { recursive: true });
    await Deno.mkdir(join(from, "images/course/zipper/train/good"), { recursive: true });
    await Deno.writeTextFile(join(from, "images/course/zipper/test/bad ones/x y.png"), "x");
    await Deno.writeTextFile(join(from, "images/course/zipper/train/good/0.png"), "0");
    const data = join(dir, "out data");
    await copyFromLocal(from, data, { only: ["zipper"] });
    assert.equal(
      await Deno.readTextFile(join(data, "images/course/zipper/test/bad ones/x y.png")),
      "x",
    );
    assert.deepEqual(defaultDataPaths(data).imagesDirs, [join(data, "images/course/zipper")]);
  });
});

Deno.test("copyFromLocal: a wrong thyroid.mat fails the checksum", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "src/thyroid/odds"), { recursive: true });
    await Deno.writeTextFile(join(dir, "src/thyroid/odds/thyroid.mat"), "not the real file");
    await assert.rejects(copyFromLocal(join(dir, "src"), join(dir, "data")), /checksum/);
    assert.equal(await exists(join(dir, "data/thyroid/odds/thyroid.mat")), false);
  });
});

Deno.test("fetchFromBase: fetches the listed files from a URL base", async () => {
  await inTempDir(async (dir) => {
    const files: Record<string, Uint8Array> = {
      "/manifest.txt": new TextEncoder().encode(
        "thyroid/course/test-set.csv\nimages/course/hazelnut/train/good/a b.png\nother/x\n",
      ),
      "/thyroid/course/test-set.csv": new TextEncoder().encode("a,label\n1,0\n"),
      "/images/course/hazelnut/train/good/a%20b.png": fixture(50),
    };
    await withServer((req) => {
      const bytes = files[new URL(req.url).pathname];
      return bytes ? rangeResponse(req, bytes) : new Response("no", { status: 404 });
    }, async (base) => {
      const data = join(dir, "data");
      const got = await fetchFromBase(`${base}/`, data);
      assert.deepEqual(got.sort(), [
        "images/course/hazelnut/train/good/a b.png",
        "thyroid/course/test-set.csv",
      ]);
      assert.deepEqual(
        await Deno.readFile(join(data, "images/course/hazelnut/train/good/a b.png")),
        fixture(50),
      );
    });
  });
});

/** The bytes of `<category>.tar.xz` holding `<category>/train/good/000.png`, as MVTec ships one. */
async function categoryArchive(dir: string, category: string): Promise<Uint8Array> {
  const src = join(dir, "src");
  await Deno.mkdir(join(src, `${category}/train/good`), { recursive: true });
  await Deno.writeTextFile(join(src, `${category}/train/good/000.png`), "png");
  const archive = join(dir, `${category}.tar.xz`);
  const tar = await new Deno.Command("tar", {
    args: ["-cJf", archive, "-C", src, category],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(tar.success);
  return await Deno.readFile(archive);
}

Deno.test("fetchSources + extractTarXz: downloads and unpacks an MVTec-style archive", async () => {
  await inTempDir(async (dir) => {
    const bytes = await categoryArchive(dir, "hazelnut");
    await withServer((req) => rangeResponse(req, bytes), async (base) => {
      const data = join(dir, "data");
      const lines: string[] = [];
      await fetchSources(selectSources(["hazelnut"]), data, {
        overrides: parseUrlOverrides([`hazelnut=${base}/hazelnut.tar.xz`]),
        log: (l) => lines.push(l),
      });
      assert.equal(
        await Deno.readTextFile(join(data, "images/mvtec/hazelnut/train/good/000.png")),
        "png",
      );
      assert.equal(await exists(join(data, "downloads/hazelnut.tar.xz")), false);
      // A second run finds it present and fetches nothing.
      await fetchSources(selectSources(["hazelnut"]), data, { log: (l) => lines.push(l) });
      assert.match(lines.at(-1) ?? "", /already present/);
    });
    await assert.rejects(extractTarXz(join(dir, "src/hazelnut/train/good/000.png"), dir), MadError);
  });
});

Deno.test("fetchSources: an offline run removes the folders it made and left empty", async () => {
  await inTempDir(async (dir) => {
    // A port nothing listens on: every download fails at once.
    const listener = Deno.listen({ port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const sources = selectSources();
    const overrides = parseUrlOverrides(
      sources.flatMap((s) => s.files.map((f) => `${f.key}=http://127.0.0.1:${port}/x`)),
    );
    const data = join(dir, "data");
    // A folder there before the run stays, even empty; a kept partial download keeps its folder.
    await Deno.mkdir(join(data, "thyroid"), { recursive: true });
    await assert.rejects(
      fetchSources(sources, data, { overrides, retryDelayMs: 1, log: () => {} }),
      new RegExp(`${sources.length} of ${sources.length} data sources failed`),
    );
    const left = [];
    for await (const e of Deno.readDir(data)) left.push(e.name);
    assert.deepEqual(left, ["thyroid"]);
    assert.deepEqual([...Deno.readDirSync(join(data, "thyroid"))], []);
    // A destination the run created itself goes too when nothing arrived.
    const fresh = join(dir, "fresh", "data");
    await assert.rejects(
      fetchSources(sources, fresh, { overrides, retryDelayMs: 1, log: () => {} }),
      MadError,
    );
    assert.equal(await exists(join(dir, "fresh")), false);
  });
});

/** The shared dev tables, when this machine has them (the real bytes the checksums pin). */
const SHARED_ADBENCH = new URL("../../shared/datasets/tables/adbench", import.meta.url).pathname;

Deno.test("fetchSources: the ADBench tables are checked against their pinned sha256", async () => {
  await inTempDir(async (dir) => {
    const [adbench] = selectSources(["adbench"]);
    assert.equal(adbench.files.length, 17);
    const shared = await exists(join(SHARED_ADBENCH, "44_Wilt.npz"));
    await withServer(async (req) => {
      const name = new URL(req.url).pathname.slice(1);
      // Every table as the shared copy has it, except a corrupted 44_Wilt.
      if (shared && name !== "44_Wilt.npz") {
        return rangeResponse(req, await Deno.readFile(join(SHARED_ADBENCH, name)));
      }
      return rangeResponse(req, fixture(500));
    }, async (base) => {
      const overrides = parseUrlOverrides(
        adbench.files.map((f) => `${f.key}=${base}/${f.target.split("/").at(-1)}`),
      );
      const data = join(dir, "data");
      const lines: string[] = [];
      await assert.rejects(
        fetchSources([adbench], data, { overrides, log: (l) => lines.push(l) }),
        /1 of 1 data sources failed: adbench/,
      );
      assert.ok(lines.some((l) => /44_Wilt\.npz.*sha256|checksum/.test(l)), lines.join("\n"));
      assert.equal(await exists(join(data, "tables/adbench/44_Wilt.npz")), false);
      if (!shared) return;
      // The tables before the corrupted one arrived whole and are listed.
      assert.equal(await exists(join(data, "tables/adbench/12_fault.npz")), true);
      assert.ok((await summarizeDataDir(data)).some((l) => l.startsWith("tables/adbench: ")));
    });
  });
});

Deno.test("copyFromLocal: ADBench tables are checksummed, other tables copied as they are", async () => {
  await inTempDir(async (dir) => {
    const from = join(dir, "src");
    await Deno.mkdir(join(from, "tables/adbench"), { recursive: true });
    await Deno.writeTextFile(join(from, "tables/adbench/my_table.npz"), "mine");
    const copied = await copyFromLocal(from, join(dir, "data"), { only: ["adbench"] });
    assert.deepEqual(copied, ["tables/adbench/my_table.npz"]);
    await Deno.writeTextFile(join(from, "tables/adbench/14_glass.npz"), "not the real table");
    await assert.rejects(
      copyFromLocal(from, join(dir, "data2"), { only: ["adbench"] }),
      /14_glass\.npz: checksum mismatch/,
    );
  });
});

/**
 * Fetches category `name`'s source from a local server that serves a tiny MVTec-style archive, and
 * checks that it lands in `folder` (relative to the data directory), outside the default training
 * run, and is listed by the data summary.
 */
async function assertCategoryFetched(name: string, folder: string): Promise<void> {
  await inTempDir(async (dir) => {
    const bytes = await categoryArchive(dir, name);
    await withServer((req) => rangeResponse(req, bytes), async (base) => {
      const data = join(dir, "data");
      await fetchSources(selectSources([name]), data, {
        overrides: parseUrlOverrides([`${name}=${base}/${name}.tar.xz`]),
        log: () => {},
      });
      assert.equal(await exists(join(data, folder, name, "train/good/000.png")), true);
      assert.deepEqual(defaultDataPaths(data).imagesDirs, []);
      const lines = await summarizeDataDir(data);
      assert.ok(lines.some((l) => l.startsWith(`${folder}/${name}: `)), lines.join("\n"));
    });
  });
}

Deno.test("fetchSources: screw unpacks under images/dev, outside the default training run", async () => {
  await assertCategoryFetched("screw", "images/dev");
});

Deno.test("mvtec-more: the 12 other MVTec AD categories, one name each and one for all", async () => {
  const all = selectSources(["mvtec-more"]);
  assert.equal(all.length, 12);
  const [hazelnut] = selectSources(["hazelnut"]);
  const host = new URL(hazelnut.files[0].url).host;
  for (const source of all) {
    assert.ok(!["hazelnut", "zipper", "screw"].includes(source.name), source.name);
    assert.equal(source.byDefault, false);
    const [file] = source.files;
    assert.equal(new URL(file.url).host, host);
    assert.ok(file.url.endsWith(`/${source.name}.tar.xz`), file.url);
    assert.equal(file.extractTo, "images/mvtec-more");
  }
  assert.equal(selectSources(["bottle,mvtec-more"]).length, 12);
  assert.deepEqual(selectSources(["wood", "thyroid"]).map((s) => s.name), ["thyroid", "wood"]);
  await assertCategoryFetched("bottle", "images/mvtec-more");
});

Deno.test("sources: URL overrides, env vars and --only validation", () => {
  const [thyroid] = selectSources(["thyroid"]);
  const file = thyroid.files[0];
  assert.equal(urlEnvVar("ann-thyroid-train"), "MADFORMER_URL_ANN_THYROID_TRAIN");
  assert.equal(resolveUrl(file, new Map(), () => undefined), file.url);
  assert.equal(resolveUrl(file, new Map(), () => "http://env/x"), "http://env/x");
  assert.equal(
    resolveUrl(file, parseUrlOverrides(["thyroid=http://flag/x"]), () => "http://env/x"),
    "http://flag/x",
  );
  assert.throws(() => parseUrlOverrides(["nope=http://x"]), MadError);
  assert.throws(() => parseUrlOverrides(["thyroid"]), MadError);
  assert.throws(() => selectSources(["thyroid,bogus"]), /bogus/);
  assert.deepEqual(selectSources([]).map((s) => s.name), ["thyroid", "hazelnut", "zipper"]);
  // The 17 ADBench tables are one pattern in the help, each still its own --url name.
  assert.ok(urlKeySummary().includes("adbench-<file> (17 files)"));
  assert.ok(!urlKeySummary().some((k) => k.startsWith("adbench-4")));
  assert.ok(urlKeySummary().includes("adbench-held-out-<file> (14 files)"));
  assert.equal(
    parseUrlOverrides(["adbench-44_Wilt=http://m/w.npz"]).get("adbench-44_Wilt"),
    "http://m/w.npz",
  );
});

Deno.test("scripts/data.ts: training defaults only for data/, the train flags for another --dest", () => {
  const paths = (dest: string) => ({
    thyroidMat: join(dest, "thyroid/odds/thyroid.mat"),
    imagesDirs: [join(dest, "images/mvtec/hazelnut"), join(dest, "images/mvtec/zipper")],
  });
  assert.equal(
    trainingLine("data", paths("data"), true),
    "training defaults: thyroid data/thyroid/odds/thyroid.mat; images " +
      "data/images/mvtec/hazelnut, data/images/mvtec/zipper",
  );
  assert.equal(
    trainingLine("/tmp/dl", paths("/tmp/dl"), true),
    "deno task train reads data/ by default, not /tmp/dl/; to train on this: deno task train " +
      "--table /tmp/dl/thyroid/odds/thyroid.mat --images /tmp/dl/images/mvtec/hazelnut " +
      "--images /tmp/dl/images/mvtec/zipper",
  );
  assert.equal(
    trainingLine(
      "/tmp/dl",
      { thyroidMat: "/tmp/dl/thyroid/odds/thyroid.mat", imagesDirs: [] },
      false,
    ),
    "deno task train reads data/ by default, not /tmp/dl/: give it --images DIR / --table FILE",
  );
});

Deno.test("scripts/data.ts: a bad flag exits non-zero with one line on stderr", async () => {
  const script = new URL("../scripts/data.ts", import.meta.url).pathname;
  for (const args of [["--bogus"], ["--only", "nope"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    assert.notEqual(out.code, 0);
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /^error: /);
  }
});

Deno.test("adbench-held-out: 14 pinned tables apart from the dev suite's, in their own folder", () => {
  const [dev] = selectSources(["adbench"]);
  const [held] = selectSources(["adbench-held-out"]);
  assert.equal(held.files.length, 14);
  const devNames = new Set(dev.files.map((f) => f.target.split("/").at(-1)));
  for (const file of held.files) {
    assert.match(file.sha256 ?? "", /^[0-9a-f]{64}$/);
    assert.ok(file.target.startsWith("tables/adbench-held-out/"), file.target);
    assert.equal(KNOWN_CHECKSUMS[file.target], file.sha256);
    // A table tuned on (or ODDS thyroid, the course table) would not check anything.
    const name = file.target.split("/").at(-1)!;
    assert.ok(!devNames.has(name) && name !== "38_thyroid.npz", name);
  }
});

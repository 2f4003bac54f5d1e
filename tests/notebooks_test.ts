import assert from "node:assert/strict";
import { basename, join, resolve } from "node:path";
import {
  denoKernelInstalled,
  displaysHeld,
  ensureDenoKernel,
  exportNotebook,
  externalResources,
  failureLine,
  KERNEL_INSTALL_COMMAND,
  listNotebooks,
  nbconvertInstalled,
  offlineHtml,
  plotlyCopies,
  runNotebooks,
} from "../lib/notebook/export.ts";
import {
  HIDE_SCRIPT_ONLY_OUTPUTS,
  loadPlotly,
  PLOTLY_LOADER_MARKER,
  readEpochRows,
  rowsHtml,
} from "../lib/notebook/helpers.ts";
import { dataEnv, dataFromEnv, notebookWorkFolder } from "../lib/notebook/data.ts";
import { writeSyntheticImages, writeSyntheticTableCsv } from "../lib/data/synthetic.ts";
import { exists, inTempDir, madErrorAsync } from "./fixtures.ts";
import { PROJECT_ROOT } from "../lib/util/files.ts";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Plots per report on the tiny setup (two image categories and one table; 04_evaluation draws
 * each category's AUROC by defect type too).
 */
const PLOTS: Record<string, number> = {
  "01_data_exploration.html": 3,
  "02_training.html": 2,
  "03_ablation.html": 1,
  "04_evaluation.html": 14,
};

Deno.test("notebooks are nbformat 4 with the Deno kernel, no outputs, importing lib/", async () => {
  const notebooks = await listNotebooks("notebooks");
  assert.deepEqual(notebooks.map((n) => basename(n)), [
    "01_data_exploration.ipynb",
    "02_training.ipynb",
    "03_ablation.ipynb",
    "04_evaluation.ipynb",
  ]);
  for (const path of notebooks) {
    const nb = JSON.parse(await Deno.readTextFile(path));
    assert.equal(nb.nbformat, 4, path);
    assert.deepEqual(nb.metadata.kernelspec, {
      name: "deno",
      display_name: "Deno",
      language: "typescript",
    });
    assert.equal(nb.metadata.language_info.name, "typescript");
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    for (const cell of code) {
      assert.deepEqual(cell.outputs, [], `${path}: stored without outputs`);
      assert.equal(cell.execution_count, null);
    }
    const source = code.map((c: { source: string[] }) => c.source.join("")).join("\n");
    // Through deno.json's "madformer/" prefix, so a kernel started in the project's root (VS
    // Code's default) finds lib/ as one started in notebooks/ (JupyterLab's) does.
    assert.match(source, /from "madformer\//, `${path} imports lib/`);
    assert.doesNotMatch(
      source,
      /from "\.\.\/lib\//,
      `${path}: no path relative to the kernel's folder`,
    );
    assert.match(source, /const FULL = /, `${path} has the FULL switch`);
    // Names come from the user's files and folders: markup written by hand escapes each value.
    for (const literal of source.match(/html\(`[^`]*`/g) ?? []) {
      for (const value of literal.match(/\$\{[^}]*\}/g) ?? []) {
        if (value.includes("?")) continue; // a choice between fixed words
        assert.match(value, /^\$\{escapeHtml\(/, `${path}: ${value} in ${literal} is escaped`);
      }
    }
  }
});

Deno.test("ensureDenoKernel registers a missing kernel, saying so in one line", async () => {
  let registered = false;
  const lines: string[] = [];
  const installed = () => Promise.resolve(registered);
  const install = () => {
    registered = true;
    return Promise.resolve({ code: 0, stderr: "" });
  };
  assert.equal(
    await ensureDenoKernel({ installed, install, onProgress: (l) => lines.push(l) }),
    true,
  );
  assert.deepEqual(lines, [
    `the Deno Jupyter kernel is not registered; running deno jupyter --install`,
  ]);
  // Present: nothing to do, nothing said.
  assert.equal(
    await ensureDenoKernel({ installed, install, onProgress: (l) => lines.push(l) }),
    false,
  );
  assert.equal(lines.length, 1);
});

Deno.test("ensureDenoKernel: when registering fails, one line with the command to run", async () => {
  const installed = () => Promise.resolve(false);
  const failing = () => Promise.resolve({ code: 1, stderr: "warning\npermission denied\n" });
  await madErrorAsync(
    () => ensureDenoKernel({ installed, install: failing }),
    "permission denied",
    `run: ${KERNEL_INSTALL_COMMAND}`,
  );
  const silent = () => Promise.resolve({ code: 0, stderr: "" });
  await madErrorAsync(
    () => ensureDenoKernel({ installed, install: silent }),
    "Jupyter still does not list it",
    `run: ${KERNEL_INSTALL_COMMAND}`,
  );
});

Deno.test("failureLine: the cell's error whole, without the project's own class name", () => {
  const long = "x".repeat(500);
  const stderr = [
    "[NbConvertApp] Converting notebook 02_training.ipynb to html",
    "Traceback:",
    `\x1b[31mMadError: t.csv: no 'label' column (columns: a, class): ${long}; rename it\x1b[0m`,
  ].join("\n");
  assert.equal(
    failureLine(stderr),
    `t.csv: no 'label' column (columns: a, class): ${long}; rename it`,
  );
  assert.equal(failureLine("TypeError: x is not a function"), "TypeError: x is not a function");
});

Deno.test("offlineHtml drops CDN scripts and stylesheets, keeps inline ones", () => {
  const page = `<head><script src="https://cdn.example/require.js"></script>
<link rel="stylesheet" href="https://cdn.example/x.css"><script>var a = 1;</script>
<link rel="stylesheet" href="local.css"></head>`;
  assert.deepEqual(externalResources(page), [
    "https://cdn.example/require.js",
    "https://cdn.example/x.css",
  ]);
  const offline = offlineHtml(page);
  assert.deepEqual(externalResources(offline), []);
  assert.match(offline, /var a = 1;/);
  assert.match(offline, /local\.css/);
});

Deno.test("plotlyCopies counts loaders and whole inline bundles, not loader parts", () => {
  const part = `<script>parts[0] = "/**\\n* plotly.js v4.1.1\\n";</script>`;
  const loader = `<script id="${PLOTLY_LOADER_MARKER}">x</script>`;
  assert.equal(plotlyCopies(part + loader), 1);
  assert.equal(plotlyCopies(`<script>/**\n* plotly.js v4.1.1\n*/</script>`), 1);
  assert.equal(plotlyCopies(part + loader + loader), 2);
  assert.equal(plotlyCopies("<p>no plots</p>"), 0);
});

Deno.test("loadPlotly sends plotly.js on every call, one copy each (a re-run setup cell)", async () => {
  const sent: Array<Record<string, string>> = [];
  const api = { display: (bundle: Record<string, string>) => sent.push(bundle) };
  // Outside `deno jupyter` Deno.jupyter's getter throws; its setter takes a stand-in.
  const deno = Deno as unknown as { jupyter: unknown };
  deno.jupyter = api;
  try {
    const page = async () => {
      sent.length = 0;
      await loadPlotly({ partChars: 1_000_000 });
      return sent.map((b) => b["text/html"]).join("\n");
    };
    const first = await page();
    const second = await page();
    // The second run's output replaces the first's in the saved notebook: it must hold a copy.
    assert.equal(plotlyCopies(first), 1);
    assert.equal(plotlyCopies(second), 1);
    assert.equal(second, first);
    assert.match(first, /plotly\.js 3 parts loaded/);
    // The loader's output hides the script-only part outputs above it (no blank band), in the
    // live page and in any export of it, not only in deno task notebooks' reports.
    const loader = sent.at(-1)!["text/html"];
    assert.ok(loader.startsWith(`<style>${HIDE_SCRIPT_ONLY_OUTPUTS}</style>`), loader);
    assert.equal(
      sent.slice(0, -1).every((b) => /^<script>[^]*<\/script>$/.test(b["text/html"])),
      true,
    );
  } finally {
    deno.jupyter = undefined;
  }
});

Deno.test("readEpochRows reads metrics.jsonl; rowsHtml escapes cells", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "metrics.jsonl");
    await Deno.writeTextFile(path, '{"epoch":1,"loss":2}\n{"epoch":2,"loss":1}\n');
    assert.deepEqual((await readEpochRows(path)).map((r) => r.epoch), [1, 2]);
    assert.deepEqual(await readEpochRows(join(dir, "missing.jsonl")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const table = rowsHtml([{ name: "<a>", auroc: 0.123456, n: 3 }]);
  assert.match(table, /&lt;a&gt;/);
  assert.match(table, /<td>0\.1235<\/td><td>3<\/td>/);
});

/**
 * A copy of the report with an error recorder at the top and, at the end, a check that writes
 * the number of plot containers, how many plotly drew into, and the errors into the title.
 */
function instrumented(html: string): string {
  const recorder = `<script>window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || "error"));
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__errors.push(String(e.reason)); });
</script>`;
  const check = `<script>window.addEventListener("load", function () {
  setTimeout(function () {
    var divs = document.querySelectorAll('div[id^="madformer-plot-"]');
    var drawn = 0;
    divs.forEach(function (d) { if (d.querySelector(".main-svg")) drawn++; });
    document.title = "CHECK " + JSON.stringify({ plots: divs.length, drawn: drawn, errors: window.__errors });
  }, 4000);
});</script>`;
  const head = html.search(/<head[^>]*>/i);
  const withRecorder = head >= 0
    ? html.replace(/<head[^>]*>/i, (m) => m + recorder)
    : recorder + html;
  return withRecorder.replace(/<\/body>/i, check + "</body>");
}

/** Opens a page in headless Chromium and returns what the check wrote into the title. */
async function chromiumCheck(
  page: string,
): Promise<{ plots: number; drawn: number; errors: string[] }> {
  const profile = await Deno.makeTempDir({ prefix: "madformer-chromium-" });
  try {
    const out = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--virtual-time-budget=20000",
        "--dump-dom",
        `file://${page}`,
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const dom = new TextDecoder().decode(out.stdout);
    const title = dom.match(/<title>CHECK (.*?)<\/title>/s);
    assert.ok(
      title,
      `${page}: no check result (chromium exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).slice(-500)
      }`,
    );
    const json = title[1].replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
    return JSON.parse(json);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

const haveJupyter = await nbconvertInstalled() && await denoKernelInstalled();
const haveChromium = await exists(CHROMIUM);

/**
 * A Python that imports nbclient (to start a kernel in a chosen folder, which nbconvert cannot):
 * `python3`, else the interpreter named on the first line of the `jupyter` launcher (after `env`
 * and its flags, if any); null when neither does.
 */
async function findNbclientPython(): Promise<string | null> {
  const candidates = ["python3"];
  try {
    const found = await new Deno.Command("sh", {
      args: ["-c", "command -v jupyter"],
      stdout: "piped",
    })
      .output();
    const first = (await Deno.readTextFile(new TextDecoder().decode(found.stdout).trim()))
      .split("\n")[0];
    const words = first.replace(/^#!\s*/, "").split(/\s+/).filter((w) => w && !w.startsWith("-"));
    const python = words[0]?.endsWith("/env") ? words[1] : words[0];
    if (first.startsWith("#!") && python) candidates.push(python);
  } catch {
    // no launcher to read: python3 alone
  }
  for (const python of candidates) {
    try {
      const out = await new Deno.Command(python, { args: ["-c", "import nbclient, nbformat"] })
        .output();
      if (out.code === 0) return python;
    } catch {
      // not installed
    }
  }
  return null;
}
const nbclientPython = haveJupyter ? await findNbclientPython() : null;

Deno.test({
  name: "every notebook executes on the tiny setup and its report draws every plot offline",
  ignore: !haveJupyter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-notebooks-" });
    try {
      const outDir = join(dir, "reports");
      const lines: string[] = [];
      const reports = await runNotebooks({
        notebooksDir: "notebooks",
        outDir,
        workDir: join(dir, "work"),
        cellTimeoutSeconds: 300,
        onProgress: (line) => lines.push(line),
      });
      assert.equal(reports.length, 4);
      // The notebooks' own progress reaches the terminal while they run, not only their pages:
      // 02's epochs and 03's finished runs, between their notebook's start and end lines.
      const inside = (name: string, pattern: RegExp) => {
        const start = lines.findIndex((l) => l.includes(`${name} ...`));
        const end = lines.findIndex((l) => l.includes(`${name} done`));
        return lines.slice(start + 1, end).some((l) => pattern.test(l));
      };
      assert.ok(inside("02_training", /^ {2}epoch 1\//), lines.join("\n"));
      assert.ok(inside("03_ablation", /^ {2}\[1\/\d+\] full seed 0: /), lines.join("\n"));
      for (const r of reports) {
        const html = await Deno.readTextFile(r.html);
        assert.deepEqual(externalResources(html), [], `${r.html} needs no network`);
        assert.equal(plotlyCopies(html), 1, `${r.html} embeds plotly.js once`);
        assert.equal(r.lostDisplays, 0, `${r.html}: every display arrived`);
      }
      // 03 reports the combined score and the encoder evidence alone, against full's spread.
      const ablation = await Deno.readTextFile(
        reports.find((r) => basename(r.html) === "03_ablation.html")!.html,
      );
      for (
        const text of ["enc alone", "combined exceeds", "no_position_embedding", "encoder_only"]
      ) {
        assert.ok(ablation.includes(text), `03_ablation.html shows ${text}`);
      }
      await t.step({
        name: "reports open in headless Chromium with no JS error and every plot drawn",
        ignore: !haveChromium,
        fn: async () => {
          for (const r of reports) {
            const page = join(dir, `checked_${basename(r.html)}`);
            await Deno.writeTextFile(page, instrumented(await Deno.readTextFile(r.html)));
            const result = await chromiumCheck(page);
            assert.deepEqual(result.errors, [], `${basename(r.html)}: JavaScript errors`);
            // Exact counts on the tiny setup also catch display messages the kernel lost.
            assert.equal(result.plots, PLOTS[basename(r.html)], `${basename(r.html)}: plots`);
            assert.equal(result.drawn, result.plots, `${basename(r.html)}: every plot drawn`);
          }
        },
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("displaysHeld counts an executed notebook's display_data outputs only", () => {
  const output = (output_type: string) => ({ output_type });
  assert.equal(
    displaysHeld({
      cells: [
        { outputs: [output("display_data"), output("stream"), output("display_data")] },
        {},
        { outputs: [output("execute_result"), output("display_data")] },
      ],
    }),
    3,
  );
  assert.equal(displaysHeld({}), 0);
});

/** A one-cell notebook for the Deno kernel running `source`. */
function oneCellNotebook(source: string): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
      language_info: { name: "typescript" },
    },
    cells: [{
      cell_type: "code",
      id: "only",
      metadata: {},
      execution_count: null,
      outputs: [],
      source: [source],
    }],
  });
}

Deno.test({
  name:
    "exportNotebook counts the displays sent against those held, and runs again when some are lost",
  ignore: !haveJupyter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-notebook-displays-" });
    try {
      const helpers = new URL("../lib/notebook/helpers.ts", import.meta.url).href;
      const data = new URL("../lib/notebook/data.ts", import.meta.url).href;
      const whole = join(dir, "whole.ipynb");
      await Deno.writeTextFile(
        whole,
        oneCellNotebook(
          `import { html, show } from "${helpers}";\n` +
            `await show(html("<p>one</p>"));\nawait show(html("<p>two</p>"));`,
        ),
      );
      const lines: string[] = [];
      const report = await exportNotebook(whole, {
        outDir: join(dir, "out"),
        onProgress: (l) => lines.push(l),
      });
      assert.equal(report.lostDisplays, 0);
      assert.deepEqual(lines, [] as string[]);
      const page = await Deno.readTextFile(report.html);
      assert.ok(page.includes("<p>one</p>") && page.includes("<p>two</p>"));
      // A display counted as sent that never reaches the notebook: what a lost message looks like.
      const lossy = join(dir, "lossy.ipynb");
      await Deno.writeTextFile(
        lossy,
        oneCellNotebook(
          `import { html, show } from "${helpers}";\nimport { recordDisplay } from "${data}";\n` +
            `await show(html("<p>kept</p>"));\nrecordDisplay();`,
        ),
      );
      const lost = await exportNotebook(lossy, {
        outDir: join(dir, "out"),
        onProgress: (l) => lines.push(l),
        attempts: 2,
      });
      assert.equal(lost.lostDisplays, 1);
      assert.deepEqual(lines, [
        "  lossy.ipynb: the Deno kernel lost 1 of 2 displays; running it again (2 of 2)",
        "  lossy.ipynb: 1 of 2 displays were lost in each of 2 runs; the report is written without them",
      ]);
      assert.ok((await Deno.readTextFile(lost.html)).includes("<p>kept</p>"), "report written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Processes whose environment holds `tag` (read from /proc; none where there is none). */
function processesTagged(tag: string): number[] {
  const found: number[] = [];
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${entry.name}/environ`).includes(tag)) {
          found.push(Number(entry.name));
        }
      } catch {
        // Ended, or not ours to read.
      }
    }
  } catch {
    // No /proc.
  }
  return found;
}

Deno.test({
  name: "a notebooks run stopped by SIGTERM ends its kernel too, and says how to continue",
  ignore: !haveJupyter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-notebooks-stop-" });
    const tag = `madformer-stop-${crypto.randomUUID()}`;
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "scripts/notebooks.ts",
          "--only",
          "03_ablation",
          "--out",
          join(dir, "reports"),
          "--work",
          join(dir, "work"),
        ],
        env: { MADFORMER_STOP_TAG: tag, NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      // Stopped once the kernel is training: after its first finished ablation run.
      while (!/\[1\/\d+\] full seed 0/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      child.kill("SIGTERM");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      const { code } = await child.status;
      assert.equal(code, 143, text);
      assert.match(text, /SIGTERM: stopped; .*a rerun reuses the ablation runs/);
      // Where there was an orphaned kernel, it trained on for minutes after the stop.
      assert.deepEqual(processesTagged(tag), [], "no process of the run outlives it");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "notebooks run on the user's own image folders and tables, in a folder of their own",
  ignore: !haveJupyter,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-notebooks-own-" });
    try {
      const images = join(dir, "my_parts");
      const table = join(dir, "my_rows.csv");
      await writeSyntheticImages(images, {
        seed: 3,
        size: 32,
        nTrain: 12,
        nTestGood: 4,
        nTestBad: 4,
      });
      await writeSyntheticTableCsv(table, { seed: 3, n: 300, d: 5 });
      const work = join(dir, "work");
      const [report] = await runNotebooks({
        notebooksDir: "notebooks",
        outDir: join(dir, "reports"),
        workDir: work,
        data: { imageDirs: [images], tablePaths: [table] },
        only: ["01_data"],
        cellTimeoutSeconds: 300,
      });
      const html = await Deno.readTextFile(report.html);
      assert.ok(html.includes(`TINY: images ${images}; tables ${table}`), "says what it runs on");
      // No synthetic data was written in place of the user's (the tiny setup writes it to tiny/).
      assert.ok(!(await exists(join(work, "tiny"))), "no synthetic data written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("notebook data: the environment names the user's datasets, absolute, and a folder of theirs", () => {
  const data = { imageDirs: ["photos/bottle", "/abs/cable"], tablePaths: ["rows.npz"] };
  const env = dataEnv(data);
  assert.deepEqual(Object.keys(env), ["MADFORMER_IMAGES", "MADFORMER_TABLES"]);
  const back = dataFromEnv((name) => env[name]);
  assert.deepEqual(back, {
    imageDirs: [resolve("photos/bottle"), "/abs/cable"],
    tablePaths: [resolve("rows.npz")],
  });
  assert.deepEqual(dataEnv({ imageDirs: [], tablePaths: ["t.csv"] }), {
    MADFORMER_TABLES: resolve("t.csv"),
  });
  assert.equal(dataFromEnv(() => undefined), undefined);
  assert.equal(dataFromEnv(() => ""), undefined);
  // A path holding the list delimiter travels whole, as a JSON array.
  const colon = { imageDirs: ["/data/run:2/bottle", "/abs/cable"], tablePaths: [] };
  const colonEnv = dataEnv(colon);
  assert.ok(colonEnv.MADFORMER_IMAGES.startsWith("["));
  assert.deepEqual(dataFromEnv((name) => colonEnv[name])?.imageDirs, colon.imageDirs);
  assert.throws(
    () => dataFromEnv((name) => (name === "MADFORMER_TABLES" ? "[1, 2]" : undefined)),
    /MADFORMER_TABLES: a JSON value must be an array of path strings/,
  );
  const typed = dataFromEnv((name) => (name === "MADFORMER_TABLES" ? "[2024] t.csv" : undefined));
  assert.deepEqual(typed?.tablePaths, [resolve("[2024] t.csv")]);
  // Plain folders without own data; one per data set with it, the same for the same paths.
  assert.equal(notebookWorkFolder("out", true), join("out", "full"));
  assert.equal(notebookWorkFolder("out", false), join("out", "tiny"));
  const own = notebookWorkFolder("out", true, data);
  assert.match(own, /^out\/full-[0-9a-f]{8}$/);
  assert.equal(notebookWorkFolder("out", true, back), own, "relative and absolute paths agree");
  assert.notEqual(notebookWorkFolder("out", true, { ...data, tablePaths: [] }), own);
});

Deno.test({
  name:
    "the notebooks' lib/ imports resolve in a kernel started in the project's root or in notebooks/",
  ignore: !haveJupyter || nbclientPython === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await inTempDir(async (dir) => {
      const notebook = join(dir, "imports.ipynb");
      await Deno.writeTextFile(
        notebook,
        oneCellNotebook(
          `import { escapeHtml } from "madformer/report/mod.ts";\nconsole.log(escapeHtml("<ok>"));`,
        ),
      );
      // nbclient's `path` is the folder the kernel starts in, as JupyterLab's or VS Code's is.
      const script = "import sys, nbformat\nfrom nbclient import NotebookClient\n" +
        "nb = nbformat.read(sys.argv[1], as_version=4)\n" +
        "NotebookClient(nb, timeout=120, startup_timeout=120, kernel_name='deno', " +
        "resources={'metadata': {'path': sys.argv[2]}}).execute()\n" +
        "print(nb.cells[0].outputs[0]['text'].strip())\n";
      const python = nbclientPython!;
      for (const cwd of [PROJECT_ROOT, join(PROJECT_ROOT, "notebooks")]) {
        const out = await new Deno.Command(python, {
          args: ["-c", script, notebook, cwd],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, `kernel in ${cwd}: ${stderr.split("\n").slice(-3).join(" ")}`);
        assert.equal(new TextDecoder().decode(out.stdout).trim(), "&lt;ok&gt;", cwd);
      }
    }, "madformer-notebook-root-");
  },
});

/**
 * Executing the notebooks headless and exporting them as offline HTML reports (`deno task
 * notebooks`): nbconvert with the Deno kernel per notebook, then each page is made
 * self-contained (the CDN scripts nbconvert's template links are dropped) and checked to hold
 * plotly.js at most once.
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { HIDE_SCRIPT_ONLY_OUTPUTS, PLOTLY_LOADER_MARKER } from "./helpers.ts";
import { writeFileAtomic } from "../util/files.ts";
import { descendants, signalProcess } from "../util/processes.ts";
import { MadError } from "../errors.ts";
import type { ExperimentData } from "../experiment/setup.ts";
import { dataEnv, DISPLAYS_ENV, PROGRESS_ENV } from "./data.ts";

/** The command-line tool nbconvert runs as. */
const JUPYTER = "jupyter";

async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { code: 127, stdout: "", stderr: "not found" };
    throw e;
  }
}

/**
 * True when Jupyter knows a kernel named `deno`: asks `jupyter kernelspec list --json` when the
 * jupyter-client tools are installed, else looks for `kernels/deno/kernel.json` in Jupyter's
 * data paths (Debian's nbconvert package comes without the kernelspec command).
 */
export async function denoKernelInstalled(): Promise<boolean> {
  const listed = await run(JUPYTER, ["kernelspec", "list", "--json"]);
  if (listed.code === 0) {
    try {
      const specs = JSON.parse(listed.stdout).kernelspecs ?? {};
      return "deno" in specs;
    } catch {
      // Fall through to the data paths.
    }
  }
  const paths = await run(JUPYTER, ["--paths", "--json"]);
  if (paths.code !== 0) return false;
  let data: string[] = [];
  try {
    data = JSON.parse(paths.stdout).data ?? [];
  } catch {
    return false;
  }
  for (const dir of data) {
    try {
      if ((await Deno.stat(join(dir, "kernels", "deno", "kernel.json"))).isFile) return true;
    } catch {
      // Not in this one.
    }
  }
  return false;
}

/** True when `jupyter nbconvert` runs. */
export async function nbconvertInstalled(): Promise<boolean> {
  return (await run(JUPYTER, ["nbconvert", "--version"])).code === 0;
}

/** The command that registers the Deno kernel with Jupyter. */
export const KERNEL_INSTALL_COMMAND = "deno jupyter --install";

/** Runs `deno jupyter --install` with the running deno. */
async function installDenoKernel(): Promise<{ code: number; stderr: string }> {
  return await run(Deno.execPath(), ["jupyter", "--install"]);
}

/** Options of {@linkcode ensureDenoKernel}; the last two stand in for Jupyter in tests. */
export interface EnsureKernelOptions {
  /** Called with the one line that says the kernel is being registered. */
  onProgress?: (line: string) => void;
  /** Whether Jupyter knows the kernel (default {@linkcode denoKernelInstalled}). */
  installed?: () => Promise<boolean>;
  /** Registers it (default: `deno jupyter --install` with this deno). */
  install?: () => Promise<{ code: number; stderr: string }>;
}

/**
 * Makes sure Jupyter knows the Deno kernel: a fresh machine has nbconvert but no kernel, and
 * registering it only writes a kernelspec into the user's Jupyter folder, so it is done here
 * (announced in one line) rather than left to the user. When that fails, throws a one-line
 * MadError with the command to run. Returns whether it had to register the kernel.
 */
export async function ensureDenoKernel(options: EnsureKernelOptions = {}): Promise<boolean> {
  const installed = options.installed ?? denoKernelInstalled;
  if (await installed()) return false;
  options.onProgress?.(
    `the Deno Jupyter kernel is not registered; running ${KERNEL_INSTALL_COMMAND}`,
  );
  const result = await (options.install ?? installDenoKernel)();
  if (result.code === 0 && await installed()) return true;
  const why = result.code === 0
    ? "Jupyter still does not list it"
    : result.stderr.trim().split("\n").pop() || `exit code ${result.code}`;
  throw new MadError(
    `the Deno Jupyter kernel is not installed and registering it failed (${why}); ` +
      `run: ${KERNEL_INSTALL_COMMAND}`,
  );
}

/**
 * Throws a one-line MadError saying what to install when nbconvert is missing; registers the
 * Deno kernel when it is (see {@linkcode ensureDenoKernel}).
 */
export async function checkNotebookTools(
  options: Pick<EnsureKernelOptions, "onProgress"> = {},
): Promise<void> {
  if (!(await nbconvertInstalled())) {
    throw new MadError(
      "jupyter nbconvert not found; install it (apt-get install jupyter-nbconvert python3-nbclient)",
    );
  }
  await ensureDenoKernel(options);
}

/** The `.ipynb` files of a folder, sorted by name. */
export async function listNotebooks(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".ipynb")) out.push(join(dir, e.name));
    }
  } catch {
    throw new MadError(`${dir}: notebooks folder not found`);
  }
  if (out.length === 0) throw new MadError(`${dir}: no .ipynb notebooks found`);
  return out.sort();
}

/** `src` URLs of external scripts and `href` URLs of external stylesheets in a page. */
export function externalResources(html: string): string[] {
  const urls: string[] = [];
  for (const m of html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["'][^>]*>/gi)) {
    urls.push(m[1]);
  }
  for (const m of html.matchAll(/<link\b[^>]*\bhref\s*=\s*["'](https?:[^"']+)["'][^>]*>/gi)) {
    urls.push(m[1]);
  }
  return urls;
}

/**
 * The page without its external scripts and stylesheets. nbconvert's template links require.js
 * and MathJax from a CDN; the reports need neither (plots bring plotly.js inline), and offline
 * they would only fail to load.
 */
export function offlineHtml(html: string): string {
  return html
    .replace(/<script\b[^>]*\bsrc\s*=\s*["'][^"']+["'][^>]*>\s*<\/script>/gi, "")
    .replace(/<link\b[^>]*\bhref\s*=\s*["']https?:[^"']+["'][^>]*>/gi, "")
    .replace(/<\/head>/i, `<style>${HIDE_SCRIPT_ONLY_OUTPUTS}</style></head>`);
}

/**
 * How many copies of plotly.js a page carries: assembled-in-parts loaders plus bundles inlined
 * whole (recognised by plotly.js's own banner comment).
 */
export function plotlyCopies(html: string): number {
  const loaders = html.split(`id="${PLOTLY_LOADER_MARKER}"`).length - 1;
  // A real newline after the comment opener: inside the loader's JSON parts it is escaped.
  const inline = html.split("/**\n* plotly.js v").length - 1;
  return loaders + inline;
}

/** What one notebook run produced. */
export interface NotebookReport {
  notebook: string;
  html: string;
  seconds: number;
  /** Displays the notebook sent that its report lacks (the Deno kernel lost them). */
  lostDisplays: number;
}

/** Options of {@linkcode runNotebooks}. */
export interface RunNotebooksOptions {
  /** Folder of the `.ipynb` files (default `notebooks`). */
  notebooksDir?: string;
  /** Where the HTML reports go (default `results/reports`). */
  outDir?: string;
  /** Run the FULL setup (MADFORMER_FULL=1) instead of the tiny one. */
  full?: boolean;
  /** Working folder the notebooks write data and runs to (MADFORMER_NOTEBOOK_OUT). */
  workDir?: string;
  /** The user's image folders and tables to run on instead of the default data. */
  data?: ExperimentData;
  /** Only the notebooks whose file names contain one of these. */
  only?: string[];
  /** Per-cell timeout; default 600 s tiny, 12 h full. */
  cellTimeoutSeconds?: number;
  /** Called with a progress line when each notebook starts and ends, and with its own lines. */
  onProgress?: (line: string) => void;
}

/**
 * The part of nbconvert's error output that says what went wrong, on one line: the cell's error
 * whole (a MadError's message names the file and the way out, so it is not cut), without the
 * class name for the project's own errors.
 */
export function failureLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean)
    .filter((l) => !l.startsWith("[NbConvertApp]") && !l.includes('"deno jupyter" is unstable'));
  // nbclient prints the cell's error as `Name: message` near the end of its traceback.
  const error = lines.filter((l) => /^[A-Za-z]*Error\b.*:/.test(l)).pop();
  // The kernel's traceback carries ANSI colour codes.
  // deno-lint-ignore no-control-regex
  const line = (error ?? lines.pop() ?? "failed").replace(/\x1b\[[0-9;]*m/g, "")
    .replace(/^MadError: /, "");
  return line.length > 2000 ? `${line.slice(0, 2000)}...` : line;
}

/** How long nbconvert gets to shut its kernel down after a stop, before it is killed. */
const STOP_GRACE_MS = 20_000;

/**
 * Runs nbconvert, and on SIGINT or SIGTERM passes a SIGINT on to it: nbconvert then shuts its
 * kernel down, where SIGTERM (what `kill` and CI timeouts send) ends it at once and leaves the
 * kernel training with no one to report to. The kernel's process is looked up while nbconvert
 * runs, so that it can be ended even when nbconvert was ended first (a signal to the whole
 * process group); and the run ends when nbconvert does, not when its error pipe closes, which
 * an orphaned kernel holds open. Ends with a MadError saying how to continue after a stop.
 */
async function runNbconvert(
  args: string[],
  env: Record<string, string>,
  onOutput: () => void,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(JUPYTER, {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = collectText(child.stderr);
  let stoppedBy: Deno.Signal | null = null;
  let kill: ReturnType<typeof setTimeout> | undefined;
  const kernels = new Set<number>();
  // Until the kernel is found: a scan of every process, once a second, is not needed after.
  const track = () => {
    if ([...kernels].some(isKernel)) return;
    for (const pid of descendants(child.pid)) kernels.add(pid);
  };
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const listener = () => {
      if (stoppedBy) return;
      stoppedBy = signal;
      track();
      signalProcess(child.pid, "SIGINT");
      kill = setTimeout(() => signalProcess(child.pid, "SIGKILL"), STOP_GRACE_MS);
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  const poll = setInterval(() => {
    track();
    onOutput();
  }, 1000);
  try {
    const status = await child.status;
    onOutput();
    // A kernel that outlived nbconvert (ended by a signal, or stopped) would run on unseen.
    for (const pid of kernels) if (isKernel(pid)) signalProcess(pid, "SIGTERM");
    if (stoppedBy) {
      throw new MadError(
        `${stoppedBy}: stopped; finished notebooks' reports are kept, and a rerun reuses the ` +
          "ablation runs already in the work folder",
        stoppedBy === "SIGINT" ? 130 : 143,
      );
    }
    return { code: status.code, stderr: await stderr.take() };
  } finally {
    clearInterval(poll);
    clearTimeout(kill);
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** True when process `pid` runs a Jupyter kernel (not a process that took a freed pid). */
function isKernel(pid: number): boolean {
  try {
    return /jupyter|kernel/.test(Deno.readTextFileSync(`/proc/${pid}/cmdline`));
  } catch {
    return false;
  }
}

/**
 * Reads a stream's text as it comes; `take()` gives what was read so far once the stream ends,
 * or after at most a second when something else holds it open.
 */
function collectText(stream: ReadableStream<Uint8Array>): { take: () => Promise<string> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return {
    take: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([done, new Promise((r) => timer = setTimeout(r, 1000))]);
      clearTimeout(timer);
      return text;
    },
  };
}

/**
 * Reads the lines appended to `file` since the last call, for {@linkcode PROGRESS_ENV}: a
 * function that passes each new complete line to `onLine` (a line still being written waits for
 * the next call, so no character is cut in two).
 */
function progressTail(file: string, onLine: (line: string) => void): () => void {
  let offset = 0;
  return () => {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(file);
    } catch {
      return;
    }
    const end = bytes.lastIndexOf(0x0a) + 1;
    if (end <= offset) return;
    const text = new TextDecoder().decode(bytes.subarray(offset, end));
    offset = end;
    for (const line of text.split("\n")) if (line.trim()) onLine(line);
  };
}

/** Options of {@linkcode exportNotebook}. */
export interface ExportNotebookOptions {
  outDir: string;
  full?: boolean;
  workDir?: string;
  data?: ExperimentData;
  cellTimeoutSeconds?: number;
  /** Called with each progress line the notebook writes (see {@linkcode PROGRESS_ENV}). */
  onProgress?: (line: string) => void;
  /** Runs a notebook gets when displays go missing (default {@linkcode DISPLAY_ATTEMPTS}). */
  attempts?: number;
}

/**
 * Runs a notebook gets before its report is written with displays missing: the Deno kernel now
 * and then loses an iopub message under load (once in five runs of 04 beside other work), and a
 * second run, which reuses the training runs the first wrote, has always held them.
 */
export const DISPLAY_ATTEMPTS = 3;

/**
 * Executes one notebook with nbconvert and the Deno kernel and writes `<name>.html` to `outDir`,
 * made offline. The displays the notebook sent are counted (see {@linkcode DISPLAYS_ENV}) against
 * those the executed notebook holds; when some were lost it runs again, up to `attempts` times,
 * and then writes the report of the last run, saying how many are missing (`lostDisplays`).
 * Throws a one-line MadError naming the notebook when a cell fails.
 */
export async function exportNotebook(
  notebook: string,
  options: ExportNotebookOptions,
): Promise<NotebookReport> {
  const started = performance.now();
  const outDir = resolve(options.outDir);
  await Deno.mkdir(outDir, { recursive: true });
  const attempts = Math.max(1, options.attempts ?? DISPLAY_ATTEMPTS);
  const scratch = await Deno.makeTempDir({ prefix: "madformer-notebook-" });
  try {
    let executed = await executeNotebook(notebook, scratch, options);
    for (let attempt = 2; attempt <= attempts && executed.arrived < executed.sent; attempt++) {
      options.onProgress?.(
        `  ${basename(notebook)}: the Deno kernel lost ${
          executed.sent - executed.arrived
        } of ${executed.sent} ` +
          `displays; running it again (${attempt} of ${attempts})`,
      );
      executed = await executeNotebook(notebook, scratch, options);
    }
    const lostDisplays = Math.max(0, executed.sent - executed.arrived);
    if (lostDisplays > 0) {
      options.onProgress?.(
        `  ${
          basename(notebook)
        }: ${lostDisplays} of ${executed.sent} displays were lost in each of ` +
          `${attempts} runs; the report is written without them`,
      );
    }
    const converted = await run(JUPYTER, [
      "nbconvert",
      "--to",
      "html",
      "--output-dir",
      outDir,
      executed.notebook,
    ]);
    if (converted.code !== 0) {
      throw new MadError(`${notebook}: HTML export failed: ${failureLine(converted.stderr)}`);
    }
    const html = join(outDir, basename(notebook).replace(/\.ipynb$/, ".html"));
    const page = offlineHtml(await Deno.readTextFile(html));
    const copies = plotlyCopies(page);
    if (copies > 1) throw new MadError(`${html}: holds plotly.js ${copies} times (expected once)`);
    await writeFileAtomic(html, page);
    return { notebook, html, seconds: (performance.now() - started) / 1000, lostDisplays };
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/** The displays an executed notebook holds: its cells' `display_data` outputs. */
export function displaysHeld(executed: { cells?: Array<{ outputs?: unknown[] }> }): number {
  let held = 0;
  for (const cell of executed.cells ?? []) {
    for (const output of cell.outputs ?? []) {
      if ((output as { output_type?: string }).output_type === "display_data") held++;
    }
  }
  return held;
}

/**
 * Executes `notebook` into `scratch` (the executed `.ipynb`, same name), and counts the displays
 * it sent and those that arrived.
 */
async function executeNotebook(
  notebook: string,
  scratch: string,
  options: ExportNotebookOptions,
): Promise<{ notebook: string; sent: number; arrived: number }> {
  const env: Record<string, string> = { MADFORMER_FULL: options.full ? "1" : "0" };
  if (options.workDir) env.MADFORMER_NOTEBOOK_OUT = resolve(options.workDir);
  if (options.data) Object.assign(env, dataEnv(options.data));
  const progressFile = join(scratch, "progress.txt");
  const displaysFile = join(scratch, "displays.txt");
  await Deno.writeTextFile(progressFile, "");
  await Deno.writeTextFile(displaysFile, "");
  env[PROGRESS_ENV] = progressFile;
  env[DISPLAYS_ENV] = displaysFile;
  const timeout = options.cellTimeoutSeconds ?? (options.full ? 43200 : 600);
  const tail = progressTail(progressFile, (line) => options.onProgress?.(`  ${line}`));
  const result = await runNbconvert(
    [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--ExecutePreprocessor.kernel_name=deno",
      `--ExecutePreprocessor.timeout=${timeout}`,
      // Kernel start-up compiles lib/ on first use.
      "--ExecutePreprocessor.startup_timeout=120",
      "--output-dir",
      scratch,
      resolve(notebook),
    ],
    env,
    tail,
  );
  if (result.code !== 0) {
    throw new MadError(`${notebook}: execution failed: ${failureLine(result.stderr)}`);
  }
  const executed = join(scratch, basename(notebook));
  const sent = (await Deno.readTextFile(displaysFile)).split("\n").filter(Boolean).length;
  const arrived = displaysHeld(JSON.parse(await Deno.readTextFile(executed)));
  return { notebook: executed, sent, arrived };
}

/** Checks the tools, then executes and exports every notebook in order. */
export async function runNotebooks(options: RunNotebooksOptions = {}): Promise<NotebookReport[]> {
  await checkNotebookTools({ onProgress: options.onProgress });
  let notebooks = await listNotebooks(options.notebooksDir ?? "notebooks");
  if (options.only?.length) {
    notebooks = notebooks.filter((n) => options.only!.some((o) => basename(n).includes(o)));
    if (notebooks.length === 0) {
      throw new MadError(`no notebook matches ${options.only.join(", ")}`, 2);
    }
  }
  const reports: NotebookReport[] = [];
  for (const [i, notebook] of notebooks.entries()) {
    options.onProgress?.(`[${i + 1}/${notebooks.length}] ${basename(notebook)} ...`);
    const report = await exportNotebook(notebook, {
      outDir: options.outDir ?? "results/reports",
      full: options.full,
      workDir: options.workDir,
      data: options.data,
      cellTimeoutSeconds: options.cellTimeoutSeconds,
      onProgress: options.onProgress,
    });
    options.onProgress?.(
      `[${i + 1}/${notebooks.length}] ${basename(notebook)} done in ${
        report.seconds.toFixed(1)
      } s: ${report.html}`,
    );
    reports.push(report);
  }
  return reports;
}

/**
 * Fetching datasets: resumable, checksum-verified HTTP downloads, `.tar.xz` extraction with
 * the system `tar`, and copying (or fetching) a ready-made dataset folder with `--from`.
 *
 * A file only ever appears under its final name complete and verified; partial downloads
 * live at `NAME.part` so the next run can resume them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, relative } from "node:path";
import { Progress } from "../util/progress.ts";
import { fileError, isNotFound, MadError } from "../errors.ts";
import {
  DATA_SOURCES,
  type DataSource,
  KNOWN_CHECKSUMS,
  resolveUrl,
  selectSources,
} from "./sources.ts";

/** Called as bytes arrive; `total` is null when the server does not say. */
export type ProgressCallback = (done: number, total: number | null) => void;

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Expected sha256 (hex); null or absent skips the check. */
  sha256?: string | null;
  onProgress?: ProgressCallback;
  /** Further attempts after a dropped connection or a 5xx answer (default 3). */
  retries?: number;
  /** Pause before attempt `k` is `k * retryDelayMs` (default 1000). */
  retryDelayMs?: number;
}

/** A failure worth another attempt (dropped connection, 5xx), as opposed to e.g. a 404. */
class TransientError extends Error {}

/**
 * Downloads `url` to `dest`, streaming into `dest + ".part"`. An existing `.part` is resumed
 * with an HTTP Range request (restarted from zero when the server answers 200 instead of
 * 206); dropped connections are retried the same way. The finished file is checked against
 * `sha256` when given (a mismatch deletes it and throws a MadError naming both hashes) and
 * only then renamed to `dest`.
 *
 * @returns the sha256 (hex) of the downloaded file.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<string> {
  const part = `${dest}.part`;
  const retries = options.retries ?? 3;
  const delay = options.retryDelayMs ?? 1000;
  await Deno.mkdir(dirname(dest) || ".", { recursive: true });
  for (let attempt = 0;; attempt++) {
    try {
      await fetchToPart(url, part, options.onProgress);
      break;
    } catch (e) {
      if (!(e instanceof TransientError) || attempt >= retries) {
        if (e instanceof MadError) throw e;
        // Resuming means something: only when part of the file arrived.
        const arrived = await fileSize(part);
        if (arrived === 0) await Deno.remove(part).catch(() => {});
        throw new MadError(
          `${url}: download failed: ${describe(e)}` +
            (arrived > 0
              ? ` (${arrived} bytes kept; run again to resume)`
              : " (nothing arrived: check the network, or give a local copy with --from)"),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay * (attempt + 1)));
    }
  }
  const actual = await sha256File(part);
  const expected = options.sha256?.toLowerCase();
  if (expected && actual !== expected) {
    await Deno.remove(part).catch(() => {});
    throw fileError(
      dest,
      `checksum mismatch: expected sha256 ${expected}, got ${actual} (download deleted; ` +
        `the link may have changed, see --url)`,
    );
  }
  await Deno.rename(part, dest);
  return actual;
}

/** One attempt: fetches the rest of `url` into `part`, resuming from its current size. */
async function fetchToPart(url: string, part: string, onProgress?: ProgressCallback) {
  let offset = await fileSize(part);
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch (e) {
    throw new TransientError(describe(e));
  }
  if (res.status === 416 && offset > 0) {
    // The .part is as long as (or longer than) the file: start again rather than guess.
    await res.body?.cancel();
    await Deno.remove(part);
    throw new TransientError("range not satisfiable, restarting");
  }
  if (!res.ok) {
    await res.body?.cancel();
    const problem = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
    if (res.status >= 500) throw new TransientError(problem);
    throw new MadError(`${url}: ${problem}`);
  }
  if (offset > 0 && res.status !== 206) offset = 0; // Range ignored: the body is the whole file.
  const length = Number(res.headers.get("content-length") ?? NaN);
  const total = Number.isFinite(length) ? offset + length : null;
  const file = await Deno.open(part, {
    write: true,
    create: true,
    append: offset > 0,
    truncate: offset === 0,
  });
  let done = offset;
  try {
    if (res.body === null) throw new TransientError("empty response body");
    onProgress?.(done, total);
    try {
      for await (const chunk of res.body) {
        let written = 0;
        while (written < chunk.length) written += await file.write(chunk.subarray(written));
        done += chunk.length;
        onProgress?.(done, total);
      }
    } catch (e) {
      throw new TransientError(
        `connection lost after ${done} bytes: ${e instanceof Error ? e.message : e}`,
      );
    }
  } finally {
    file.close();
  }
  if (total !== null && done < total) {
    throw new TransientError(`connection closed after ${done} of ${total} bytes`);
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw e;
  }
}

/** The sha256 (lowercase hex) of a file, read in a streaming fashion. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Extracts a `.tar.xz` archive into `intoDir` with the system `tar -xJf`. It unpacks into a
 * hidden sibling folder first, so an interrupted extraction never looks finished; existing
 * top-level entries of the same name are replaced.
 */
export async function extractTarXz(archive: string, intoDir: string): Promise<void> {
  const staging = join(intoDir, `.extracting-${basename(archive)}`);
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tar", {
      args: ["-xJf", archive, "-C", staging],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (e) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (isNotFound(e)) {
      throw fileError(archive, "cannot extract: 'tar' not found (install tar and xz-utils)");
    }
    throw e;
  }
  if (!out.success) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0] ?? "";
    const hint = /xz/i.test(err) ? " (is xz-utils installed?)" : "";
    throw fileError(archive, `tar -xJf failed: ${err || `exit code ${out.code}`}${hint}`);
  }
  for await (const entry of Deno.readDir(staging)) {
    const target = join(intoDir, entry.name);
    await Deno.remove(target, { recursive: true }).catch(() => {});
    await Deno.rename(join(staging, entry.name), target);
  }
  await Deno.remove(staging, { recursive: true });
}

/** Options of {@linkcode copyFromLocal} and {@linkcode fetchFromBase}. */
export interface FromOptions {
  /** Source names (see `sourceNames()`); empty or absent means all of them. */
  only?: readonly string[];
  /** Called after each file: its path relative to the data directory, size, and count. */
  onFile?: (relPath: string, bytes: number, done: number, total: number) => void;
  /** Passed to each download of {@linkcode fetchFromBase}. */
  onProgress?: ProgressCallback;
  /** `--from DIR`: the one-line note of files not copied (default `console.warn`). */
  warn?: (line: string) => void;
}

/** Endings of files the loaders read (tables, images, masks, the course labels file). */
const DATA_FILE = /\.(mat|csv|data|npz|npy|json|png|jpe?g|tiff?|webp)$/i;

/**
 * The image layout whose every category folder `--from DIR` copies when no `--only` is given
 * (the course layout's categories need entries in its labels file: only the known ones are).
 */
const MVTEC_LAYOUT = "images/mvtec";

/** Relative paths `--from` looks for, for the selected sources (all when `only` is empty). */
function fromPaths(only: readonly string[] | undefined): { paths: string[]; byName: boolean } {
  const byName = (only ?? []).some((o) => o.trim() !== "");
  const sources = byName ? selectSources(only) : DATA_SOURCES;
  return { paths: [...new Set(sources.flatMap((s) => s.localPaths))], byName };
}

/**
 * Copies a local dataset folder laid out like the shared datasets folder
 * (`thyroid/odds/thyroid.mat`, `thyroid/uci/*.data`, `thyroid/course/*.csv`,
 * `images/course/<category>/...`, `images/course/image_anomaly_labels.json`,
 * `images/mvtec/<category>/...`, `images/dev/screw/...`, `images/mvtec-more/<category>/...`,
 * `tables/adbench/*.npz`, `tables/adbench-held-out/*.npz`) into `destDir`
 * with the same relative layout. Missing parts are skipped unless asked for by name; pinned
 * checksums (thyroid.mat, the ADBench tables) are verified. Without `only`, every category
 * folder under `images/mvtec/` is copied and the files left behind are named in one warning
 * line; a folder with no data file (table, image, labels) in a known place is a one-line
 * MadError.
 *
 * @returns the relative paths copied.
 */
export async function copyFromLocal(
  fromDir: string,
  destDir: string,
  options: FromOptions = {},
): Promise<string[]> {
  if (!(await isDir(fromDir))) throw fileError(fromDir, "--from folder not found");
  const { paths, byName } = fromPaths(options.only);
  // A labels file at the top level (as some copies have it) belongs with the course images.
  const extra: Array<[string, string]> = [];
  const topLabels = join(fromDir, "image_anomaly_labels.json");
  if (
    paths.includes("images/course/image_anomaly_labels.json") &&
    !(await exists(join(fromDir, "images/course/image_anomaly_labels.json"))) &&
    (await exists(topLabels))
  ) extra.push([topLabels, "images/course/image_anomaly_labels.json"]);

  // Every category of the MVTec AD layout, not only the named sources' ones.
  if (!byName) {
    for (const name of await subfolders(join(fromDir, MVTEC_LAYOUT))) {
      if (!paths.includes(`${MVTEC_LAYOUT}/${name}`)) paths.push(`${MVTEC_LAYOUT}/${name}`);
    }
  }
  const files: Array<[string, string]> = [...extra];
  for (const rel of paths) {
    const src = join(fromDir, rel);
    for (const f of await listFiles(src)) files.push([f, join(rel, relative(src, f))]);
  }
  const some = (rels: string[]) =>
    `${rels.length} file${rels.length === 1 ? "" : "s"}: ` +
    `${rels.slice(0, 3).join(", ")}${rels.length > 3 ? ", ..." : ""}`;
  // What is left behind, so that a misplaced folder is not silently ignored.
  const taken = new Set(files.map(([src]) => src));
  const left = byName ? [] : (await listFiles(fromDir)).filter((f) => !taken.has(f))
    .map((f) => toPosix(relative(fromDir, f)));
  if (!files.some(([src]) => DATA_FILE.test(src))) {
    const what = byName ? `nothing for ${(options.only ?? []).join(",")}` : "no known data";
    const found = [
      files.length > 0 ? `no data file among ${some(files.map(([, rel]) => toPosix(rel)))}` : "",
      left.length > 0 ? `outside the known paths ${some(left)}` : "",
    ].filter(Boolean).join("; ");
    throw fileError(
      fromDir,
      `${what} found${found ? ` (${found})` : ""}; expected e.g. thyroid/odds/thyroid.mat, ` +
        "images/mvtec/<category>/train/good/*.png",
    );
  }
  if (left.length > 0) {
    (options.warn ?? console.warn)(
      `warning: not copied from ${fromDir} (not in a known dataset path): ${some(left)}`,
    );
  }
  const copied: string[] = [];
  for (const [src, rel] of files) {
    const dest = join(destDir, rel);
    await Deno.mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.part`;
    await Deno.copyFile(src, tmp);
    // Shared copies are often read-only; the user's data/ should not be.
    await Deno.chmod(tmp, 0o644).catch(() => {});
    const expected = KNOWN_CHECKSUMS[toPosix(rel)];
    if (expected) {
      const actual = await sha256File(tmp);
      if (actual !== expected) {
        await Deno.remove(tmp);
        throw fileError(src, `checksum mismatch: expected sha256 ${expected}, got ${actual}`);
      }
    }
    await Deno.rename(tmp, dest);
    copied.push(toPosix(rel));
    options.onFile?.(toPosix(rel), (await Deno.stat(dest)).size, copied.length, files.length);
  }
  return copied;
}

/**
 * Like {@linkcode copyFromLocal} but from an http(s) base URL holding the same layout. File
 * names come from `BASE/manifest.txt` (one relative path per line) when present, else from
 * the server's directory listings (as `python3 -m http.server` serves them).
 *
 * @returns the relative paths downloaded.
 */
export async function fetchFromBase(
  baseUrl: string,
  destDir: string,
  options: FromOptions = {},
): Promise<string[]> {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const { paths, byName } = fromPaths(options.only);
  const manifest = await fetchText(`${base}manifest.txt`);
  let rels: string[];
  if (manifest !== null) {
    const all = manifest.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    rels = all.filter((r) => paths.some((p) => r === p || r.startsWith(`${p}/`)));
  } else {
    rels = [];
    for (const p of paths) rels.push(...await listRemote(base, p));
  }
  rels = [...new Set(rels)];
  if (rels.length === 0) {
    const what = byName ? `nothing for ${(options.only ?? []).join(",")}` : "no known data";
    throw new MadError(
      `${base}: ${what} found (serve a directory listing or a manifest.txt of relative paths)`,
    );
  }
  for (const [i, rel] of rels.entries()) {
    if (rel.split("/").some((s) => s === ".." || s === "")) {
      throw new MadError(`${base}manifest.txt: unsafe path '${rel}'`);
    }
    const url = base + rel.split("/").map(encodeURIComponent).join("/");
    const dest = join(destDir, rel);
    await downloadFile(url, dest, {
      sha256: KNOWN_CHECKSUMS[rel] ?? null,
      onProgress: options.onProgress,
    });
    options.onFile?.(rel, (await Deno.stat(dest)).size, i + 1, rels.length);
  }
  return rels;
}

/** GET a small text file; null on 404. */
async function fetchText(url: string): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new MadError(`${url}: ${describe(e)}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new MadError(`${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  }
  return await res.text();
}

/**
 * Relative file paths under `rel` on a server with directory listings. A plain file (no
 * listing, but not a 404) counts as itself.
 */
async function listRemote(base: string, rel: string): Promise<string[]> {
  const encoded = rel.split("/").map(encodeURIComponent).join("/");
  const res = await fetch(`${base}${encoded}/`).catch(() => null);
  if (res === null) return [];
  const type = res.headers.get("content-type") ?? "";
  if (!res.ok || !type.includes("html")) {
    await res.body?.cancel();
    if (res.status === 404 || !res.ok) {
      // Maybe a file rather than a folder: check it exists.
      const head = await fetch(`${base}${encoded}`, { method: "HEAD" }).catch(() => null);
      await head?.body?.cancel();
      return head?.ok ? [rel] : [];
    }
    return [];
  }
  const html = await res.text();
  const out: string[] = [];
  for (const m of html.matchAll(/href="([^"?#]+)"/gi)) {
    const href = m[1];
    if (href.startsWith("/") || href.startsWith("..") || /^[a-z]+:/i.test(href)) continue;
    const name = decodeURIComponent(href.replace(/\/$/, ""));
    if (name === "" || name === "." || name.includes("/")) continue;
    const child = `${rel}/${name}`;
    if (href.endsWith("/")) out.push(...await listRemote(base, child));
    else out.push(child);
  }
  return out;
}

/** All files under `path` (itself when it is a file); empty when it does not exist. */
async function listFiles(path: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
  if (info.isFile) return [path];
  const out: string[] = [];
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (!entry.name.startsWith(".")) names.push(entry.name);
  }
  for (const name of names.sort()) out.push(...await listFiles(join(path, name)));
  return out;
}

/** Names of the (non-hidden) folders in `path`, sorted; none when it is missing. */
async function subfolders(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (!entry.name.startsWith(".") && await isDir(join(path, entry.name))) {
        names.push(entry.name);
      }
    }
  } catch {
    return [];
  }
  return names.sort();
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** One line about an error, with its cause (fetch's own message is just "fetch failed"). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return `${e.message}${cause}`.split("\n")[0];
}

function toPosix(path: string): string {
  return path.replaceAll("\\", "/");
}

/** Options of {@linkcode fetchSources}. */
export interface FetchSourcesOptions {
  /** `--url` overrides by file key (see `parseUrlOverrides`). */
  overrides?: ReadonlyMap<string, string>;
  /** Makes the progress callback for one download, given a label. */
  progress?: (label: string) => ProgressCallback;
  /** Where to report skips and failures (default: stderr). */
  log?: (line: string) => void;
  /** Passed to {@linkcode downloadFile}. */
  retryDelayMs?: number;
}

/**
 * Downloads (and extracts) the official files of `sources` into `destDir`, skipping what is
 * already there. One failing source does not stop the others; afterwards a MadError lists
 * the ones that failed.
 */
export async function fetchSources(
  sources: readonly DataSource[],
  destDir: string,
  options: FetchSourcesOptions = {},
): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  const failed: string[] = [];
  // Folders this run creates: those a failed download leaves empty are removed at the end.
  const made: string[] = [];
  const noting = async (dir: string) => {
    made.push(...(await missingFolders(dir)));
  };
  try {
    await fetchEach(sources, destDir, options, log, failed, noting);
  } finally {
    await removeEmptyFolders(made);
  }
  if (failed.length > 0) {
    throw new MadError(
      `${failed.length} of ${sources.length} data sources failed: ${failed.join(", ")} ` +
        `(see messages above; --url NAME=URL or --from DIR can help)`,
    );
  }
}

/** `dir` and those of its parents that do not exist yet, deepest first. */
async function missingFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; !(await exists(d)); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  return missing;
}

/** Removes those of `dirs` that are empty (or hold only empty folders of `dirs`), deepest first. */
async function removeEmptyFolders(dirs: readonly string[]): Promise<void> {
  const deepestFirst = [...new Set(dirs)].sort((a, b) => b.length - a.length);
  for (const dir of deepestFirst) {
    // Not recursive: a folder holding anything (a download to resume, an extracted set) stays.
    await Deno.remove(dir).catch(() => {});
  }
}

/** {@linkcode fetchSources}'s loop: fetches each source, collecting the names of those failing. */
async function fetchEach(
  sources: readonly DataSource[],
  destDir: string,
  options: FetchSourcesOptions,
  log: (line: string) => void,
  failed: string[],
  noting: (dir: string) => Promise<void>,
): Promise<void> {
  for (const source of sources) {
    if (source.files.length === 0) {
      log(`${source.name}: no public download; use --from DIR with a prepared copy`);
      failed.push(source.name);
      continue;
    }
    try {
      for (const file of source.files) {
        const target = join(destDir, file.target);
        if (await exists(join(destDir, file.present))) {
          if (file.sha256 && file.present === file.target) {
            const actual = await sha256File(target);
            if (actual === file.sha256) {
              log(`${file.key}: already present, checksum ok`);
              continue;
            }
            log(`${file.key}: ${target} has the wrong checksum, downloading again`);
            await Deno.remove(target);
          } else {
            log(`${file.key}: already present (${join(destDir, file.present)})`);
            continue;
          }
        }
        const url = resolveUrl(file, options.overrides);
        log(`${file.key}: ${url}`);
        await noting(dirname(target));
        if (file.extractTo) await noting(join(destDir, file.extractTo));
        const hash = await downloadFile(url, target, {
          sha256: file.sha256,
          onProgress: options.progress?.(basename(file.target)),
          retryDelayMs: options.retryDelayMs,
        });
        if (!file.sha256) log(`${file.key}: sha256 ${hash}`);
        if (file.extractTo) {
          log(`${file.key}: extracting into ${join(destDir, file.extractTo)}`);
          await extractTarXz(target, join(destDir, file.extractTo));
          if (!(await exists(join(destDir, file.present)))) {
            throw fileError(target, `archive did not contain ${file.present}`);
          }
          // The extracted folder is what marks the source as present; the archive is just bulk.
          await Deno.remove(target);
        }
      }
    } catch (e) {
      if (!(e instanceof MadError)) throw e;
      log(`warning: ${source.name}: ${e.message}`);
      failed.push(source.name);
    }
  }
}

/**
 * A progress callback that draws a `Progress` bar in KiB once the total size is known, and
 * prints a line per 10 MiB when it is not.
 */
export function byteProgress(label: string): ProgressCallback {
  let bar: Progress | null = null;
  let shown = 0;
  let lastLine = 0;
  return (done, total) => {
    const kib = Math.floor(done / 1024);
    if (total !== null) {
      bar ??= new Progress(`${label} (KiB)`, Math.max(1, Math.ceil(total / 1024)));
      if (kib > shown) bar.tick(kib - shown);
      shown = Math.max(shown, kib);
      if (done >= total) bar.done();
    } else if (done - lastLine >= 10 * 1024 * 1024) {
      lastLine = done;
      console.error(`${label}: ${(done / 1024 / 1024).toFixed(0)} MiB`);
    }
  };
}

/**
 * One line per dataset found under `dataDir` (file count and size), followed by what
 * training will use by default. Lists nothing-found as such.
 */
export async function summarizeDataDir(dataDir: string): Promise<string[]> {
  const places = [
    "thyroid/odds",
    "thyroid/uci",
    "thyroid/course",
    // Every category or table folder, the dev suite's tables and the held-out ones alike.
    ...(await subfoldersOf(dataDir, [
      "images/course",
      "images/mvtec",
      "images/dev",
      "images/mvtec-more",
      "tables",
    ])),
  ];
  const lines: string[] = [];
  for (const place of places) {
    const files = (await listFiles(join(dataDir, place))).filter((f) => !f.endsWith(".part"));
    if (files.length === 0) continue;
    let bytes = 0;
    for (const f of files) bytes += (await Deno.stat(f)).size;
    const names = files.length <= 3 ? ` (${files.map((f) => basename(f)).join(", ")})` : "";
    lines.push(`${place}: ${files.length} files, ${formatBytes(bytes)}${names}`);
  }
  if (lines.length === 0) lines.push("(nothing yet)");
  return lines;
}

/** `<folder>/<sub>` for every subfolder of each of `folders` (relative to `dataDir`), in order. */
async function subfoldersOf(dataDir: string, folders: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const folder of folders) {
    for (const d of await subdirs(join(dataDir, folder))) out.push(`${folder}/${d}`);
  }
  return out;
}

async function subdirs(path: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) {
      if (e.isDirectory && !e.name.startsWith(".")) out.push(e.name);
    }
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  return out.sort();
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

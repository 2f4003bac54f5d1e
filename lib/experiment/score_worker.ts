/**
 * A scoring worker: loads the backend and the checkpoint once, then scores each chunk of a
 * category's images it is sent and answers with their scores and maps (see `scoreImagePaths`).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type BackendName, useBackend } from "../backend/mod.ts";
import { ImageCache } from "../data/image_cache.ts";
import { type Checkpoint, loadCheckpoint } from "../train/checkpoint.ts";
import { scoreCategory, type WorkerReply, type WorkerRequest } from "./score_files.ts";

let loaded: { key: string; checkpoint: Promise<Checkpoint> } | null = null;
const caches = new Map<string, ImageCache>();

function checkpointFor(request: WorkerRequest): Promise<Checkpoint> {
  const key = `${request.backend}\n${request.checkpoint}`;
  if (loaded?.key !== key) {
    const checkpoint = useBackend(request.backend as BackendName).then(() =>
      loadCheckpoint(request.checkpoint, { optimizer: false })
    );
    loaded = { key, checkpoint };
  }
  return loaded.checkpoint;
}

function cacheFor(dir: string | null): ImageCache {
  const key = dir ?? "";
  if (!caches.has(key)) caches.set(key, new ImageCache(dir ?? undefined));
  return caches.get(key)!;
}

self.onmessage = async (event: MessageEvent<{ id: number; request: WorkerRequest }>) => {
  const { id, request } = event.data;
  let reply: WorkerReply;
  try {
    const ckpt = await checkpointFor(request);
    const cache = cacheFor(request.cacheDir);
    // No images: a warm-up, which only loads the backend and the checkpoint.
    const result = request.paths.length === 0
      ? { scores: new Float32Array(0), maps: null }
      : await scoreCategory(ckpt, request.category, request.paths, cache);
    reply = { id, ok: true, result };
  } catch (e) {
    reply = { id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  self.postMessage(reply);
};

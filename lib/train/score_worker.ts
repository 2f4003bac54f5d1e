/**
 * A scoring worker: loads the checkpoint and backend itself, scores one share of a category's
 * images and answers with their scores and maps (see `scoreImagePaths`).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type BackendName, useBackend } from "../backend/mod.ts";
import { ImageCache } from "../data/image_cache.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { scoreCategory, type WorkerReply, type WorkerRequest } from "./score.ts";

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  let reply: WorkerReply;
  try {
    await useBackend(request.backend as BackendName);
    const ckpt = await loadCheckpoint(request.checkpoint);
    const cache = new ImageCache(request.cacheDir ?? undefined);
    reply = { ok: true, result: await scoreCategory(ckpt, request.category, request.paths, cache) };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  self.postMessage(reply);
};

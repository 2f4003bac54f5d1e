/**
 * Choosing the tfjs backend. `wasm` is the default (its .wasm ships inside the npm package);
 * `tensorflow` loads tfjs-node-gpu or tfjs-node only when asked, since their install needs
 * libtensorflow from outside the npm registry.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { MadError } from "../errors.ts";
import type { FlagSpec } from "../util/flags.ts";
import { useSystemBlas } from "./blas.ts";
import { shareIdentityBuffers } from "./identity.ts";

/** Backends a user may ask for. */
export type BackendName = "auto" | "wasm" | "cpu" | "tensorflow";

/** The accepted `--backend` values, for flag validation. */
export const BACKENDS: readonly BackendName[] = ["auto", "wasm", "cpu", "tensorflow"];

/** The `--backend` flag every script that computes takes. */
export const BACKEND_FLAG = {
  type: "string",
  default: "auto",
  value: "NAME",
  description: `tfjs backend: ${
    BACKENDS.join(", ")
  } (auto is wasm, its products on OpenBLAS if found)`,
} as const satisfies FlagSpec;

/**
 * Selects and initialises a tfjs backend; returns the name of the one in use.
 * `auto` is wasm. A missing tfjs-node(-gpu) gives a one-line error saying how to install it.
 */
export async function useBackend(name: BackendName = "auto"): Promise<string> {
  if (!BACKENDS.includes(name)) {
    throw new MadError(`unknown backend '${name}' (choose one of ${BACKENDS.join(", ")})`);
  }
  if (name === "tensorflow") {
    await loadTensorflowBackend();
  } else {
    const target = name === "auto" ? "wasm" : name;
    if (target === "wasm") {
      shareIdentityBuffers();
      useSystemBlas();
    }
    if (tf.getBackend() !== target) {
      const ok = await tf.setBackend(target);
      if (!ok) throw new MadError(`could not initialise the tfjs '${target}' backend`);
    }
  }
  await tf.ready();
  return tf.getBackend();
}

async function loadTensorflowBackend(): Promise<void> {
  // Dynamic specifiers so that Deno neither resolves nor installs these unless asked. A package
  // whose native library is missing still registers its kernels before failing, so the second
  // attempt would warn about every kernel again: those warnings are held back.
  const warn = console.warn;
  console.warn = () => {};
  try {
    for (
      const pkg of ["npm:@tensorflow/tfjs-node-gpu@4.22.0", "npm:@tensorflow/tfjs-node@4.22.0"]
    ) {
      try {
        await import(pkg);
        if (await tf.setBackend("tensorflow")) return;
      } catch {
        // try the next package
      }
    }
  } finally {
    console.warn = warn;
  }
  throw new MadError(
    "backend 'tensorflow' needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node with its " +
      "libtensorflow (see README, GPU section); use --backend wasm here",
  );
}

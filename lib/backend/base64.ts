/**
 * Base64 for the embedded kernels (no `jsr:@std/encoding` here: JSR is out of reach).
 *
 * @module
 */

/** Bytes as base64 text. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Base64 text as bytes. */
export function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

import assert from "node:assert/strict";
import { paintStripe } from "../lib/data/stripe.ts";

function rows(mask: Uint8Array, size: number): string[] {
  const out: string[] = [];
  for (let y = 0; y < size; y++) out.push([...mask.subarray(y * size, (y + 1) * size)].join(""));
  return out;
}

Deno.test("paintStripe: a level stripe covers its half-length either side of the centre, one row thick", () => {
  const mask = new Uint8Array(7 * 7);
  paintStripe(mask, 7, 3, 3, 0, 2, 0.5);
  assert.deepEqual(rows(mask, 7), [
    "0000000",
    "0000000",
    "0000000",
    "0111110",
    "0000000",
    "0000000",
    "0000000",
  ]);
});

Deno.test("paintStripe: turned a quarter, the same stripe stands upright; pixels already set stay set", () => {
  const mask = new Float32Array(5 * 5);
  mask[0] = 1;
  paintStripe(mask, 5, 2, 2, Math.PI / 2, 1, 0.5);
  const set = [...mask.keys()].filter((i) => mask[i] === 1);
  assert.deepEqual(set, [0, 7, 12, 17]);
});

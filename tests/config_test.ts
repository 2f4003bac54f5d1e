import assert from "node:assert/strict";
import {
  CONFIG_GROUPS,
  type ConfigGroup,
  DEFAULT_CONFIG,
  mergeConfig,
} from "../lib/model/config.ts";
import { MadError } from "../lib/errors.ts";

const GROUPS: ConfigGroup[] = ["architecture", "training", "evidence", "scoring"];

Deno.test("CONFIG_GROUPS: every model setting has exactly one group, and only those", () => {
  const keys = Object.keys(DEFAULT_CONFIG.model).sort();
  assert.deepEqual(Object.keys(CONFIG_GROUPS).sort(), keys);
  for (const key of keys) {
    const group = (CONFIG_GROUPS as Record<string, ConfigGroup>)[key];
    assert.equal(GROUPS.filter((g) => g === group).length, 1, `${key}: ${group}`);
  }
  // Each group holds something.
  for (const g of GROUPS) assert.ok(Object.values(CONFIG_GROUPS).includes(g), g);
});

Deno.test("model.tableMaxTokens: a non-negative integer, else a one-line error", () => {
  for (const bad of [-1, 2.5, "64"]) {
    assert.throws(
      () => mergeConfig(DEFAULT_CONFIG, { model: { tableMaxTokens: bad as number } }, "c.json"),
      (e: unknown) =>
        e instanceof MadError && /tableMaxTokens/.test(e.message) && !/\n/.test(e.message),
    );
  }
  assert.equal(
    mergeConfig(DEFAULT_CONFIG, { model: { tableMaxTokens: 0 } }).model.tableMaxTokens,
    0,
  );
  assert.equal(CONFIG_GROUPS.tableMaxTokens, "architecture");
});

/**
 * Every `deno task` script explains itself: `--help` exits 0 and lists every flag the script
 * accepts (from the same table its parser reads) with a default and at least one example; an
 * unknown flag is a one-line error. Plus the flag table helpers on their own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Command,
  defineCommand,
  type FlagTable,
  helpText,
  parseFlags,
  usageLine,
} from "../lib/util/flags.ts";
import { checkMadError, madError, ROOT, runScript } from "./fixtures.ts";

/** The scripts behind the tasks in deno.json (`deno run -A scripts/<name>.ts`), by task name. */
const TASK_SCRIPTS: Record<string, string> = (() => {
  const tasks = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))).tasks as Record<
    string,
    string
  >;
  const out: Record<string, string> = {};
  for (const [task, line] of Object.entries(tasks)) {
    const script = line.match(/^deno run -A scripts\/(\w+\.ts)$/)?.[1];
    if (script) out[task] = script;
  }
  return out;
})();

const EXPECTED_TASKS = [
  "ablate",
  "bench",
  "benchmark",
  "data",
  "demo",
  "eval",
  "kernels",
  "notebooks",
  "score",
  "train",
];

Deno.test("every script task in deno.json is covered", () => {
  assert.deepEqual(Object.keys(TASK_SCRIPTS).sort(), EXPECTED_TASKS);
});

for (const [task, script] of Object.entries(TASK_SCRIPTS)) {
  Deno.test(`deno task ${task} --help lists every flag with a default, and examples`, async () => {
    const { COMMAND } = await import(`../scripts/${script}`) as { COMMAND: Command };
    assert.equal(COMMAND.name, `deno task ${task}`);
    const { code, stdout, stderr } = await runScript(script, ["--help"], {
      env: { NO_COLOR: "1" },
    });
    assert.equal(code, 0, `${task} --help: exit ${code}\n${stderr}`);
    assert.ok(stdout.includes(`usage: deno task ${task}`), stdout);
    const flagLines = stdout.split("\n").filter((l) => /^ {2}(-\w, | {4})--/.test(l));
    const names = Object.keys(COMMAND.flags);
    assert.ok(names.includes("help"));
    for (const name of names) {
      const line = flagLines.find((l) => l.includes(`--${name} `) || l.endsWith(`--${name}`));
      assert.ok(line, `${task} --help does not list --${name}:\n${stdout}`);
    }
    // The flags that are not listed would be unknown: nothing listed beyond the table.
    assert.equal(flagLines.length, names.length, stdout);
    // Every flag but --help says its default (or that it is required); wrapped lines included.
    const defaults = stdout.match(/\[(default:\s[^\]]+|required)\]/g) ?? [];
    assert.equal(defaults.length, names.length - 1, `${task}: a flag without default\n${stdout}`);
    const examples = stdout.split("examples:\n")[1]?.split("\n").filter((l) => l.trim()) ?? [];
    assert.ok(examples.length >= 1, `${task}: no example`);
    for (const e of examples) assert.match(e, new RegExp(`^ {2}deno task ${task}\\b`));
  });
}

Deno.test("an unknown flag is a one-line error with exit code 2 that points to --help", async () => {
  for (const script of ["demo.ts", "kernels.ts"]) {
    const { code, stdout, stderr } = await runScript(script, ["--no-such-flag"], {
      env: { NO_COLOR: "1", MADFORMER_DEBUG: "" },
    });
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], /^error: Unknown option '--no-such-flag' \(usage: deno task /);
    assert.match(lines[0], /--help says more\)$/);
  }
});

Deno.test("eval --category needs exactly one --table: a usage error before any work", async () => {
  for (const tables of [[], ["a.csv", "b.csv"]]) {
    const args = ["--checkpoint", "missing.safetensors", "--category", "t"];
    for (const t of tables) args.push("--table", t);
    const { code, stderr } = await runScript("eval.ts", args, {
      env: { NO_COLOR: "1", MADFORMER_DEBUG: "" },
    });
    assert.equal(code, 2, stderr);
    assert.match(
      stderr.trim(),
      /^error: --category names the trained table of exactly one --table/,
    );
  }
});

const TOY = defineCommand({
  name: "deno task toy",
  summary: "a command for the tests",
  flags: {
    checkpoint: { type: "string", required: true, value: "CKPT", description: "model file" },
    images: { type: "string", multiple: true, value: "DIR", description: "image folders" },
    out: { type: "string", default: "results/toy", value: "DIR", description: "output folder" },
    workers: { type: "string", value: "N", description: "workers", defaultText: "one per core" },
    quiet: { type: "boolean", description: "no progress" },
  },
  notes: ["a note"],
  examples: ["deno task toy --checkpoint x"],
});

Deno.test("parseFlags: values and defaults from the table; --help needs nothing else", () => {
  const flags = parseFlags(["--checkpoint", "c", "--images", "a", "--images", "b"], TOY);
  assert.equal(flags.checkpoint, "c");
  assert.deepEqual(flags.images, ["a", "b"]);
  assert.equal(flags.out, "results/toy");
  assert.equal(flags.workers, undefined);
  assert.equal(flags.help, undefined);
  assert.equal(parseFlags(["-h"], TOY).help, true);
  assert.equal(parseFlags(["--help"], TOY).help, true);
});

Deno.test("parseFlags: unknown, valueless and missing required flags are one-line errors", () => {
  const cases: [string[], string][] = [
    [["--checkpoint", "c", "--nope"], "Unknown option '--nope'"],
    [["--checkpoint"], "--checkpoint"],
    [["--checkpoint", "c", "stray"], "stray"],
    [[], "--checkpoint is required"],
  ];
  for (const [args, part] of cases) {
    const message = madError(() => parseFlags(args, TOY), part, usageLine(TOY), "--help");
    assert.ok(!message.includes("\n"));
  }
  try {
    parseFlags(["--nope"], TOY);
  } catch (e) {
    checkMadError(e, []);
    assert.equal((e as { exitCode: number }).exitCode, 2);
  }
});

Deno.test("usageLine and helpText come from the flag table", () => {
  assert.equal(
    usageLine(TOY),
    "usage: deno task toy --checkpoint CKPT [--images DIR]... [--out DIR] [--workers N] [--quiet]",
  );
  const help = helpText(TOY);
  for (
    const part of [
      "deno task toy: a command for the tests",
      "--checkpoint CKPT",
      "model file [required]",
      "--images DIR ...",
      "image folders [default: none]",
      "output folder [default: results/toy]",
      "workers [default: one per core]",
      "no progress [default: off]",
      "-h, --help",
      "a note",
      "examples:\n  deno task toy --checkpoint x",
    ]
  ) assert.ok(help.includes(part), `help lacks "${part}":\n${help}`);
  for (const line of help.split("\n")) {
    if (!line.startsWith("usage:") && !line.startsWith("  deno task")) {
      assert.ok(line.length <= 100, `too long: ${line}`);
    }
  }
});

Deno.test("helpText wraps long descriptions under the description column", () => {
  const flags: FlagTable = {
    long: { type: "boolean", description: "word ".repeat(40).trim() },
  };
  const help = helpText({ name: "x", summary: "y", flags, examples: ["x"] });
  const lines = help.split("\n");
  const first = lines.findIndex((l) => l.startsWith("      --long"));
  const column = lines[first].indexOf("word");
  assert.ok(lines[first + 1].startsWith(" ".repeat(column) + "word"), help);
});

Deno.test("a path typed where deno task was started is read from there (INIT_CWD)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "madformer-init-cwd-" });
  try {
    // deno task runs every task in the project's folder and names the caller's in INIT_CWD.
    const args = ["--checkpoint", "nope.safetensors", "--table", "t.csv"];
    const elsewhere = await runScript("score.ts", args, { env: { INIT_CWD: dir } });
    assert.equal(elsewhere.code, 1, elsewhere.stderr);
    assert.ok(
      elsewhere.stderr.includes(`error: ${join(dir, "nope.safetensors")}: checkpoint not found`),
      elsewhere.stderr,
    );
    // Started in the project's folder, or with an absolute path: the path as typed.
    const here = await runScript("score.ts", args, { env: { INIT_CWD: ROOT } });
    assert.ok(here.stderr.includes("error: nope.safetensors: checkpoint not found"), here.stderr);
    const absolute = await runScript(
      "score.ts",
      ["--checkpoint", "/nowhere/nope.safetensors", "--table", "t.csv"],
      { env: { INIT_CWD: dir } },
    );
    assert.ok(
      absolute.stderr.includes("error: /nowhere/nope.safetensors: checkpoint not found"),
      absolute.stderr,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

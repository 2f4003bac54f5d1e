/**
 * Command-line flags from one table: {@linkcode parseFlags} parses with it and
 * {@linkcode helpText} describes it, so `--help` cannot drift from what a script accepts.
 *
 * ```ts
 * const COMMAND = defineCommand({
 *   name: "deno task demo",
 *   summary: "the whole flow on synthetic data",
 *   flags: { out: { type: "string", default: "results/demo", value: "DIR", description: "..." } },
 *   examples: ["deno task demo --out /tmp/demo"],
 * });
 * const flags = parseFlags(Deno.args, COMMAND);
 * if (flags.help) console.log(helpText(COMMAND));
 * ```
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import { MadError } from "../errors.ts";
// The project's folder, where `deno task` runs every task.
import { PROJECT_ROOT } from "./files.ts";

/** One flag: what `node:util` parseArgs takes, plus what `--help` says about it. */
export interface FlagSpec {
  type: "string" | "boolean";
  /** Whether the flag may be given several times (values collected in an array). */
  multiple?: boolean;
  /** One-letter alias, as `-x`. */
  short?: string;
  /** The value when the flag is left out. */
  default?: string | boolean;
  /** What the flag does, in one line. */
  description: string;
  /** The value's placeholder in help, e.g. `DIR` (string flags; default `VALUE`). */
  value?: string;
  /** The default in words when it is not a fixed value, e.g. "one per CPU core". */
  defaultText?: string;
  /** Whether the command refuses to run without it. */
  required?: boolean;
}

/** A command's flags by name (without the leading `--`). */
export type FlagTable = Record<string, FlagSpec>;

/** What a command is, the flags it takes and how it is used. */
export interface Command<T extends FlagTable = FlagTable> {
  /** How it is run, e.g. `deno task train`. */
  name: string;
  /** What it does, in a sentence. */
  summary: string;
  flags: T;
  /** Whole command lines that work as written (at least one). */
  examples: string[];
  /** Extra lines printed after the flags (e.g. accepted names). */
  notes?: string[];
}

/** The `--help` flag every command gets. */
export const HELP_FLAG = {
  type: "boolean",
  short: "h",
  description: "print this help and exit",
} as const satisfies FlagSpec;

/** A command's flag table with `--help` added. */
export type WithHelp<T extends FlagTable> = T & { help: typeof HELP_FLAG };

/** Adds `--help` to a command's flags (keeping their literal types for parsing). */
export function defineCommand<const T extends FlagTable>(
  command: Command<T>,
): Command<WithHelp<T>> {
  return { ...command, flags: { ...command.flags, help: HELP_FLAG } };
}

/** The flags' values as parsed: strings, booleans and string arrays, typed from the table. */
export type FlagValues<T extends FlagTable> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>
>["values"];

/** One flag as usage shows it: `--name VALUE`, `--name` for booleans. */
function flagForm(name: string, spec: FlagSpec): string {
  return spec.type === "boolean" ? `--${name}` : `--${name} ${spec.value ?? "VALUE"}`;
}

/** The one-line usage: `usage: NAME --required X [--optional Y]... [--switch]`. */
export function usageLine(command: Command): string {
  const parts = Object.entries(command.flags).filter(([name]) => name !== "help").map(
    ([name, spec]) => {
      const form = flagForm(name, spec);
      const repeat = spec.multiple ? "..." : "";
      return spec.required ? `${form}${repeat}` : `[${form}]${repeat}`;
    },
  );
  return `usage: ${[command.name, ...parts].join(" ")}`;
}

/** What a flag's default is, as help shows it. */
function defaultOf(spec: FlagSpec): string {
  if (spec.required) return "[required]";
  if (spec.defaultText !== undefined) return `[default: ${spec.defaultText}]`;
  if (spec.type === "boolean") return `[default: ${spec.default ? "on" : "off"}]`;
  if (spec.default !== undefined) return `[default: ${spec.default}]`;
  return "[default: none]";
}

/** Help lines are wrapped to this many columns (examples and the usage line are not). */
const HELP_WIDTH = 100;

/** `text` in lines of at most `width` characters (longer words stay whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

/**
 * The full `--help` text: summary, usage, every flag with its default and description, notes
 * and examples.
 */
export function helpText(command: Command): string {
  const rows = Object.entries(command.flags).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const form = `${short}${flagForm(name, spec)}${spec.multiple ? " ..." : ""}`;
    const after = name === "help" ? "" : ` ${defaultOf(spec)}`;
    return [form, `${spec.description}${after}`];
  });
  const width = Math.max(...rows.map(([form]) => form.length));
  const indent = " ".repeat(width + 4);
  const flagLines = rows.flatMap(([form, text]) =>
    wrap(text, Math.max(HELP_WIDTH - indent.length, 30)).map((part, i) =>
      i === 0 ? `  ${form.padEnd(width)}  ${part}` : `${indent}${part}`
    )
  );
  const lines = [
    ...wrap(`${command.name}: ${command.summary}`, HELP_WIDTH),
    "",
    usageLine(command),
    "",
    "flags:",
    ...flagLines,
  ];
  if (command.notes?.length) {
    lines.push("", ...command.notes.flatMap((note) => wrap(note, HELP_WIDTH)));
  }
  lines.push("", "examples:", ...command.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

/** An option as `node:util` parseArgs takes it. */
interface ParseArgsOption {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  default?: string | boolean | string[] | boolean[];
}

/** The flag table as `node:util` parseArgs takes it (help texts left out). */
function parseArgsOptions(flags: FlagTable): Record<string, ParseArgsOption> {
  return Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => {
      const { type, multiple, short, default: value } = spec;
      const option: ParseArgsOption = { type };
      if (multiple !== undefined) option.multiple = multiple;
      if (short !== undefined) option.short = short;
      if (value !== undefined) option.default = multiple ? [value] as string[] : value;
      return [name, option];
    }),
  );
}

/** A value that looks like an option but is a negative number: `-1`, `-0.5`, `-.5`, `-1e-3`. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `--name -1` as `--name=-1` for string flags (and `-x -1` as `-x=...`'s long form), so that a
 * negative number reaches the flag's own validation instead of parseArgs' "argument is
 * ambiguous".
 */
function joinNegativeValues(args: string[], flags: FlagTable): string[] {
  const shorts = new Map(
    Object.entries(flags).filter(([, spec]) => spec.short).map(([name, spec]) => [
      `-${spec.short}`,
      name,
    ]),
  );
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : shorts.get(arg);
    const next = args[i + 1];
    if (
      name !== undefined && flags[name]?.type === "string" && next !== undefined &&
      NEGATIVE_NUMBER.test(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Parses command-line flags strictly against the command's table. An unknown flag, a missing
 * value or a missing required flag is a one-line MadError (exit code 2) that points to
 * `--help`; with `--help` nothing is required. A negative number is a value (`--epochs -1`).
 */
export function parseFlags<T extends FlagTable>(
  args: string[],
  command: Command<T>,
): FlagValues<T> {
  let values: Record<string, unknown>;
  const given = new Set<string>();
  try {
    const parsed = parseArgs({
      args: joinNegativeValues(args, command.flags),
      options: parseArgsOptions(command.flags),
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
    values = parsed.values;
    for (const token of parsed.tokens ?? []) if (token.kind === "option") given.add(token.name);
  } catch (e) {
    // node's messages continue with advice on `--` and positionals that does not apply here.
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0].split(". ")[0];
    // A flag that takes a value followed by another flag: parseArgs calls it "ambiguous".
    const ambiguous = first.match(/^Option '(--[\w-]+)' argument is ambiguous/);
    const message = ambiguous
      ? `${ambiguous[1]} needs a value (one starting with a dash as ${ambiguous[1]}=VALUE)`
      : first;
    throw usageError(command, message);
  }
  if (!values.help) {
    for (const [name, spec] of Object.entries(command.flags)) {
      if (spec.required && values[name] === undefined) {
        throw usageError(command, `--${name} is required`);
      }
    }
  }
  const base = invocationFolder();
  if (base) {
    for (const name of given) {
      const spec = command.flags[name];
      if (!spec || !PATH_VALUE.test(spec.value ?? "")) continue;
      const value = values[name];
      values[name] = Array.isArray(value)
        ? value.map((v) => fromFolder(base, v))
        : fromFolder(base, String(value));
    }
  }
  return values as FlagValues<T>;
}

/** The placeholders of flags that take a path (`--table FILE`, `--out DIR`, `--checkpoint CKPT`). */
const PATH_VALUE = /^(DIR|FILE|CKPT)/;

/**
 * The folder `deno task` was started in, when it is not the one the task runs in: `deno task`
 * runs a task in the project's folder and names the caller's in `INIT_CWD`, so a path typed
 * relative to where the user stands would otherwise be read from the project's folder. Only
 * when this process runs in the project's folder (as a task does): a script started elsewhere
 * by other means reads its paths from where it runs.
 */
function invocationFolder(): string | null {
  const init = Deno.env.get("INIT_CWD");
  if (!init) return null;
  const cwd = resolve(Deno.cwd());
  return cwd === PROJECT_ROOT && resolve(init) !== cwd ? resolve(init) : null;
}

/**
 * The folder a path the user typed is read from: where `deno task` was started (see
 * {@linkcode invocationFolder}), else this process's working directory. For paths passed on in
 * the environment (`MADFORMER_CHECKPOINT`), which flag parsing does not see.
 */
export function userFolder(): string {
  return invocationFolder() ?? resolve(Deno.cwd());
}

/** `path` read from `folder` when relative; absolute paths and URLs as given. */
function fromFolder(folder: string, path: string): string {
  if (isAbsolute(path) || /^[a-z][a-z\d+.-]*:\/\//i.test(path)) return path;
  return resolve(folder, path);
}

/** A one-line usage error (exit code 2) that names the command's `--help`. */
export function usageError(command: Command, message: string): MadError {
  return new MadError(`${message} (${usageLine(command)}; ${command.name} --help says more)`, 2);
}

/**
 * Parses a flag that counts something (`--workers N`, `--epochs N`): a positive integer, or
 * undefined when not given; anything else is a usage error (exit 2) naming the flag.
 */
export function positiveIntegerFlag(name: string, value: string | undefined): number | undefined {
  const n = numberFlag(name, value);
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
    throw new MadError(`--${name} must be a positive integer, got ${value}`, 2);
  }
  return n;
}

/** Parses a numeric flag value; names the flag when it is not a finite number. */
export function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new MadError(`--${name} must be a number, got '${value}'`, 2);
  }
  return n;
}

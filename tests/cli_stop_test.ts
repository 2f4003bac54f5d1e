/** exitOnStop (lib/cli.ts): a stopped command ends the processes it started and says so. */
import assert from "node:assert/strict";
import { join } from "node:path";

const CLI = new URL("../lib/cli.ts", import.meta.url).href;

/** Whether `pid` runs (not gone, not a zombie left for a parent that no longer reaps). */
async function running(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`exitOnStop: ${signal} ends the child processes, cleans up and exits ${code}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "madformer-stop-" });
    try {
      const script = join(dir, "main.ts");
      const pidFile = join(dir, "child.pid");
      await Deno.writeTextFile(
        script,
        `import { exitOnStop } from "${CLI}";
const child = new Deno.Command("sleep", { args: ["60"] }).spawn();
exitOnStop("nothing written", () => Deno.removeSync(${JSON.stringify(pidFile)}));
// Written once the listener is set: a signal before it ended the process unheard (under load).
Deno.writeTextFileSync(${JSON.stringify(pidFile)}, String(child.pid));
await child.status;
`,
      );
      const main = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let pid = 0;
      for (let i = 0; i < 200 && !pid; i++) {
        await new Promise((r) => setTimeout(r, 50));
        pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
      }
      assert.ok(pid > 0, "the child started");
      main.kill(signal);
      const out = await main.output();
      assert.equal(out.code, code);
      assert.match(
        new TextDecoder().decode(out.stderr),
        new RegExp(`${signal}: stopped; nothing written`),
      );
      await assert.rejects(() => Deno.stat(pidFile), "cleanup ran");
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!(await running(pid)), "the child ended");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/**
 * The processes a process started: to signal them when it is stopped, so that none is left
 * working on for a run that has ended.
 *
 * @module
 */

/** Sends `signal` to `pid`, if it still runs. */
export function signalProcess(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * The processes below `pid` (its children, theirs, ...), from `/proc`; none where there is no
 * `/proc` to read.
 */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        // pid (comm) state ppid ...: the name may hold spaces and parentheses.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parents.set(Number(entry.name), ppid);
      } catch {
        // Ended while listed.
      }
    }
  } catch {
    return [];
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [p, pp] of parents) {
      if (pp === parent) {
        found.push(p);
        queue.push(p);
      }
    }
  }
  return found;
}

/**
 * scikit-learn's peers beside the benchmark, on the very splits it ran. `sklearn_tables.py split`
 * writes a folder per table with one split folder per seed (`12_fault/s0`, ...) and
 * `sklearn_tables.py peers` writes `peers.json` beside them (Isolation Forest, kNN and OCSVM per
 * split). When `--tables` is such a folder, each seed's scikit-learn results join the summary as
 * methods of their own, so the report shows them beside MADformer and the in-project baselines.
 * Only what they measured is shown: AUROC, AUPR and F1 at the true count (no times).
 *
 * @module
 */
import { join, relative } from "node:path";
import { MadError } from "../errors.ts";
import type { EvaluationEntry } from "../experiment/results.ts";
import { type BenchmarkDataset, datasetId } from "./discover.ts";
import type { BaselineRun } from "./summary.ts";

/** The file `sklearn_tables.py peers` writes in the folder of splits. */
export const PEERS_FILE = "peers.json";

/** `peers.json`'s method keys and the names the report gives them. */
export const SKLEARN_PEERS: Readonly<Record<string, string>> = {
  iforest: "scikit-learn Isolation Forest",
  knn: "scikit-learn kNN",
  ocsvm: "scikit-learn OCSVM",
};

const METRICS = ["auroc", "aupr", "f1_at_true_count"] as const;

/**
 * The scikit-learn results of `tablesDir/peers.json` for the datasets read from seeds' split
 * folders, as baseline runs of seeds 0 to `seeds` - 1; none when the file is absent.
 * @throws {MadError} `peers.json: problem` when the file is there but cannot be read as peers.
 */
export async function readPeerRuns(
  tablesDir: string,
  datasets: readonly BenchmarkDataset[],
  seeds: number,
): Promise<BaselineRun[]> {
  const file = join(tablesDir, PEERS_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  let peers: Record<string, Record<string, Record<string, number>>>;
  try {
    peers = JSON.parse(text);
    if (typeof peers !== "object" || peers === null || Array.isArray(peers)) {
      throw new Error("not an object of splits");
    }
  } catch (e) {
    throw new MadError(`${file}: not a peers file (${e instanceof Error ? e.message : e})`);
  }
  const runs: BaselineRun[] = [];
  for (const d of datasets) {
    for (const [seed, split] of (d.splits ?? []).slice(0, seeds).entries()) {
      const key = relative(tablesDir, split);
      const found = peers[key];
      if (!found) continue;
      const results = Object.entries(SKLEARN_PEERS).flatMap(([peer, method]) => {
        const m = found[peer];
        if (!m) return [];
        const bad = METRICS.find((k) => typeof m[k] !== "number" || !Number.isFinite(m[k]));
        if (bad) {
          throw new MadError(
            `${file}: '${key}' ${peer} has no numeric ${bad}`,
          );
        }
        // What the peers' file does not record stays NaN (written as null), not a made-up value.
        const entry: EvaluationEntry = {
          name: d.name,
          modality: "table",
          n: NaN,
          anomalies: NaN,
          auroc: m.auroc,
          aupr: m.aupr,
          precision: NaN,
          recall: NaN,
          f1: NaN,
          accuracy: NaN,
          false_alarm_rate: NaN,
          threshold: NaN,
          f1_at_true_count: m.f1_at_true_count,
          components: {},
        };
        return [{ method, fitSeconds: NaN, scoreSeconds: NaN, entry }];
      });
      runs.push({
        kind: "baselines",
        seed,
        id: datasetId(d),
        key: { source: split, split: { protocol: "given", seed, valShare: 0 } },
        results,
      });
    }
  }
  return runs;
}

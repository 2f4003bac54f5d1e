/**
 * The benchmark on the scikit-learn peers' own splits (lib/benchmark/peers.ts and the seeds'
 * split folders of lib/benchmark/discover.ts): a folder of `s0`, `s1`, ... split folders is one
 * table whose seed k runs on `s<k>`, `peers.json` beside them joins the summary as methods, and
 * bad layouts or files are refused with a one-line error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  benchmarkHtml,
  datasetAtSeed,
  discoverBenchmark,
  peerWins,
  readPeerRuns,
  SKLEARN_PEERS,
  summarizeBenchmark,
} from "../lib/benchmark/mod.ts";
import { PROJECT, PROJECT_JOINT } from "../lib/benchmark/summary.ts";
import type { ModelRun } from "../lib/benchmark/summary.ts";
import { DEFAULT_CONFIG } from "../lib/model/config.ts";
import { evaluationEntry } from "./fixtures.ts";

/** A split folder as sklearn_tables.py writes it: normals to train on, a labelled test part. */
async function writeSplit(dir: string, shift: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const normal = (i: number) => `${(i % 5) + shift},${(i % 3) + shift}`;
  const train = Array.from({ length: 12 }, (_, i) => normal(i));
  const test = [...Array.from({ length: 6 }, (_, i) => `${normal(i)},0`), "40,-40,1"];
  await Deno.writeTextFile(join(dir, "train-set.csv"), ["f1,f2", ...train].join("\n") + "\n");
  await Deno.writeTextFile(join(dir, "test-set.csv"), ["f1,f2,label", ...test].join("\n") + "\n");
}

const peer = (auroc: number) => ({ auroc, aupr: auroc / 2, f1_at_true_count: auroc / 3 });

Deno.test("discovery: a folder of seeds' split folders is one table, named after the folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const k of [0, 1, 2]) await writeSplit(join(dir, "12_fault", `s${k}`), k);
    for (const k of [0, 2]) await writeSplit(join(dir, "gappy", `s${k}`), k);
    const found = await discoverBenchmark({ tablesDir: dir });
    assert.deepEqual(found.datasets.map((d) => d.name), ["12_fault"]);
    const [table] = found.datasets;
    assert.equal(table.source, join(dir, "12_fault"));
    assert.deepEqual(table.splits, [0, 1, 2].map((k) => join(dir, "12_fault", `s${k}`)));
    assert.deepEqual(table.size, { train: 12, test: 7, anomalies: 1 });
    assert.deepEqual(found.skipped.map((s) => s.source), [join(dir, "gappy")]);
    assert.match(found.skipped[0].reason, /seeds 0, 2; they must run 0, 1/);

    // Seed k runs on split k; a seed without a split stops the run before it starts.
    const at1 = datasetAtSeed(table, 1);
    assert.equal(at1.source, join(dir, "12_fault", "s1"));
    assert.equal(at1.splits, undefined);
    assert.throws(
      () => datasetAtSeed(table, 3),
      /seeds 0 to 2, none for seed 3 \(give --seeds 3 or fewer/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("peers.json: each seed's scikit-learn results join the summary beside the model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const k of [0, 1]) await writeSplit(join(dir, "toy", `s${k}`), k);
    const { datasets } = await discoverBenchmark({ tablesDir: dir });
    assert.deepEqual(await readPeerRuns(dir, datasets, 2), [], "no peers.json: no peers");

    await Deno.writeTextFile(
      join(dir, "peers.json"),
      JSON.stringify({
        "toy/s0": { iforest: peer(0.6), knn: peer(0.8), ocsvm: peer(0.7) },
        "toy/s1": { iforest: peer(0.7), knn: peer(0.9), ocsvm: peer(0.5) },
        "other/s0": { knn: peer(0.1) },
      }),
    );
    const runs = await readPeerRuns(dir, datasets, 2);
    assert.deepEqual(runs.map((r) => [r.seed, r.id, r.results.length]), [
      [0, "table:toy", 3],
      [1, "table:toy", 3],
    ]);
    assert.equal((await readPeerRuns(dir, datasets, 1)).length, 1, "only the seeds run");

    const model = (seed: number, auroc: number, joint = false): ModelRun => ({
      kind: "model",
      setting: joint ? "joint" : "per-dataset",
      seed,
      key: { config: DEFAULT_CONFIG, sources: [] },
      train: { seconds: 1, epochs: 1, bestEpoch: 1, bestValAuroc: 0.5 },
      evaluations: [{
        id: "table:toy",
        scoreSeconds: 1,
        entry: evaluationEntry("toy", "table", auroc),
      }],
    });
    const summarize = (mine: number, joint: ModelRun[] = []) =>
      summarizeBenchmark([model(0, mine), model(1, mine), ...joint, ...runs], datasets, {
        settings: { tables: dir, seeds: 2, joint: "none", quick: false, epochs: 1 },
        config: DEFAULT_CONFIG,
        seeds: [0, 1],
        skipped: [],
      });
    const summary = summarize(0.84);
    const knn = summary.datasets[0].methods[SKLEARN_PEERS.knn];
    assert.ok(Math.abs(knn.auroc.mean - 0.85) < 1e-12);
    assert.ok(Math.abs(knn.aupr.mean - 0.425) < 1e-12);
    assert.equal(knn.train_seconds.n, 0, "the peers' file has no times");
    assert.equal(summary.datasets[0].winner, SKLEARN_PEERS.knn);
    assert.deepEqual(peerWins(summary), { wins: 0, of: 1 });
    assert.deepEqual(peerWins(summarize(0.85)), { wins: 1, of: 1 }, "a tie counts as at or above");
    assert.equal(peerWins(summary, PROJECT_JOINT), null, "no joint model, no count");
    assert.match(
      benchmarkHtml(summary),
      /MADformer is at or above the best of them on 0 of 1 tables/,
    );
    assert.equal(summarize(0.9).datasets[0].winner, PROJECT);

    await Deno.writeTextFile(join(dir, "peers.json"), JSON.stringify({ "toy/s0": { knn: {} } }));
    await assert.rejects(
      () => readPeerRuns(dir, datasets, 2),
      /peers\.json: 'toy\/s0' knn has no numeric auroc/,
    );
    await Deno.writeTextFile(join(dir, "peers.json"), "[1, 2]");
    await assert.rejects(() => readPeerRuns(dir, datasets, 2), /peers\.json: not a peers file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

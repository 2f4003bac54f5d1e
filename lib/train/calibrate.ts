/**
 * After the last epoch: the best checkpoint's image categories refitted on all their normals.
 *
 * @module
 */
import { fitImageKey } from "../model/scorer.ts";
import { mapReductionText } from "../model/detector.ts";
import type { MemoryBank } from "../model/knn.ts";
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { datasetKey } from "./datasets.ts";
import type { RunLog } from "./log.ts";
import type { ImageData } from "./training_data.ts";
import { Progress } from "../util/progress.ts";
import { ANOMALY_SEED_OFFSET } from "../rng.ts";

/**
 * Refits the best checkpoint's image categories on all their normals (`calibrateImageKey`) and
 * rewrites it; a checkpoint whose categories are already calibrated is left as it is. The
 * banks are rebuilt as validation built them (same features, same seed), so they are the same.
 */
export async function calibrateBest(
  best: string,
  imageData: ImageData[],
  pixelBanks: Map<string, Record<string, MemoryBank>>,
  seed: number,
  log: RunLog,
  quiet: boolean,
): Promise<void> {
  // No best checkpoint when no epoch validated: nothing to calibrate.
  if (!(await Deno.stat(best).then(() => true, () => false))) return;
  const ckpt = await loadCheckpoint(best);
  try {
    const todo = imageData.filter((d) => !ckpt.stats[datasetKey(d.prepared.record)]?.calibrated);
    if (todo.length === 0) return;
    const bar = new Progress("calibrating on all normals", todo.length, { quiet });
    const lines: string[] = [];
    for (const d of todo) {
      const key = datasetKey(d.prepared.record);
      const index = imageData.indexOf(d);
      const { fitted, report } = fitImageKey(
        ckpt.params,
        ckpt.config.model,
        d.train,
        d.val,
        seed,
        seed + ANOMALY_SEED_OFFSET * (index + 1),
        { built: pixelBanks.get(key), aligned: d.prepared.record.pose?.aligned },
      );
      ckpt.stats[key] = fitted.stats;
      for (const [component, bank] of Object.entries(fitted.banks)) {
        ckpt.banks.set(`${key}|${component}`, bank);
      }
      // With both reductions tried, the text carries the validation AUROCs.
      lines.push(
        `${key} on ${fitted.stats.calibrated} normals, score: ` +
          mapReductionText(report.smooth, report.reductions) +
          (report.reductions ? "" : ` (validation AUROC ${report.auroc.toFixed(3)})`),
      );
      bar.tick(1);
    }
    bar.done();
    await saveCheckpoint(best, ckpt);
    log.line(`calibrated ${best}: ${lines.join(", ")}`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/**
 * After the last epoch: the best checkpoint's image categories and tables refitted on all their
 * normals.
 *
 * @module
 */
import {
  calibrateTableKey,
  fitImageKey,
  type FittedKey,
  TABLE_CALIBRATION_FOLDS,
} from "../model/scorer.ts";
import { mapReductionText } from "../model/detector.ts";
import type { MemoryBank } from "../model/knn.ts";
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { datasetKey, type DatasetRecord } from "./datasets.ts";
import type { RunLog } from "./log.ts";
import type { ImageData, TableData } from "./training_data.ts";
import { Progress } from "../util/progress.ts";
import { ANOMALY_SEED_OFFSET } from "../rng.ts";

/**
 * Refits the best checkpoint's image categories (`calibrateImageKey`) and tables
 * (`calibrateTableKey`) on all their normals and rewrites it; datasets already calibrated are
 * left as they are. An image category's banks are rebuilt as validation built them (same
 * features, same seed), so they are the same; a table's are fitted on all its normals.
 * `shouldStop` is asked between datasets: when it says stop, the datasets calibrated so far are
 * written and the call returns false (a resumed run calibrates the rest). True when finished.
 * `onDataset` hears each dataset as it begins (`calibrating table:t on all normals (2 of 2)`).
 */
export async function calibrateBest(
  best: string,
  imageData: ImageData[],
  tableData: TableData[],
  pixelBanks: Map<string, Record<string, MemoryBank>>,
  seed: number,
  log: RunLog,
  quiet: boolean,
  shouldStop?: () => boolean,
  onDataset?: (line: string) => void,
): Promise<boolean> {
  // No best checkpoint when no epoch validated: nothing to calibrate.
  if (!(await Deno.stat(best).then(() => true, () => false))) return true;
  const ckpt = await loadCheckpoint(best);
  try {
    const pending = (d: { prepared: { record: DatasetRecord } }) =>
      ckpt.stats[datasetKey(d.prepared.record)]?.calibrated === undefined;
    const todo = imageData.filter(pending);
    const tables = tableData.filter(pending);
    if (todo.length + tables.length === 0) return true;
    const bar = new Progress("calibrating on all normals", todo.length + tables.length, { quiet });
    // Each dataset's fit runs without a pause, so a signal is seen between two of them.
    const stopAsked = async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return shouldStop?.() ?? false;
    };
    const total = todo.length + tables.length;
    // A stop asked for in the last validation comes before the first dataset.
    let stopped = await stopAsked();
    let done = 0;
    const lines: string[] = [];
    // A dataset's calibrated statistics and banks replace validation's in the checkpoint.
    const keep = (key: string, fitted: FittedKey) => {
      ckpt.stats[key] = fitted.stats;
      for (const [component, bank] of Object.entries(fitted.banks)) {
        ckpt.banks.set(`${key}|${component}`, bank);
      }
    };
    const begin = (key: string) => {
      bar.begin(key);
      onDataset?.(`calibrating ${key} on all normals (${done + 1} of ${total})`);
    };
    for (const d of stopped ? [] : todo) {
      const key = datasetKey(d.prepared.record);
      begin(key);
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
      keep(key, fitted);
      // With both reductions tried, the text carries the validation AUROCs.
      lines.push(
        `${key} on ${fitted.stats.calibrated} normals, score: ` +
          mapReductionText(report.smooth, report.reductions) +
          (report.reductions ? "" : ` (validation AUROC ${report.auroc.toFixed(3)})`),
      );
      bar.advance();
      if (++done < total && (stopped = await stopAsked())) break;
    }
    for (const d of stopped ? [] : tables) {
      const p = d.prepared;
      const key = datasetKey(p.record);
      begin(key);
      // Seeds apart from the images' and from each epoch's validation anomalies.
      const anomalySeed = seed +
        ANOMALY_SEED_OFFSET * (imageData.length + tableData.indexOf(d) + 1);
      const calibrated = calibrateTableKey(
        ckpt.params,
        ckpt.config.model,
        p.record.name,
        p.d,
        p.train,
        p.val,
        seed,
        anomalySeed,
      );
      bar.advance();
      stopped = ++done < total && await stopAsked();
      if (calibrated) {
        const { fitted, report } = calibrated;
        keep(key, fitted);
        // A long or wide table is calibrated on a sample of its normals (`tableCalibrationRows`).
        const normals = (p.train.length + p.val.length) / p.d;
        const of = fitted.stats.calibrated! < normals ? ` of ${normals}` : "";
        lines.push(
          `${key} on ${fitted.stats.calibrated}${of} normals in ${TABLE_CALIBRATION_FOLDS} ` +
            `folds (validation AUROC ${report.auroc.toFixed(3)})`,
        );
      } else {
        // Too few normals for the folds: validation's fit stays, marked as seen (0), so that
        // the run reads as finished and a resume does not try again.
        const normals = (p.train.length + p.val.length) / p.d;
        ckpt.stats[key] = { ...ckpt.stats[key], calibrated: 0 };
        lines.push(
          `${key} not (${normals} normals are too few for ${TABLE_CALIBRATION_FOLDS} folds; ` +
            "validation's statistics stay)",
        );
      }
      if (stopped) break;
    }
    if (stopped) bar.stop();
    else bar.done();
    if (lines.length > 0) {
      await saveCheckpoint(best, ckpt);
      log.line(`calibrated ${best}: ${lines.join(", ")}`);
    }
    return !stopped;
  } finally {
    disposeCheckpoint(ckpt);
  }
}

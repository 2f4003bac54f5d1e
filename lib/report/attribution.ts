/**
 * The credit MVTec AD's licence asks for (CC BY-NC-SA 4.0; the README: "Attribute it wherever
 * these images, or results on them, are shown"), for the reports that show its images or
 * results on them: notebooks 01 to 04 and the benchmark's report.
 *
 * @module
 */
import { basename } from "node:path";
import { MVTEC_CATEGORIES } from "../data/sources.ts";
import { escapeHtml } from "./html.ts";

/** The one-line credit, as the README's "Sources, licenses and attribution" gives it. */
export const MVTEC_ATTRIBUTION = "MVTec AD images: © MVTec Software GmbH, CC BY-NC-SA 4.0 " +
  '(non-commercial). Bergmann, Fauser, Sattlegger, Steger, "MVTec AD — A Comprehensive ' +
  'Real-World Dataset for Unsupervised Anomaly Detection", CVPR 2019. ' +
  "https://www.mvtec.com/company/research/datasets/mvtec-ad";

/**
 * The MVTec AD categories among image category folders (or category names): a folder named as
 * one of the 15 categories, in the MVTec AD or the course layout (the course's hazelnut and
 * zipper are MVTec AD's). A user's own category under another name is not credited to MVTec.
 */
export function mvtecCategories(dirsOrNames: readonly string[]): string[] {
  const names = dirsOrNames.map((d) => basename(d.replace(/[\\/]+$/, "")).toLowerCase());
  return [...new Set(names.filter((n) => MVTEC_CATEGORIES.includes(n)))];
}

/** The credit as an HTML paragraph when MVTec AD categories are among `dirsOrNames`, else "". */
export function mvtecAttributionHtml(dirsOrNames: readonly string[]): string {
  const shown = mvtecCategories(dirsOrNames);
  if (shown.length === 0) return "";
  const text = `${shown.join(", ")}: ${MVTEC_ATTRIBUTION}`;
  return `<p class="attribution" style="color:#666;font-size:.85rem">${escapeHtml(text)}</p>`;
}

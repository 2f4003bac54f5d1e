import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { MadError } from "../lib/errors.ts";
import {
  barFigure,
  COMPARISON_COLUMNS,
  comparisonHtml,
  comparisonRows,
  componentFigure,
  confusionFigure,
  defectFigure,
  displayWidth,
  escapeHtml,
  featureContributionFigure,
  featureSections,
  heatmapOverlayPng,
  htmlReport,
  imageGridPng,
  lossCurvesFigure,
  markdownTable,
  metricsTable,
  plotlyNotebook,
  prFigure,
  readableJson,
  resizeBilinear,
  rocFigure,
  scoreHistogramFigure,
  shortLabels,
  withheldReferences,
} from "../lib/report/mod.ts";
import { MVTEC_AD_TEST } from "../lib/report/reference.ts";
import {
  BAR_TITLE_LINE,
  groupedBarLayout,
  TITLE_LINE,
  TITLE_LINE_PX,
  wrapTitle,
} from "../lib/report/figures.ts";
import { comparisonFigure } from "../lib/benchmark/report.ts";
import { componentMeaning, curveSections, NO_CURVE_HEADING } from "../lib/report/evaluation.ts";
import { htmlTable } from "../lib/report/table.ts";
import {
  MAP_LEGEND,
  MAP_SCALE,
  mapLegendRgb,
  scoreMapPanelPng,
  scoreMapPng,
} from "../lib/report/heatmap.ts";
import { drawText, textSize } from "../lib/report/bitmap_text.ts";
import { ImageCache } from "../lib/data/image_cache.ts";
import {
  packedPlotlyBundle,
  PLOTLY_LOADER_MARKER,
  plotlyBundle,
} from "../lib/report/plotly_bundle.ts";
import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import {
  CORRELATION_FEATURES,
  CORRELATION_LABELS,
  correlationFigure,
  featureHistogramFigure,
  HISTOGRAM_FEATURES,
  shownFeatures,
} from "../lib/report/exploration.ts";
import { Rng } from "../lib/rng.ts";
import type { BenchmarkSummary } from "../lib/benchmark/summary.ts";
import {
  componentResults,
  type DatasetEvaluation,
  transformerResult,
} from "../lib/experiment/evaluate_checkpoint.ts";
import { componentLines, evaluationJson } from "../lib/experiment/results.ts";

const ROWS = [
  { name: "thyroid", auroc: 0.98765432, f1: 0.5, n: 1000 },
  { name: "arrhythmia-long", auroc: 0.8, f1: 0.123456, n: 45 },
];

Deno.test("metricsTable aligns columns and prints 4 decimals", () => {
  const text = metricsTable(ROWS);
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^name\s+auroc\s+f1\s+n$/);
  assert.match(lines[1], /^-+ {2}-+ {2}-+ {2}-+$/);
  assert.ok(lines[2].includes("0.9877") && lines[2].includes("0.5000"));
  assert.ok(lines[2].endsWith("1000"));
  assert.ok(lines[3].endsWith("  45"));
  // Numeric columns are right-aligned, so every data line has the same length.
  assert.equal(lines[2].length, lines[3].length);
  assert.equal(lines[2].length, lines[1].length);
  const picked = metricsTable(ROWS, ["f1"]).split("\n");
  assert.match(picked[0], /^name\s+f1$/);
  assert.ok(picked[3].endsWith("0.1235"));
});

Deno.test("metricsTable lines up names of any script by the columns a terminal shows", () => {
  assert.deepEqual(["base", "温度", "Müller", "e\u0301", "ｱ"].map(displayWidth), [4, 4, 6, 1, 1]);
  const lines = metricsTable([
    { name: "温度", auroc: 0.5 },
    { name: "base", auroc: 0.75 },
    { name: "Müller-Daten", auroc: 1 },
  ]).trimEnd().split("\n");
  const widths = lines.map(displayWidth);
  assert.ok(widths.every((w) => w === widths[1]), lines.join("\n"));
});

Deno.test("markdownTable", () => {
  const md = markdownTable(ROWS, ["auroc"]).trimEnd().split("\n");
  assert.deepEqual(md, [
    "| name | auroc |",
    "| --- | ---: |",
    "| thyroid | 0.9877 |",
    "| arrhythmia-long | 0.8000 |",
  ]);
  assert.ok(markdownTable([{ name: "a|b", x: 1 }]).includes("a\\|b"));
});

Deno.test("figure specs are plain JSON data", () => {
  const figs = [
    rocFigure([{ name: "m", fpr: [0, 0.5, 1], tpr: [0, 1, 1], auroc: 0.75 }]),
    prFigure([{ name: "m", recall: [1, 0.5, 0], precision: [0.5, 1, 1], aupr: 0.9 }]),
    scoreHistogramFigure(new Float32Array([0.1, 0.2]), [0.9], 0.5, "scores"),
    lossCurvesFigure([{ epoch: 1, loss: 2 }, { epoch: 2, loss: 1 }], ["loss"]),
    barFigure(["a", "b"], [0.9, 0.8], [0.01, 0.02], "AUROC over seeds"),
    confusionFigure({ tp: 5, fp: 1, tn: 10, fn: 2 }, "cm"),
  ];
  for (const f of figs) {
    assert.ok(Array.isArray(f.data) && f.data.length > 0);
    assert.deepEqual(JSON.parse(JSON.stringify(f)), f);
  }
  assert.equal(figs[0].data[0].name, "m (AUROC 0.7500)");
  assert.deepEqual(figs[5].data[0].z, [[10, 1], [2, 5]]);
  assert.deepEqual(figs[4].data[0].error_y, { type: "data", array: [0.01, 0.02], visible: true });
});

Deno.test("htmlReport embeds plotly once and one div per figure", () => {
  const png = new Uint8Array([137, 80, 78, 71]);
  const html = htmlReport({
    title: "Results <&>",
    sections: [
      { heading: "ROC", figure: rocFigure([{ name: "a", fpr: [0, 1], tpr: [0, 1], auroc: 0.5 }]) },
      { heading: "Table", html: "<p>raw</p>", caption: "x < y" },
      { heading: "Bars", figure: barFigure(["a"], [1], [0], "t") },
      { heading: "Image", imagePng: png },
    ],
  });
  assert.equal(html.split(`id="${PLOTLY_LOADER_MARKER}"`).length - 1, 1);
  assert.equal(html.split('class="figure"').length - 1, 2);
  assert.equal(html.split("Plotly.newPlot(").length - 1, 2);
  assert.ok(html.includes("<title>Results &lt;&amp;&gt;</title>"));
  assert.ok(html.includes("<p>raw</p>"));
  assert.ok(html.includes('<p class="caption">x &lt; y</p>'));
  assert.ok(html.includes("data:image/png;base64,iVBORw=="));
  assert.ok(!/<script[^>]*src=/.test(html), "no external scripts");
  const plain = htmlReport({ title: "t", sections: [{ heading: "h", html: "x" }] });
  assert.ok(!plain.includes(PLOTLY_LOADER_MARKER), "no bundle without figures");
});

Deno.test("the packed plotly.js unpacks to the bundle itself", () => {
  const packed = packedPlotlyBundle();
  assert.ok(packed.length < plotlyBundle().length / 3, `packed ${packed.length} chars`);
  const unpacked = new TextDecoder().decode(gunzipSync(Buffer.from(packed, "base64")));
  assert.equal(unpacked, plotlyBundle());
});

Deno.test("escapeHtml", () => {
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
});

Deno.test("plotlyNotebook inlines the bundle only the first time", () => {
  const fig = barFigure(["a"], [1], [0], "t");
  const key = Symbol.for("Jupyter.display");
  const first = plotlyNotebook(fig)[key]()["text/html"];
  const second = plotlyNotebook(fig)[key]()["text/html"];
  assert.ok(first.includes(PLOTLY_LOADER_MARKER));
  assert.ok(!second.includes(PLOTLY_LOADER_MARKER));
  assert.ok(second.includes("Plotly.newPlot("));
  assert.ok(/<div id="madformer-plot-[0-9a-f-]+"/.test(second));
});

Deno.test("resizeBilinear keeps constants and interpolates", () => {
  const up = resizeBilinear([1, 1, 1, 1], { width: 2, height: 2 }, { width: 5, height: 3 });
  assert.ok(up.every((v) => Math.abs(v - 1) < 1e-6));
  const ramp = resizeBilinear([0, 1], { width: 2, height: 1 }, { width: 4, height: 1 });
  assert.deepEqual(Array.from(ramp), [0, 0.25, 0.75, 1]);
});

Deno.test("heatmapOverlayPng returns a PNG of the image size", async () => {
  for (const channels of [1, 3] as const) {
    const image = { width: 40, height: 30, channels, data: new Float32Array(40 * 30 * channels) };
    image.data.fill(0.5);
    const map = Float32Array.from({ length: 8 * 6 }, (_, i) => i);
    const png = await heatmapOverlayPng(image, map, { width: 8, height: 6 }, { alpha: 0.6 });
    assert.deepEqual(Array.from(png.subarray(0, 4)), [137, 80, 78, 71]);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, "png");
    assert.equal(meta.width, 40);
    assert.equal(meta.height, 30);
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    // Top-left is the map's minimum (jet blue), bottom-right its maximum (jet red).
    assert.ok(data[2] > data[0], "cold corner is blue");
    const last = data.length - 3;
    assert.ok(data[last] > data[last + 2], "hot corner is red");
  }
  await assert.rejects(
    () =>
      heatmapOverlayPng(
        { width: 2, height: 2, channels: 3, data: new Float32Array(5) },
        new Float32Array(4),
        { width: 2, height: 2 },
      ),
    MadError,
  );
});

Deno.test("imageGridPng tiles images", async () => {
  const im = (w: number, h: number) => ({
    width: w,
    height: h,
    channels: 3 as const,
    data: new Float32Array(w * h * 3).fill(1),
  });
  const png = await imageGridPng([im(10, 8), im(6, 6), im(10, 8)], 2);
  const meta = await sharp(png).metadata();
  assert.equal(meta.width, 2 * 10 + 3 * 4);
  assert.equal(meta.height, 2 * 8 + 3 * 4);
  await assert.rejects(() => imageGridPng([], 2), MadError);
});

Deno.test("componentResults: shares from the fitted weights, AUROC of each part alone", () => {
  const labels = Uint8Array.from([0, 0, 1, 1]);
  const parts = {
    good: Float32Array.from([0, 1, 2, 3]),
    inverted: Float32Array.from([3, 2, 1, 0]),
  };
  const fitted = {
    banks: {},
    stats: { sample: {}, tokens: {}, threshold: 0, weights: { good: 3, inverted: 1, dropped: 0 } },
  };
  assert.deepEqual(componentResults(parts, fitted, labels), [
    { name: "good", weight: 0.75, auroc: 1 },
    { name: "inverted", weight: 0.25, auroc: 0 },
  ]);
  // Without fitted weights the components count equally.
  const equal = componentResults(parts, {
    ...fitted,
    stats: { ...fitted.stats, weights: undefined },
  }, labels);
  assert.deepEqual(equal.map((c) => c.weight), [0.5, 0.5]);
  const zero = { ...fitted, stats: { ...fitted.stats, weights: { good: 0, inverted: 0 } } };
  assert.deepEqual(componentResults(parts, zero, labels).map((c) => c.weight), [0.5, 0.5]);
  const lines = componentLines([
    { name: "thyroid", components: equal } as unknown as DatasetEvaluation,
    { name: "zipper", components: equal, imageScore: "smoothed_max" } as DatasetEvaluation,
    { name: "hazelnut", components: equal, imageScore: "max" } as DatasetEvaluation,
    {
      name: "screw",
      components: equal,
      imageScore: "max",
      reductions: { plain: 0.8286, smoothed: 0.798 },
    } as DatasetEvaluation,
  ]);
  assert.deepEqual(lines, [
    "thyroid: good 0.50 (1.000), inverted 0.50 (0.000)",
    "zipper: good 0.50 (1.000), inverted 0.50 (0.000); score: max of the smoothed map",
    "hazelnut: good 0.50 (1.000), inverted 0.50 (0.000); score: max of the map",
    "screw: good 0.50 (1.000), inverted 0.50 (0.000); score: max of the map " +
    "(validation AUROC 0.8286; the smoothed map's 0.7980)",
  ]);
  // A table's one-sided components are named, in the line and the JSON.
  const floored = componentResults(parts, {
    ...fitted,
    stats: { ...fitted.stats, oneSided: ["inverted"] },
  }, labels);
  assert.deepEqual(floored.map((c) => c.oneSided), [undefined, true]);
  assert.deepEqual(componentLines([{ name: "t", components: floored } as DatasetEvaluation]), [
    "t: good 0.75 (1.000), inverted 0.25 (0.000); inverted counts above its normals' median",
  ]);
  // Components on their tail scale are marked; the line says so once all counted ones are.
  const tail = { normals: 2, quantiles: [0, 1] };
  const oneTail = componentResults(parts, {
    ...fitted,
    stats: { ...fitted.stats, tails: { inverted: tail } },
  }, labels);
  assert.deepEqual(oneTail.map((c) => c.tailScale), [undefined, true]);
  assert.deepEqual(componentLines([{ name: "t", components: oneTail } as DatasetEvaluation]), [
    "t: good 0.75 (1.000), inverted 0.25 (0.000)",
  ]);
  const everyTail = componentResults(parts, {
    ...fitted,
    stats: { ...fitted.stats, tails: { good: tail, inverted: tail } },
  }, labels);
  assert.deepEqual(componentLines([{ name: "t", components: everyTail } as DatasetEvaluation]), [
    "t: good 0.75 (1.000), inverted 0.25 (0.000); every component on its tail scale",
  ]);
  // With a component left out by validation, the line names what counts on the tail scale.
  const dropped = everyTail.map((c) =>
    c.name === "inverted" ? { ...c, weight: 0, droppedByValidation: true } : { ...c, weight: 1 }
  );
  assert.deepEqual(componentLines([{ name: "t", components: dropped } as DatasetEvaluation]), [
    "t: good 1.00 (1.000), inverted 0.00 (0.000, weight 0 by validation); good on its tail scale",
  ]);
  const json = evaluationJson([{ name: "t", components: everyTail } as DatasetEvaluation]);
  assert.equal(json.datasets[0].components.good.tail_scale, true);
});

Deno.test("transformerResult: the Transformer's readings summed with their weights among themselves", () => {
  const labels = Uint8Array.from([0, 0, 1, 1]);
  // Alone, `enc` ranks one anomaly below a normal and `enc_kde` the other; weighted 3 : 1 among
  // themselves (the kNN's share aside), their sum ranks both above the normals.
  const parts = {
    knn: Float32Array.from([3, 2, 1, 0]),
    enc: Float32Array.from([0, 1, 2, 0.5]),
    enc_kde: Float32Array.from([0, 1, 0, 4]),
  };
  const fitted = {
    banks: {},
    stats: { sample: {}, tokens: {}, threshold: 0, weights: { knn: 4, enc: 3, enc_kde: 1 } },
  };
  const together = transformerResult(parts, fitted, labels)!;
  assert.deepEqual(together.components, ["enc", "enc_kde"]);
  assert.equal(together.auroc, 1); // sums 0, 1, 1.5, 1.375
  // One reading (images, or a table whose calibration keeps `enc` alone): nothing to add.
  assert.equal(transformerResult({ knn: parts.knn, enc: parts.enc }, fitted, labels), undefined);
  // In the line and the JSON.
  const evaluation = {
    name: "t",
    modality: "table",
    metrics: {},
    components: componentResults(parts, fitted, labels),
    transformer: together,
  } as unknown as DatasetEvaluation;
  assert.ok(
    componentLines([evaluation])[0].endsWith(
      "; the Transformer's evidence alone (enc + enc_kde) 1.000",
    ),
  );
  assert.deepEqual(evaluationJson([evaluation]).datasets[0].transformer, together);
});

Deno.test("defectFigure: one bar per defect type with its count, chance and the overall AUROC marked", () => {
  const fig = defectFigure(
    [
      { defect: "scratch", count: 10, auroc: 0.9 },
      { defect: "thread", count: 8, auroc: 0.6 },
    ],
    0.8,
    "screw",
  );
  assert.equal(fig.data.length, 1);
  assert.deepEqual(fig.data[0].x, ["scratch (10)", "thread (8)"]);
  assert.deepEqual(fig.data[0].y, [0.9, 0.6]);
  const layout = JSON.stringify(fig.layout);
  assert.ok(layout.includes('"y0":0.5') && layout.includes('"y0":0.8'));
});

Deno.test("featureContributionFigure: rows by features, a scale centred on zero", () => {
  const fig = featureContributionFigure(
    ["#3 anomaly 5.00", "#7 normal 2.00"],
    ["TSH", "T3", "FTI"],
    Float32Array.of(4, -1, 0, 0.5, 0, 2),
    "thyroid",
  );
  const trace = fig.data[0] as Record<string, unknown>;
  assert.deepEqual(trace.z, [[4, -1, 0], [0.5, 0, 2]]);
  assert.deepEqual(trace.x, ["TSH", "T3", "FTI"]);
  assert.deepEqual([trace.zmin, trace.zmid, trace.zmax], [-4, 0, 4]);
});

Deno.test("featureSections: one heatmap per explained table, the check in its caption", () => {
  const base = {
    modality: "table" as const,
    metrics: {} as DatasetEvaluation["metrics"],
    components: [],
    scores: new Float32Array(0),
    labels: new Uint8Array(0),
  };
  const explained: DatasetEvaluation = {
    ...base,
    name: "thyroid",
    features: {
      columns: ["a", "b"],
      rows: [3],
      scores: [5],
      labels: [1],
      contributions: Float32Array.of(2, 0),
      check: { rows: 50, auroc: 0.81, top1: 0.76 },
    },
  };
  const sections = featureSections([explained, { ...base, name: "plain" }]);
  assert.equal(sections.length, 1);
  assert.equal(sections[0].heading, "By feature: thyroid");
  assert.match(sections[0].caption!, /50 synthetic anomalies.*AUROC 0\.810.*76%/);
  const wide = { ...explained, features: { ...explained.features!, check: null } };
  assert.match(featureSections([wide])[0].caption!, /too wide/i);
  // Images only: one line saying there is nothing to explain, not a heading over nothing.
  const none = featureSections([{ ...base, name: "plain" }]);
  assert.equal(none.length, 1);
  assert.match(none[0].html!, /No table was evaluated/);
});

Deno.test("notebook 04's curves part names ROC once: its heading, a heading per figure, no title twice", async () => {
  const notebook = JSON.parse(
    await Deno.readTextFile(new URL("../notebooks/04_evaluation.ipynb", import.meta.url)),
  );
  const partHeading = notebook.cells
    .map((c: { source: string[] | string }) => [c.source].flat().join(""))
    .find((text: string) => /^## .*ROC/m.test(text))!
    .match(/^## (.*ROC.*)$/m)![1];
  const evaluation = (name: string, labels: number[]): DatasetEvaluation =>
    ({
      name,
      modality: "table",
      components: [],
      scores: Float32Array.from(labels, (l, i) => l + i / 100),
      labels: Uint8Array.from(labels),
      metrics: labels.includes(1) && labels.includes(0)
        ? { auroc: 0.9, aupr: 0.8 }
        : { auroc: null, aupr: null },
      unmeasured: labels.includes(1) ? undefined : "the test part has only normal samples",
    }) as unknown as DatasetEvaluation;
  // What a reader sees in order: the part's heading, then each section's heading and its
  // figure's own title; the same words twice ("ROC curves" over "ROC curve") read as a repeat.
  const seen = (sections: ReturnType<typeof curveSections>) =>
    [
      partHeading,
      ...sections.flatMap((s) => [
        s.heading,
        ...[((s.figure?.layout.title as { text?: string }) ?? {}).text ?? []].flat(),
      ]),
    ].map((t) => t.toLowerCase().replace(/s$/, ""));
  const both = curveSections([evaluation("a", [0, 0, 1, 1]), evaluation("b", [0, 0, 0])]);
  assert.deepEqual(both.map((s) => s.heading), ["ROC curves", "Precision-recall curves"]);
  const texts = seen(both);
  assert.equal(new Set(texts).size, texts.length, texts.join(" | "));
  // The datasets without a curve are named once, under the last figure.
  assert.deepEqual(both.map((s) => s.caption !== undefined), [false, true]);
  assert.match(both[1].caption!, /No curve for b/);
  // No curve at all: one line, under a heading other than the part's.
  const none = curveSections([evaluation("b", [0, 0, 0])]);
  assert.equal(none.length, 1);
  assert.equal(none[0].heading, NO_CURVE_HEADING);
  assert.equal(new Set(seen(none)).size, 2);
  // Alone (a report of their own), the figures keep their titles.
  assert.deepEqual(rocFigure([]).layout.title, { text: "ROC curve" });
});

Deno.test("componentFigure: share and test AUROC bars per component, chance marked", () => {
  const fig = componentFigure([
    { name: "knn0", weight: 0.6, auroc: 0.7 },
    { name: "pix", weight: 0.4, auroc: 0.9 },
  ], "zipper");
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0].x, ["knn0", "pix"]);
  assert.deepEqual(fig.data[0].y, [0.6, 0.4]);
  assert.deepEqual(fig.data[1].y, [0.7, 0.9]);
  assert.equal(JSON.stringify(fig.layout).includes('"y0":0.5'), true);
});

Deno.test("shortLabels keeps short names and cuts long ones where they differ", () => {
  const left = "customer_line_3_inspection_camera_left_2026_november";
  const right = "customer_line_3_inspection_camera_right_2026_november";
  const labels = shortLabels(["12_fault", left, right, left]);
  assert.equal(labels[0], "12_fault");
  assert.equal(labels[1], "customer_line_3…left_2026_nove");
  assert.equal(labels[2], "customer_line_3…right_2026_nov");
  assert.equal(labels[3], labels[1]);
  // Names alike to the last character still get distinct labels, none longer than 30.
  const alike = shortLabels(["x".repeat(200), "x".repeat(199), "x".repeat(198)]);
  assert.equal(new Set(alike).size, 3);
  for (const label of alike) assert.ok(label.length <= 30, label);
});

Deno.test("bar figures over user-named datasets show short tick labels and grow their margin", () => {
  const long = "a_table_from_a_user_folder_with_a_long_descriptive_name";
  const summary = {
    methods: ["MADformer"],
    datasets: [{
      name: long,
      kind: "table",
      methods: { MADformer: { auroc: { mean: 0.9, std: 0 } } },
    }],
    means: [],
    seeds: [0],
  } as unknown as BenchmarkSummary;
  const xaxis = comparisonFigure(summary).layout.xaxis as Record<string, unknown>;
  assert.equal(xaxis.automargin, true);
  assert.deepEqual(xaxis.tickvals, [long]);
  assert.deepEqual(xaxis.ticktext, shortLabels([long]));
  const defects = defectFigure([{ defect: long, count: 3, auroc: 0.7 }], 0.8, "t");
  assert.equal((defects.layout.xaxis as Record<string, unknown>).automargin, true);
});

Deno.test("grouped bars: the title starts at the left, wrapped clear of the top-right toolbar", () => {
  const text = "Seconds to train and to score per dataset (mean over seeds; joint: whole training)";
  const layout = groupedBarLayout(text, {});
  const title = layout.title as Record<string, unknown>;
  assert.equal(title.x, 0);
  assert.equal(title.xanchor, "left");
  const lines = String(title.text).split("<br>");
  assert.equal(lines.length, 2);
  for (const line of lines) assert.ok(line.length <= BAR_TITLE_LINE, line);
  assert.equal(lines.join(" "), text);
  // The top margin holds the second line.
  assert.equal((layout.margin as Record<string, number>).t, 50 + TITLE_LINE_PX);
  const short = groupedBarLayout("Test AUROC per dataset (one seed)", {});
  assert.equal((short.title as Record<string, unknown>).text, "Test AUROC per dataset (one seed)");
  assert.equal((short.margin as Record<string, number>).t, 50);
});

Deno.test("exploration of a wide table: the features whose anomalies lie furthest, not thousands of plots", () => {
  const d = 100, n = 60;
  const rng = new Rng(4);
  const labels = Uint8Array.from({ length: n }, (_, r) => (r < 50 ? 0 : 1));
  const values = Float64Array.from({ length: n * d }, (_, i) => {
    const r = Math.floor(i / d), j = i % d;
    return rng.normal() + (labels[r] === 1 && (j === 7 || j === 42) ? 6 : 0);
  });
  const table = {
    name: "wide",
    source: "wide.csv",
    columns: [...Array(d).keys()].map((j) => `c${j}`),
    n,
    d,
    values,
    labels,
  };
  const shown = shownFeatures(table, HISTOGRAM_FEATURES);
  assert.equal(shown.length, HISTOGRAM_FEATURES);
  assert.ok(shown.includes(7) && shown.includes(42));
  assert.deepEqual(shown, [...shown].sort((a, b) => a - b));
  const histograms = featureHistogramFigure(table);
  assert.equal((histograms.layout.annotations as unknown[]).length, HISTOGRAM_FEATURES);
  assert.match(JSON.stringify(histograms.layout.title), /24 of 100 features/);
  const correlations = correlationFigure(table);
  assert.equal((correlations.data[0].z as number[][]).length, CORRELATION_FEATURES);
  // Without anomalies: the first features; a narrow table: all of them.
  assert.deepEqual(shownFeatures({ ...table, labels: null }, 3), [0, 1, 2]);
  assert.deepEqual(shownFeatures({ ...table, d: 5, columns: table.columns.slice(0, 5) }, 24), [
    0,
    1,
    2,
    3,
    4,
  ]);
});

Deno.test("exploration figures keep their texts apart: title lines, subtitle, panel titles, labels", () => {
  // A long table name and long column names (14 features: five rows of panels, the last part-full).
  const d = 14, n = 40;
  const rng = new Rng(5);
  const labels = Uint8Array.from({ length: n }, (_, r) => (r < 30 ? 0 : 1));
  const table = {
    name: "manufacturing_line_seven_vibration_and_temperature_sensors_weekly_export_2024",
    source: "x.csv",
    columns: [...Array(d).keys()].map((j) => `spindle_motor_temperature_celsius_sensor_${j}`),
    n,
    d,
    values: Float64Array.from({ length: n * d }, () => rng.normal()),
    labels,
  };
  type Domain = [number, number];
  const layout = featureHistogramFigure(table).layout as Record<string, unknown> & {
    height: number;
    margin: { t: number; b: number };
    title: { text: string; y: number; yref: string; yanchor: string };
  };
  // The title is wrapped (plotly never wraps one: a long line ran off both sides) and placed from
  // the top, its subtitle under it, all above the row of panel titles.
  const lines = layout.title.text.split("<br>");
  assert.ok(lines.length >= 3, layout.title.text);
  assert.match(lines.at(-1)!, /^<sub>y: each class's probability density<\/sub>$/);
  for (const line of lines.slice(0, -1)) assert.ok(line.length <= TITLE_LINE, line);
  assert.equal(layout.title.yref, "container");
  assert.equal(layout.title.yanchor, "top");
  const titleTop = (1 - layout.title.y) * layout.height;
  const titleBottom = titleTop + (lines.length - 1) * TITLE_LINE_PX + 20;
  const panelTitlePx = 22;
  assert.ok(titleBottom + panelTitlePx <= layout.margin.t, `${titleBottom} / ${layout.margin.t}`);
  // Each panel's title sits on its own panel's top edge, and the gap between a row of panels and
  // the next holds the upper row's x ticks (20 px) and the lower row's titles.
  const annotations = layout.annotations as Record<string, unknown>[];
  assert.equal(annotations.length, d);
  for (const a of annotations) {
    assert.equal(a.y, 1);
    assert.equal(a.yanchor, "bottom");
    assert.match(String(a.yref), / domain$/);
  }
  const plotPx = layout.height - layout.margin.t - layout.margin.b;
  const domains = [...Array(d).keys()].map((k) =>
    (layout[`yaxis${k ? k + 1 : ""}`] as { domain: Domain }).domain
  );
  const rowsOf = [...new Set(domains.map((dm) => dm.join()))].map((t) =>
    t.split(",").map(Number) as Domain
  );
  assert.equal(rowsOf.length, Math.ceil(d / 3));
  for (let r = 1; r < rowsOf.length; r++) {
    const gapPx = (rowsOf[r - 1][0] - rowsOf[r][1]) * plotPx;
    assert.ok(gapPx >= 20 + panelTitlePx, `gap ${gapPx} px`);
  }
  // Panels of a row do not overlap sideways.
  const xs = [0, 1, 2].map((k) => (layout[`xaxis${k ? k + 1 : ""}`] as { domain: Domain }).domain);
  assert.ok(xs[0][1] < xs[1][0] && xs[1][1] < xs[2][0], JSON.stringify(xs));

  // Correlations: the second heatmap's rows are the first's, so only the first names them (the
  // second's labels lay over the first heatmap); at most CORRELATION_LABELS names an axis.
  const wide = {
    ...table,
    d: 40,
    columns: [...Array(40).keys()].map((j) => `bearing_housing_vibration_axis_${j}_mm_per_s`),
    values: Float64Array.from({ length: n * 40 }, () => rng.normal()),
  };
  const corr = correlationFigure(wide).layout as Record<string, Record<string, unknown>>;
  assert.equal(corr.yaxis.showticklabels, true);
  assert.equal(corr.yaxis2.showticklabels, false);
  for (const axis of ["xaxis", "xaxis2", "yaxis"]) {
    assert.ok((corr[axis].tickvals as string[]).length <= CORRELATION_LABELS, axis);
  }
  const [x1, x2] = [corr.xaxis.domain, corr.xaxis2.domain] as Domain[];
  assert.ok(x1[1] < x2[0]);
  assert.deepEqual(
    (corr.annotations as unknown as { text: string }[]).map((a) => a.text),
    ["normal rows (30)", "anomalous rows (10)"],
  );
});

Deno.test("wrapTitle: lines of at most the given length, a long file name cut after a _", () => {
  assert.deepEqual(wrapTitle("short title"), { text: "short title", lines: 1 });
  const long = wrapTitle(
    "customer_plant_north_wide_sensor_matrix_export: feature correlations",
    30,
  );
  const lines = long.text.split("<br>");
  assert.equal(long.lines, lines.length);
  for (const line of lines) assert.ok(line.length <= 30, line);
  assert.equal(lines[0], "customer_plant_north_wide_");
  assert.equal(
    lines.join("").replace(/ /g, ""),
    "customer_plant_north_wide_sensor_matrix_export:featurecorrelations",
  );
});

/** An evaluation of `normal` normal and `anomalous` anomalous test samples, for the comparison. */
function countedEvaluation(
  name: string,
  normal: number,
  anomalous: number,
  modality: "image" | "table" = "image",
): DatasetEvaluation {
  return {
    name,
    modality,
    labels: Uint8Array.from({ length: normal + anomalous }, (_, i) => (i < normal ? 0 : 1)),
    metrics: {
      auroc: 0.9,
      aupr: 0.8,
      precision: 0.7,
      recall: 0.6,
      f1: 0.65,
      accuracy: 0.95,
      f1_at_true_count: 0.75,
    },
  } as unknown as DatasetEvaluation;
}

Deno.test("comparisonRows: reference rows of the datasets evaluated only, each F1 in its column", () => {
  const own = comparisonRows([countedEvaluation("44_Wilt", 10, 3, "table")]);
  assert.deepEqual(own.map((r) => r.dataset), ["44_Wilt"], "no reference speaks of it");
  // ODDS thyroid split by half its normals: 1,840 normals and 93 anomalies in the test part.
  const thyroid = comparisonRows([countedEvaluation("thyroid", 1840, 93, "table")]);
  const forest = thyroid.find((r) => r.name === "Isolation Forest")!;
  // The ODDS baselines report F1 at the true count, not at a threshold: never in the f1 column.
  assert.equal(forest.f1_at_true_count, 0.787);
  assert.equal(forest.f1, undefined);
  assert.equal(thyroid[0].f1, 0.65);
  assert.equal(thyroid[0].f1_at_true_count, 0.75);
  assert.ok(!thyroid.some((r) => r.dataset === "hazelnut" || r.dataset === "images (course)"));
  // The official MVTec AD test splits: hazelnut 40 good and 70 defective, zipper 32 and 119.
  const official = comparisonRows([
    countedEvaluation("hazelnut", 40, 70),
    countedEvaluation("zipper", 32, 119),
  ]);
  assert.ok(official.some((r) => r.dataset === "images (course)"), "both course categories");
  assert.ok(official.some((r) => r.name === "PatchCore" && r.dataset === "zipper"));
  assert.ok(!official.some((r) => r.dataset === "thyroid"));
  assert.deepEqual(withheldReferences([countedEvaluation("hazelnut", 40, 70)]), []);
  assert.deepEqual(COMPARISON_COLUMNS.slice(-2), ["f1_at_true_count", "note"]);
});

Deno.test("published figures only beside the split they were measured on; otherwise a line says why", () => {
  // A screw folder of one's own (the dev copy: 50 good, 10 of each of 5 defects) is not the
  // official MVTec AD screw test split (41 good, 119 defective).
  const mine = [countedEvaluation("screw", 50, 50)];
  assert.deepEqual(comparisonRows(mine).map((r) => r.name), ["MADformer (this run)"]);
  assert.deepEqual(withheldReferences(mine), [
    "screw: no published figure shown (PatchCore, DRAEM, CutPaste): its test part holds 50 " +
    "normal and 50 anomalous images, where the official MVTec AD screw test split holds 41 and 119.",
  ]);
  const html = comparisonHtml(mine);
  assert.ok(html.includes("<p>screw: no published figure shown"), html);
  assert.ok(!html.includes("PatchCore</td>"), html);
  // The official split: its published figures, no line.
  const official = [countedEvaluation("screw", 41, 119)];
  assert.deepEqual(
    comparisonRows(official).map((r) => `${r.name} ${r.auroc}`),
    ["MADformer (this run) 0.9", "PatchCore 0.981", "DRAEM 0.939", "CutPaste 0.863"],
  );
  assert.deepEqual(withheldReferences(official), []);
  // The course's hazelnut and zipper (55 and 47 test images) keep the original design's course
  // row, and lose the MVTec AD numbers, which are of the full split.
  const course = [countedEvaluation("hazelnut", 15, 40), countedEvaluation("zipper", 12, 35)];
  const rows = comparisonRows(course);
  assert.ok(rows.some((r) => r.dataset === "images (course)"));
  assert.ok(!rows.some((r) => r.name === "PatchCore"));
  assert.equal(withheldReferences(course).length, 2);
  // A table named like a category, or one named thyroid that is not ODDS thyroid.
  assert.match(
    withheldReferences([countedEvaluation("zipper", 32, 119, "table")])[0],
    /^zipper: .*: it is table data and the official MVTec AD zipper test split holds images\.$/,
  );
  const notOdds = [countedEvaluation("thyroid", 500, 20, "table")];
  assert.ok(!comparisonRows(notOdds).some((r) => r.name === "Isolation Forest"));
  assert.ok(comparisonRows(notOdds).some((r) => r.name === "original design"), "course framing");
  assert.match(
    withheldReferences(notOdds)[0],
    /500 normal and 20 anomalous rows, where the test part of ODDS thyroid .* holds 1840 and 93\.$/,
  );
  // Every official split: 1,725 test images.
  const total = Object.values(MVTEC_AD_TEST).reduce((n, c) => n + c.good + c.defective, 0);
  assert.equal(total, 1725);
});

Deno.test("figures a reader checks at a glance: one bin grid, darker is more, losses apart from AUROC", () => {
  const hist = scoreHistogramFigure([0.1, 0.2, 0.3], [8, 21], 1, "s").data as Record<
    string,
    unknown
  >[];
  assert.equal(hist[0].bingroup, hist[1].bingroup, "both classes on one bin grid");
  assert.equal(hist[1].histnorm, "percent", "60 anomalies beside 570 normals stay visible");
  const cm = confusionFigure({ tp: 40, fp: 0, tn: 50, fn: 10 }).data[0] as Record<string, unknown>;
  assert.equal(cm.colorscale, "Blues");
  assert.equal(cm.reversescale, true, "plotly's Blues is dark at its low end");
  const curves = lossCurvesFigure(
    [{ epoch: 1, loss: 2, val_auroc: 0.6 }, { epoch: 2, loss: 1, val_auroc: 0.8 }],
    ["loss", "val_auroc"],
  );
  const traces = curves.data as Record<string, unknown>[];
  assert.equal(traces[0].yaxis, undefined);
  assert.equal(traces[1].yaxis, "y2");
  assert.equal((curves.layout.xaxis as Record<string, unknown>).dtick, 1);
  // The AUROC axis ends just above 1, and starts below the lowest AUROC (or at 0.5 at most).
  assert.deepEqual((curves.layout.yaxis2 as Record<string, unknown>).range, [0.48, 1.01]);
  const perDataset = lossCurvesFigure(
    [{ epoch: 1, "image:a": 0.7 }],
    ["image:a"],
    "t",
    "val AUROC",
  );
  assert.equal(
    ((perDataset.layout.yaxis as Record<string, unknown>).title as { text: string }).text,
    "val AUROC",
  );
  assert.equal(
    componentMeaning("con8"),
    "distance of contrast-normalised 8 px pixel patches to the nearest normal ones",
  );
  assert.equal(
    componentMeaning("knn0"),
    "distance of the conv stem's stage-0 features to the nearest normal ones",
  );
  assert.equal(componentMeaning("zz"), "a component of the score");
});

Deno.test("scoreMapPanelPng: a row per image, the image beside its map, a colour bar under them", async () => {
  const dir = await Deno.makeTempDir();
  const paths = [0, 1].map((i) => join(dir, `img${i}.png`));
  for (const [i, p] of paths.entries()) {
    await sharp(new Uint8Array(16 * 16 * 3).fill(40 + i * 80), {
      raw: { width: 16, height: 16, channels: 3 },
    }).png().toFile(p);
  }
  const map = new Float32Array(4 * 4).fill(0);
  map[5] = 6;
  const png = await scoreMapPanelPng(
    new ImageCache(),
    paths.map((path) => ({ path, map })),
    32,
    4,
  );
  const meta = await sharp(png).metadata();
  assert.equal(meta.width, 3 * 6 + 2 * 32);
  assert.equal(meta.height, 6 + 2 * (32 + 6) + 14 + 5 + 6);
  await assert.rejects(() => scoreMapPanelPng(new ImageCache(), [], 32, 4), /no images/);
});

Deno.test("scoreMapPng: the map over the image as before, its colour bar to the right with values and meaning", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "photo.png");
  const pixels = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 251);
  await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(path);
  const map = Float32Array.from({ length: 16 }, (_, i) => i / 2);
  const size = 256;
  const cache = new ImageCache();
  const png = await scoreMapPng(cache, path, size, map);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const legend = mapLegendRgb(size);
  assert.equal(info.height, size);
  assert.equal(info.width, size + legend.width);
  // The map keeps the image's size x size pixels at the left, exactly the overlay it was.
  const image = await cache.get(path, { size, channels: 3 });
  const alone = await sharp(await heatmapOverlayPng(image, map, { width: 4, height: 4 }, MAP_SCALE))
    .raw().toBuffer();
  for (let y = 0; y < size; y++) {
    const row = data.subarray(y * info.width * 3, (y * info.width + size) * 3);
    assert.ok(
      Buffer.compare(row, alone.subarray(y * size * 3, (y + 1) * size * 3)) === 0,
      `row ${y}`,
    );
  }
  // The bar: red at the top (6 or more), dark blue at the bottom (0), a column of jet colours.
  const at = (
    x: number,
    y: number,
  ) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  const barX = size + 8 + 7; // pad 8 and half the 14 px bar at 256 px
  const [red, , blue] = at(barX, 20);
  assert.ok(red > 100 && blue < 30, `top ${at(barX, 20)}`);
  const [r0, , b0] = at(barX, size - 20);
  assert.ok(b0 > 100 && r0 < 30, `bottom ${at(barX, size - 20)}`);
  // Its labels and what the value is, in dark ink to the right of the bar.
  let ink = 0;
  for (let y = 0; y < size; y++) {
    for (let x = size + 30; x < info.width; x++) if (at(x, y).every((v) => v === 40)) ink++;
  }
  assert.ok(ink > 400, `${ink} ink pixels`);
  assert.deepEqual([...MAP_LEGEND], ["anomaly score", "(SD above normal)"]);
});

Deno.test("drawText: the built-in font's pixels, along a line or upward", () => {
  const width = 20, height = 12;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  drawText(rgb, width, 1, 1, "1", { colour: [0, 0, 0] });
  const inked = (x: number, y: number) => rgb[(y * width + x) * 3] === 0;
  // "1": ..#.. / .##.. / ..#.. ... / .###.
  assert.ok(inked(3, 1) && !inked(2, 1) && inked(2, 2) && inked(2, 7) && inked(4, 7));
  const up = new Uint8Array(width * height * 3).fill(255);
  drawText(up, width, 2, 10, "-", { colour: [0, 0, 0], upward: true });
  // "-" is a row across the glyph: turned upward, a column 5 px high at x = 2 + 3.
  const column = [...Array(height).keys()].filter((y) => up[(y * width + 5) * 3] === 0);
  assert.deepEqual(column, [6, 7, 8, 9, 10]);
  assert.deepEqual(textSize("6+", 2), { length: 22, height: 16 });
  assert.throws(() => drawText(rgb, width, 0, 0, "é"), /no glyph/);
});

Deno.test("metricsTable: a whole number in a column of fractions has its decimals too", () => {
  const text = metricsTable([{ name: "dots", auroc: 1, n: 24 }, {
    name: "table",
    auroc: 0.97891,
    n: 630,
  }]);
  assert.match(text, /dots\s+1\.0000\s+24\n/);
  assert.match(text, /table\s+0\.9789\s+630\n/);
});

Deno.test("readableJson: arrays of numbers on one line, the rest indented, the same value", () => {
  const value = { model: { poseJitter: [1, 0, 0, -1.5, 0, 2e-3], name: "x", nested: [{ a: 1 }] } };
  const text = readableJson(value);
  assert.ok(text.includes('"poseJitter": [1, 0, 0, -1.5, 0, 0.002]'), text);
  assert.deepEqual(JSON.parse(text), value);
});

Deno.test("htmlTable: numbers as in metricsTable, names escaped, the columns asked for", () => {
  const html = htmlTable([{ name: "<a>", auroc: 1, n: 3 }, { name: "b", auroc: 0.5, n: 4 }], [
    "name",
    "auroc",
  ]);
  assert.ok(html.includes("<td>&lt;a&gt;</td><td>1.0000</td>"));
  assert.ok(html.includes("<td>b</td><td>0.5000</td>"));
  assert.ok(!html.includes("<th>n</th>"));
});

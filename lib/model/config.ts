/**
 * Model and training configuration as plain data, with the defaults and the validation of
 * `--config` overrides (unknown keys and wrong types are named in the error).
 *
 * @module
 */
import { isNotFound, MadError } from "../errors.ts";

/** Every switch an ablation may turn and every size the model has. */
export interface ModelConfig {
  /** Side of the square image the model sees, in pixels. */
  imageSize: number;
  /** Stem patch-merging factors; their product is the token patch size (e.g. 4*2*2 = 16). */
  stem: number[];
  /** Channels after each stem stage (the last is followed by the projection to `width`). */
  stemChannels: number[];
  /** The stem sees each image standardised on its own (see `stemInput`). */
  stemStandardise: boolean;
  /**
   * The stem also sees each token patch contrast-normalised (see `stemInput`): fine texture that
   * the image-wide scale leaves faint reaches the tokens, and with it the encoder evidence (zipper
   * `enc` 0.75 without, 0.97 with, 3 seeds; docs/transformer-evidence.md, Images).
   */
  stemContrast: boolean;
  /**
   * Turn each image of a category to its object's pose (long axis level, centre in the middle)
   * when the training normals show objects with a clear long axis lying at different angles
   * (lib/data/pose.ts); categories whose objects are round or already lie one way are untouched.
   */
  alignObjects: boolean;
  /** Token width. */
  width: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  /** Learned modality-type embedding added to every token. */
  modalityEmbedding: boolean;
  /** Position (image) and feature-identity (table) embeddings. */
  positionEmbedding: boolean;
  /** One encoder for both modalities (true) or one per modality (false). */
  sharedEncoder: boolean;
  /**
   * With a shared encoder, which half of each block is one per modality instead of shared (with
   * the layer norm before it): `none` (the whole block shared, up to `v21`), `mlp` (attention
   * shared, as in the multiway blocks of VLMo and BEiT-3) or `attention` (the MLP shared; the
   * default since `v22`). With an attention per modality the joint model of the dev suite (screw
   * and 17 ADBench tables in one model) reads both modalities better through `enc` (screw 0.835
   * against 0.809, the tables 0.821 against 0.809, two seeds; docs/results.md, "v22").
   */
  modalityExperts: ModalityExperts;
  /** Masked-token reconstruction head and its share in the score. */
  reconstructionHead: boolean;
  /** Sigmoid anomaly head trained against synthetic anomalies. */
  anomalyHead: boolean;
  /** Patch-level nearest-neighbour head over token features (no training). */
  knnHead: boolean;
  /**
   * Encoder evidence (`enc`, lib/model/evidence/encoder.ts): image cells' and table rows' tokens
   * after the encoder, compared with the training normals' tokens.
   */
  encoderEvidence: boolean;
  /**
   * The encoder evidence for tables too (with `encoderEvidence`). On the 17 ADBench dev tables
   * it is the strongest table evidence alone and lifts the combined score; it costs an encoder
   * pass per row, which is why it reads through `tableEncoderBlocks` blocks only
   * (docs/transformer-evidence.md, Tables).
   */
  tableEncoderEvidence: boolean;
  /**
   * Encoder blocks the tables' encoder evidence reads through: each feature token's residual
   * stream after this many blocks; 0, or `layers` or more, after the last. The first block
   * (the default) is computed from the tokens' structure at a fraction of a block's cost; each
   * further one costs about a quarter of a full pass per row, and on the tables measured all
   * four raised the combined AUROC by 0.005 (docs/transformer-evidence.md, Tables).
   */
  tableEncoderBlocks: number;
  /**
   * With the tables' encoder evidence, a second reading of the same tokens (`enc_kde`,
   * lib/model/evidence/encoder_density.ts): a Gaussian kernel density of the normals' tokens at
   * several widths (`tableKernelWidths`), beside `enc`'s nearest rows. Chosen on the 17 ADBench
   * dev tables (three seeds 0.828 against 0.826 without it); the Transformer's evidence alone
   * then reads ODDS thyroid at 0.9908 over three seeds (0.9896 for `enc` alone;
   * docs/transformer-evidence.md, "Twentieth pass").
   */
  tableEncoderDensity: boolean;
  /**
   * The widths `enc_kde` reads its density at, as multiples of the sampled normals' mean
   * distance to their 5 nearest rows, narrowest first; the score is the mean of the widths'
   * standardised scores. Narrow widths read as the nearest rows do, broad ones how far a row lies
   * beyond where normals crowd. Since `v29` four (0.125, 0.25, 0.5, 2), chosen on the 17 ADBench
   * dev tables over three seeds (0.829 against 0.828 for `v28`'s 0.25, 0.5, 2;
   * docs/transformer-evidence.md, "Twenty-first pass").
   */
  tableKernelWidths: number[];
  /**
   * Encoder blocks the images' encoder evidence reads through: each cell token's residual stream
   * after this many blocks; 0, or `layers` or more, after the last. Each block mixes in context
   * and can wash out a cell's own detail. After the first block (`v21`; 2 before) `enc` ranks the
   * dev category screw's real defects best (0.881 against 0.844, 3 seeds), and the plain pass stops
   * there; validation on synthetic anomalies ranks blocks 1 and 2 within 0.02 of each other
   * (docs/transformer-evidence.md, fifth pass).
   */
  imageEncoderBlocks: number;
  /**
   * Weight of the visible tokens' reconstruction loss relative to the hidden ones': above 0 the
   * encoder's output must keep each token's own content, which the encoder evidence compares.
   */
  visibleReconWeight: number;
  /** Share of tokens hidden for masked reconstruction (training and scoring). */
  maskRatio: number;
  /** Share of table features hidden for masked reconstruction. */
  tableMaskRatio: number;
  /**
   * Most tokens a table row becomes (0 = no limit). Each feature is a token up to this width;
   * a wider table puts ceil(d / tableMaxTokens) neighbouring features in each token, as an image
   * puts a patch of pixels in one, since attention costs the square of the tokens: at one token a
   * feature, 500 features took about an hour to train and 1,555 did not finish an epoch in 20
   * minutes (docs/performance.md, "Wide tables"). Tables up to this width are unchanged.
   */
  tableMaxTokens: number;
  /** Nearest neighbours averaged by the kNN head, for image tokens. */
  knnK: number;
  /** Nearest neighbours averaged by the kNN head, for table rows. */
  tableKnnK: number;
  /**
   * Feature levels the kNN head compares: stem stage indices (finer grids, more local), and
   * `stem.length - 1` for the encoder tokens.
   */
  knnLevels: number[];
  /**
   * Also compare the raw pixels of each token's patch (the tokenizer's input) with the memory
   * bank: a resolution the learned features compress away.
   */
  knnPixels: boolean;
  /**
   * Encoder layers the token-level kNN features pass through: 0 = the stem tokens with their
   * embeddings; `layers` or more = the encoder output.
   */
  knnTokenLayer: number;
  /** Further raw-pixel patch sides (pixels, each dividing imageSize) the kNN head compares. */
  knnPixelPatches: number[];
  /**
   * Raw-pixel patch sides (pixels, each dividing imageSize) compared after contrast
   * normalisation: each patch's per-channel mean removed and its length scaled to one (with a
   * floor for flat patches), so only its local pattern counts, not its brightness or contrast.
   */
  knnContrastPatches: number[];
  /**
   * Raw-pixel patch sides compared after standardising each image (per channel, over the whole
   * image), so a global change of exposure or colour balance between normal images does not count.
   */
  knnStandardPatches: number[];
  /**
   * Side of the neighbourhood whose features are averaged before the kNN search (PatchCore's
   * locally aware patch features); 1 = each cell on its own.
   */
  knnNeighbourhood: number;
  /**
   * The decision threshold is this quantile of the validation normals' scores, so about
   * (1 - quantile) of normals are flagged whatever the share of anomalies in the data.
   */
  thresholdQuantile: number;
  /** Reduce image maps to a score by the maximum of a 3x3-smoothed map (else the plain max). */
  smoothMaps: boolean;
  /**
   * Let validation choose `smoothMaps` per image category: a defect spread over several cells
   * stands out after smoothing, a one-cell one before it.
   */
  chooseSmoothing: boolean;
  /**
   * Maximum memory-bank rows per image category and kNN level (a greedy coreset when larger);
   * for tables, of the `enc_kde` sample (the `enc` coreset keeps 500, the kNN every fitted row).
   */
  knnBankSize: number;
  /**
   * Categories turned to one pose (`alignObjects`): memory banks compare each image cell with
   * normal cells at and near its place, its row and column added to its features with this
   * weight (the features' typical length across the whole grid; lib/model/knn/cells.ts). After
   * alignment a place is the same part of the object in every image, and a pattern normal in one
   * part can be a defect in another. 0 compares cells wherever they lie.
   */
  cellPositionWeight: number;
  /**
   * Categories turned to one pose: besides the pose found, each image is scored at these changes
   * of it, and every map is the mean of its maps over all of them. Three numbers a change:
   * pixels along the object's axis, pixels across it, degrees of turn (lib/data/pose.ts,
   * `jitterAligned`). A pose found from an object's moments is uncertain by a pixel or two and
   * a degree or so, and a cell compared where it lies pays for that in its distance to the
   * normals; averaging over nearby poses keeps it out. Shifts are in pixels of a 128 px image,
   * scaled with `imageSize`. Each change costs one more pass per image, for aligned categories
   * only. Empty: the pose found alone. The default changes the pose one way at a time
   * ({@linkcode oneWayAtATime}): changes in two ways at once lie further from the pose found and
   * blur every view (docs/transformer-evidence.md).
   */
  poseJitter: number[];
  /**
   * Image kNN features at least twice this wide are compared in this many principal directions
   * of the training features, their whole lengths kept (see `BankProjection`): most of the
   * distance at a fraction of the cost. 0 compares every feature in full.
   */
  knnProjection: number;
  /**
   * Raw-pixel views are compared in at most this share of their width (0.5: the 48-wide 4x4
   * patches in 24 directions): patches of natural images keep most of their variance in a few
   * directions, so their distances hardly move, while the learned features' spread is flatter,
   * so projecting them alike would drop more of their distance, and they stay whole (measured in
   * docs/results.md, "What moved the images").
   */
  pixelProjectionShare: number;
  /**
   * Tables: per-feature density of the training normals (a Gaussian kernel density estimate per
   * feature, Silverman's bandwidth) as evidence; rare values of any one feature count.
   */
  densityHead: boolean;
  /**
   * Tables: isolation-forest evidence (random axis-aligned splits of normal rows, see
   * `lib/model/isolation.ts`): how few single-feature thresholds set a row apart.
   */
  isolationHead: boolean;
  /**
   * Rows each isolation tree is grown from. Small samples keep a group of similar anomalies from
   * masking one another (Liu et al.), so the default is below the paper's 256 (chosen on real
   * anomalies of a dev file, see docs/results.md).
   */
  isolationSample: number;
  /** Trees of the isolation forest: more trees, steadier ranks at the top of the scores. */
  isolationTrees: number;
  /**
   * Tables: features whose training values are right-skewed (skewness above 1, as lab values
   * and counts are) are compared on a log scale (see `fitNormalisation`), so a moderate rise
   * near the dense bottom of the range weighs as much as a long stretch of the sparse top.
   */
  tableLogSkewed: boolean;
  /**
   * Evidence components whose validation weight falls below this share are dropped from the
   * score (and not computed when scoring; `eval` still measures each alone for its report):
   * they add cost and noise, not separation.
   */
  minComponentWeight: number;
  /**
   * With `separating` weights, the validation AUROC a component must reach to count: below it,
   * it separates synthetic anomalies from normals little better than chance and adds mostly
   * noise to the score.
   */
  separatingAuroc: number;
  /**
   * How an image category's evidence components are weighted: `equal`, or `validation`
   * (by their validation AUROC against synthetic anomalies, see `weightsFromAuroc`), or `best`
   * (the component with the highest validation AUROC alone), or `separating` (equal weights
   * over the components whose validation AUROC reaches `separatingAuroc`; the best alone when
   * none does).
   */
  imageWeights: ComponentWeighting;
  /**
   * The same for a table's evidence components; `separating` by default. Synthetic table
   * anomalies (feature swaps, values pushed out of range) reward the row distances most, which
   * need not hold for real anomalies: `best` keeps the best-validating component alone and lifts
   * the ADBench dev tables' mean, but on ODDS thyroid it drops the isolation forest that ranks
   * its real anomalies best. `separating` only drops what validation finds near chance (the
   * forest on most ADBench tables, not on thyroid) and weighs the rest equally
   * (docs/results.md, "Table evidence on the dev tables").
   */
  tableWeights: ComponentWeighting;
  /**
   * How far a table's counted components are weighed by how well each agrees with the others:
   * each weight is multiplied by the power of its rank correlation (Spearman, clipped at 0) with
   * the mean rank the other counted components give the calibration normals; 0 leaves the
   * weights as `tableWeights` made them. A reading that orders the normals unlike every other
   * (on `20_letter` and `40_vowels` the per-feature densities) mostly sees something the rest
   * do not, which on the dev tables was more often noise than anomaly. Needs no anomalies, so
   * it is not fooled by what the synthetic ones reward. Chosen on the 17 ADBench dev tables
   * (three seeds 0.8305 against 0.8294 without; powers 4 to 16 within 0.0003; ODDS thyroid and UCI
   * ann-thyroid within their seeds' spread; docs/transformer-evidence.md, "Twenty-second pass").
   */
  tableAgreementPower: number;
  /**
   * How a table's components are put on one scale before they are summed: by their calibration
   * normals' mean and standard deviation (`moments`) or by their median and interquartile range
   * (`quartiles`, the default). Calibrated on all normals, a table brings in the few that lie far
   * out, and their spread shrinks the share of the component they stand out on; the quartiles do
   * not move. Chosen on the 17 ADBench dev tables (three seeds 0.822 against 0.818 for `moments`;
   * docs/transformer-evidence.md, "Seventeenth pass").
   *
   * `tail` puts every component, the two-sided ones too, on the tail scale that `tableOneSidedTail`
   * gives the one-sided ones (after their quartiles): a row counts by how few calibration normals
   * reach its value on each component, so no component's spread among the normals outweighs the
   * others'. It suits anomalies that lie beyond the normals' range on a few features, as thyroid's
   * out-of-range hormone values do: ODDS thyroid reads 0.9937 / 0.899 / 0.819 (AUROC / AUPR / F1 at
   * the true count, five seeds) against 0.9926 / 0.884 / 0.800, UCI ann-thyroid (three seeds)
   * 0.9923 / 0.812 / 0.776 against 0.9910 / 0.788 / 0.744. Where anomalies lie inside the normals'
   * margins and one component's long reach finds them it costs: the 17 ADBench dev tables read
   * 0.8246 against 0.8275 (`44_Wilt` and `14_glass` 0.02 lower), so it is not the default; nor does
   * a table of lab values always gain (ADBench's `2_annthyroid` reads 0.004 lower;
   * docs/transformer-evidence.md, "Thirty-seventh pass").
   */
  tableScale: TableScale;
  /**
   * Whether a table's one-sided components (`oneSided`: each feature's density, the isolation
   * forest) count only above their normals' median. They read the features one at a time, so a
   * low value says that every value of the row is typical, not that the row is: summed as they
   * are, it offsets what the row distances see. Chosen on the 17 ADBench dev tables (three seeds
   * 0.826 against 0.822; ODDS thyroid unchanged; docs/transformer-evidence.md, "Nineteenth
   * pass").
   */
  tableOneSided: boolean;
  /**
   * Whether a table's one-sided components are put on a tail scale before they are summed: minus
   * the log of the share of calibration normals at or above the value (interpolated between
   * neighbouring normals; beyond the largest, log m plus the excess in the component's quartile
   * units), so the median reads log 2 and the largest normal log m. The two-sided components keep
   * `tableScale`. A density or a forest reads a row's rarest value, and on the quartile scale one
   * value far out in a long tail outweighs every other component; on the tail scale it counts as
   * rare as no normal is, and by how far beyond the normals it lies. Chosen on the 17 ADBench dev
   * tables (three seeds 0.8309 against 0.8305, higher on each; ODDS thyroid and UCI ann-thyroid
   * higher on all three figures; docs/transformer-evidence.md, "Twenty-third pass").
   */
  tableOneSidedTail: boolean;
  /**
   * Whether the reconstruction and sigmoid heads' evidence counts in image scores (else they only
   * shape the features the kNN head compares). Off by default: the heads learn the synthetic
   * defects validation is made of, so validation rewards them whether or not they rank real
   * defects (measured in docs/results.md, "Which evidence carries the score").
   */
  imageHeadEvidence: boolean;
  /**
   * The same for table scores. Off by default for the same reason: the sigmoid head learns the
   * synthetic anomalies validation is made of, so validation gives it a share of the score its
   * ranking of real anomalies does not earn (measured in docs/results.md).
   */
  tableHeadEvidence: boolean;
  /**
   * After training, fit each dataset's standardisation, threshold, component weights (and an
   * image category's map reduction) on every training normal plus synthetic anomalies made from
   * them, rather than on the validation normals alone: ten times the data, so the choices made on
   * it are steadier. An image is scored against the memory bank without its own rows; a table's
   * normals are dealt into five folds, each scored against banks fitted on the other four, and
   * its banks are then fitted on every normal.
   */
  calibrateOnAllNormals: boolean;
}

/** The encoder blocks the tables' encoder evidence reads through (see `tableEncoderBlocks`). */
export function tableEncoderDepth(
  config: Pick<ModelConfig, "tableEncoderBlocks" | "layers">,
): number {
  return encoderDepth(config.tableEncoderBlocks, config.layers);
}

/** The encoder blocks the images' encoder evidence reads through (see `imageEncoderBlocks`). */
export function imageEncoderDepth(
  config: Pick<ModelConfig, "imageEncoderBlocks" | "layers">,
): number {
  return encoderDepth(config.imageEncoderBlocks, config.layers);
}

function encoderDepth(blocks: number, layers: number): number {
  return blocks === 0 ? layers : Math.min(blocks, layers);
}

/** Allowed values of `modalityExperts`. */
export const MODALITY_EXPERTS = ["none", "mlp", "attention"] as const;

/** Which half of each encoder block is one per modality (see `modalityExperts`). */
export type ModalityExperts = typeof MODALITY_EXPERTS[number];

/** Allowed values of `imageWeights` and `tableWeights`. */
export const COMPONENT_WEIGHTINGS = ["equal", "validation", "best", "separating"] as const;

/** Allowed values of `tableScale`. */
export const TABLE_SCALES = ["moments", "quartiles", "tail"] as const;

/** How a table's evidence components are standardised (see `tableScale`). */
export type TableScale = typeof TABLE_SCALES[number];

/** How a dataset's evidence components are weighted in its score. */
export type ComponentWeighting = typeof COMPONENT_WEIGHTINGS[number];

/** What a model setting changes (see {@linkcode CONFIG_GROUPS}). */
/**
 * The keys that switch evidence components on (each component's `switch.key` in
 * lib/model/evidence/registry.ts; a test holds the two lists equal): one must be on. Listed here
 * rather than read from the registry, whose components import the model, which imports this file.
 */
export const EVIDENCE_SWITCHES = [
  "reconstructionHead",
  "knnHead",
  "densityHead",
  "isolationHead",
  "encoderEvidence",
  "anomalyHead",
] as const satisfies readonly (keyof ModelConfig)[];

/** What changing a model setting changes; see {@linkcode CONFIG_GROUPS}. */
export type ConfigGroup = "architecture" | "training" | "evidence" | "scoring";

/**
 * Each model setting's group, by what changing it changes. The config itself stays flat (a
 * checkpoint stores it so); the groups say which settings the trained weights depend on, and so
 * which ones a resumed run may not change (`lib/train/resume.ts`). A setting that plays two
 * parts is in the group that changes the weights (`maskRatio` also masks tokens when scoring).
 */
export const CONFIG_GROUPS: Readonly<Record<keyof ModelConfig, ConfigGroup>> = {
  // Architecture: the parameters' names and shapes, or what the forward pass computes from them
  // (the stem's input, the embeddings added to tokens). Weights trained under one value do not
  // fit another, or mean something else under it.
  imageSize: "architecture",
  stem: "architecture",
  stemChannels: "architecture",
  stemStandardise: "architecture",
  stemContrast: "architecture",
  alignObjects: "architecture",
  width: "architecture",
  layers: "architecture",
  heads: "architecture",
  mlpRatio: "architecture",
  modalityEmbedding: "architecture",
  positionEmbedding: "architecture",
  sharedEncoder: "architecture",
  modalityExperts: "architecture",
  tableMaxTokens: "architecture",
  // Training: the same parameters, but what the steps teach them: the losses and their weights,
  // the share of tokens and features masked, the synthetic anomalies in the batches, and the
  // table values the model is trained on (`tableLogSkewed` rescales features before training).
  // Changing one in the middle of a run would make weights no single setting trained.
  reconstructionHead: "training",
  anomalyHead: "training",
  visibleReconWeight: "training",
  maskRatio: "training",
  tableMaskRatio: "training",
  tableLogSkewed: "training",
  // Evidence: which evidence is computed from the trained model and the training normals, and
  // how its memory banks, densities and forests are built. No training step reads them; every
  // validation builds the banks anew from the current weights.
  knnHead: "evidence",
  encoderEvidence: "evidence",
  tableEncoderEvidence: "evidence",
  tableEncoderBlocks: "evidence",
  tableEncoderDensity: "evidence",
  tableKernelWidths: "evidence",
  imageEncoderBlocks: "evidence",
  densityHead: "evidence",
  isolationHead: "evidence",
  knnK: "evidence",
  tableKnnK: "evidence",
  knnLevels: "evidence",
  knnPixels: "evidence",
  knnTokenLayer: "evidence",
  knnPixelPatches: "evidence",
  knnContrastPatches: "evidence",
  knnStandardPatches: "evidence",
  knnNeighbourhood: "evidence",
  knnBankSize: "evidence",
  cellPositionWeight: "evidence",
  poseJitter: "evidence",
  knnProjection: "evidence",
  pixelProjectionShare: "evidence",
  isolationSample: "evidence",
  isolationTrees: "evidence",
  // Scoring: how the evidence becomes a score and a decision: which components count and with
  // what weight, how an image map is reduced, the threshold, and which normals the statistics
  // are fitted on. No training step reads them; every validation fits the statistics anew.
  thresholdQuantile: "scoring",
  smoothMaps: "scoring",
  chooseSmoothing: "scoring",
  minComponentWeight: "scoring",
  separatingAuroc: "scoring",
  imageWeights: "scoring",
  tableWeights: "scoring",
  tableAgreementPower: "scoring",
  tableScale: "scoring",
  tableOneSided: "scoring",
  tableOneSidedTail: "scoring",
  imageHeadEvidence: "scoring",
  tableHeadEvidence: "scoring",
  calibrateOnAllNormals: "scoring",
};

/** Training settings. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  tableBatchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** Share of training normals held out for validation. */
  valShare: number;
  /** Share of each training batch replaced by synthetic anomalies for the sigmoid head. */
  anomalyShare: number;
  /**
   * Table batches per image batch in the alternation; a fraction spreads them out (0.5: one
   * after every other image batch).
   */
  tableStepsPerImageStep: number;
  /** Minimum steps per epoch for the table when there are no images. */
  tableStepsPerEpoch: number;
  /** Weight of the anomaly (BCE) loss relative to reconstruction. */
  anomalyLossWeight: number;
  /** Gradient clipping by global norm (0 = off). */
  clipNorm: number;
  /**
   * Each training batch is cut into this many shards whose gradients are computed in parallel
   * (this thread plus shards - 1 workers; the same gradients up to float rounding); 0 = one per
   * CPU core.
   */
  shards: number;
  /**
   * Share of the final epochs whose weights are averaged (0 = off: validation keeps its best
   * epoch). From the first of them on, the model is the running mean of the weights at the end
   * of each of those epochs: validation scores it, the best checkpoint keeps it every epoch, and
   * the steps go on from the latest weights. A few hundred steps of a small data set move the
   * encoder's tokens from epoch to epoch, and which epoch validation prefers is a draw of a few
   * synthetic anomalies; the mean of several epochs' weights changes less and read the dev
   * category screw better (docs/transformer-evidence.md, "Fourteenth pass").
   */
  averageWeights: number;
}

/** The full configuration stored in every checkpoint. */
export interface Config {
  model: ModelConfig;
  train: TrainConfig;
}

/**
 * `poseJitter` triples that change a pose one way at a time: each step along, across and of turn,
 * either way, the other two left at 0.
 */
export function oneWayAtATime(
  steps: { along: number[]; across: number[]; degrees: number[] },
): number[] {
  return [steps.along, steps.across, steps.degrees].flatMap((values, axis) =>
    values.flatMap((v) => [v, -v]).flatMap((v) => [0, 1, 2].map((k) => (k === axis ? v : 0)))
  );
}

/** The defaults: chosen by validation on normals plus synthetic anomalies. */
export const DEFAULT_CONFIG: Config = {
  model: {
    imageSize: 128,
    stem: [4, 2],
    stemChannels: [48],
    stemStandardise: true,
    stemContrast: true,
    alignObjects: true,
    width: 128,
    layers: 4,
    heads: 4,
    mlpRatio: 4,
    modalityEmbedding: true,
    positionEmbedding: true,
    sharedEncoder: true,
    modalityExperts: "attention",
    reconstructionHead: true,
    anomalyHead: true,
    knnHead: true,
    encoderEvidence: true,
    tableEncoderEvidence: true,
    tableEncoderBlocks: 1,
    tableEncoderDensity: true,
    tableKernelWidths: [0.125, 0.25, 0.5, 2],
    imageEncoderBlocks: 1,
    visibleReconWeight: 1,
    maskRatio: 0.25,
    tableMaskRatio: 0.34,
    tableMaxTokens: 64,
    knnK: 1,
    tableKnnK: 5,
    knnLevels: [0],
    knnPixels: false,
    knnPixelPatches: [4],
    knnContrastPatches: [4, 8],
    knnStandardPatches: [4, 8],
    knnTokenLayer: 0,
    knnNeighbourhood: 1,
    thresholdQuantile: 0.99,
    smoothMaps: false,
    chooseSmoothing: true,
    knnBankSize: 2000,
    cellPositionWeight: 4,
    poseJitter: oneWayAtATime({ along: [1, 2, 3], across: [0.5, 1], degrees: [1, 2] }),
    knnProjection: 64,
    pixelProjectionShare: 0.5,
    densityHead: true,
    isolationHead: true,
    isolationSample: 64,
    isolationTrees: 1000,
    tableLogSkewed: true,
    minComponentWeight: 0.05,
    separatingAuroc: 0.7,
    imageWeights: "equal",
    tableWeights: "separating",
    tableAgreementPower: 8,
    tableScale: "quartiles",
    tableOneSided: true,
    tableOneSidedTail: true,
    imageHeadEvidence: false,
    tableHeadEvidence: false,
    calibrateOnAllNormals: true,
  },
  train: {
    epochs: 10,
    batchSize: 16,
    tableBatchSize: 128,
    lr: 1e-3,
    weightDecay: 1e-4,
    seed: 0,
    valShare: 0.1,
    anomalyShare: 0.5,
    tableStepsPerImageStep: 1,
    tableStepsPerEpoch: 40,
    anomalyLossWeight: 1,
    clipNorm: 1,
    shards: 0,
    averageWeights: 0.7,
  },
};

/** A deep partial of Config, as read from `--config FILE.json`. */
export type ConfigOverrides = {
  model?: Partial<ModelConfig>;
  train?: Partial<TrainConfig>;
};

/**
 * Merges overrides into a copy of `base`, checking every key and type against the defaults.
 * `source` names the file in error messages.
 */
export function mergeConfig(
  base: Config,
  overrides: unknown,
  source = "config",
): Config {
  const merged = structuredClone(base);
  if (overrides === null || typeof overrides !== "object" || Array.isArray(overrides)) {
    throw new MadError(`${source}: expected a JSON object with "model" and/or "train"`);
  }
  for (const [section, values] of Object.entries(overrides)) {
    if (section !== "model" && section !== "train") {
      throw new MadError(`${source}: unknown key '${section}' (expected "model" or "train")`);
    }
    if (values === null || typeof values !== "object" || Array.isArray(values)) {
      throw new MadError(`${source}: '${section}' must be an object`);
    }
    const target = merged[section] as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (!Object.hasOwn(target, key)) {
        const near = closest(key, Object.keys(target));
        throw new MadError(
          `${source}: unknown key '${section}.${key}'${
            near ? ` (did you mean '${section}.${near}'?)` : ""
          }`,
        );
      }
      const expected = target[key];
      const ok = Array.isArray(expected)
        ? Array.isArray(value) && value.every((v) => typeof v === "number")
        : typeof value === typeof expected && (typeof value !== "number" || Number.isFinite(value));
      if (!ok) {
        const want = Array.isArray(expected) ? "an array of numbers" : `a ${typeof expected}`;
        throw new MadError(
          `${source}: '${section}.${key}' must be ${want}, got ${JSON.stringify(value)}`,
        );
      }
      target[key] = value;
    }
  }
  validateConfig(merged, source);
  return merged;
}

/** The candidate within edit distance 2 of `word` (case-insensitive), if any. */
function closest(word: string, candidates: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) {
        row[j] = Math.min(
          prev[j] + 1,
          row[j - 1] + 1,
          prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      }
      prev = row;
    }
    return prev[b.length];
  };
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Checks cross-field constraints; throws a one-line MadError naming the problem. */
export function validateConfig(config: Config, source = "config"): void {
  const m = config.model;
  const patch = m.stem.reduce((a, b) => a * b, 1);
  const fail = (msg: string) => {
    throw new MadError(`${source}: ${msg}`);
  };
  const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;
  for (
    const key of [
      "imageSize",
      "width",
      "layers",
      "heads",
      "mlpRatio",
      "knnK",
      "tableKnnK",
      "isolationTrees",
    ] as const
  ) {
    if (!positiveInt(m[key])) fail(`model.${key} must be a positive integer, got ${m[key]}`);
  }
  if (!positiveInt(m.knnBankSize)) fail(`model.knnBankSize must be a positive integer`);
  if (!(Number.isSafeInteger(m.tableMaxTokens) && m.tableMaxTokens >= 0)) {
    fail(
      `model.tableMaxTokens must be a non-negative integer (0: no limit), got ${m.tableMaxTokens}`,
    );
  }
  if (!(Number.isSafeInteger(m.knnProjection) && m.knnProjection >= 0)) {
    fail(`model.knnProjection must be a non-negative integer, got ${m.knnProjection}`);
  }
  if (m.stem.length === 0 || !m.stem.every(positiveInt)) {
    fail(`model.stem must be a non-empty list of positive integers`);
  }
  if (!m.stemChannels.every(positiveInt)) {
    fail(`model.stemChannels must be a list of positive integers`);
  }
  if (m.stem.length !== m.stemChannels.length + 1) {
    fail(`model.stem needs one more entry than model.stemChannels`);
  }
  for (const key of ["knnPixelPatches", "knnContrastPatches", "knnStandardPatches"] as const) {
    for (const side of m[key]) {
      if (!positiveInt(side) || m.imageSize % side !== 0) {
        fail(`model.${key}: ${side} does not divide imageSize ${m.imageSize}`);
      }
    }
  }
  if (m.imageSize % patch !== 0) {
    fail(`model.imageSize ${m.imageSize} is not a multiple of ${patch}`);
  }
  if (m.width % m.heads !== 0) fail(`model.width ${m.width} is not divisible by heads ${m.heads}`);
  if (!(m.maskRatio >= 0 && m.maskRatio < 1)) fail(`model.maskRatio must be in [0, 1)`);
  if (!(m.thresholdQuantile > 0 && m.thresholdQuantile <= 1)) {
    fail(`model.thresholdQuantile must be in (0, 1]`);
  }
  if (!(Number.isInteger(m.knnTokenLayer) && m.knnTokenLayer >= 0)) {
    fail(`model.knnTokenLayer must be a non-negative integer`);
  }
  for (const key of ["tableEncoderBlocks", "imageEncoderBlocks"] as const) {
    if (!(Number.isSafeInteger(m[key]) && m[key] >= 0)) {
      fail(`model.${key} must be a non-negative integer, got ${m[key]}`);
    }
  }
  const kernels = m.tableKernelWidths;
  if (
    kernels.length === 0 ||
    !kernels.every((f, i) => f > 0 && Number.isFinite(f) && (i === 0 || f > kernels[i - 1]))
  ) {
    fail(
      `model.tableKernelWidths must be positive numbers, narrowest first, got ` +
        `[${kernels.join(", ")}]`,
    );
  }
  if (!(m.minComponentWeight >= 0 && m.minComponentWeight < 1)) {
    fail(`model.minComponentWeight must be in [0, 1)`);
  }
  if (!(Number.isFinite(m.tableAgreementPower) && m.tableAgreementPower >= 0)) {
    fail(`model.tableAgreementPower must be a number >= 0, got ${m.tableAgreementPower}`);
  }
  if (!(m.separatingAuroc >= 0.5 && m.separatingAuroc <= 1)) {
    fail(`model.separatingAuroc must be in [0.5, 1], got ${m.separatingAuroc}`);
  }
  if (!(m.tableMaskRatio >= 0 && m.tableMaskRatio < 1)) {
    fail(`model.tableMaskRatio must be in [0, 1)`);
  }
  if (!(Number.isFinite(m.cellPositionWeight) && m.cellPositionWeight >= 0)) {
    fail(`model.cellPositionWeight must be a non-negative number, got ${m.cellPositionWeight}`);
  }
  if (m.poseJitter.length % 3 !== 0) {
    fail(
      `model.poseJitter must hold three numbers a pose (along, across, degrees), got ` +
        `${m.poseJitter.length}`,
    );
  }
  if (m.poseJitter.some((v, i) => Math.abs(v) > (i % 3 === 2 ? 45 : 32))) {
    fail(
      `model.poseJitter: shifts must be within 32 px (a quarter of a 128 px image) and turns ` +
        `within 45 degrees, got [${m.poseJitter.join(", ")}]`,
    );
  }
  if (!(m.pixelProjectionShare > 0 && m.pixelProjectionShare <= 1)) {
    fail(`model.pixelProjectionShare must be in (0, 1], got ${m.pixelProjectionShare}`);
  }
  if (!(MODALITY_EXPERTS as readonly string[]).includes(m.modalityExperts)) {
    fail(
      `model.modalityExperts must be one of ${
        MODALITY_EXPERTS.join(", ")
      }, got "${m.modalityExperts}"`,
    );
  }
  for (const key of ["imageWeights", "tableWeights"] as const) {
    if (!(COMPONENT_WEIGHTINGS as readonly string[]).includes(m[key])) {
      fail(`model.${key} must be one of ${COMPONENT_WEIGHTINGS.join(", ")}, got "${m[key]}"`);
    }
  }
  if (!(TABLE_SCALES as readonly string[]).includes(m.tableScale)) {
    fail(`model.tableScale must be one of ${TABLE_SCALES.join(", ")}, got "${m.tableScale}"`);
  }
  if (!(Number.isSafeInteger(m.isolationSample) && m.isolationSample >= 2)) {
    fail(`model.isolationSample must be an integer of at least 2, got ${m.isolationSample}`);
  }
  if (!EVIDENCE_SWITCHES.some((key) => m[key])) fail(`every head is turned off`);
  const t = config.train;
  for (const key of ["epochs", "batchSize", "tableBatchSize"] as const) {
    if (!Number.isInteger(t[key]) || t[key] < 1) fail(`train.${key} must be a positive integer`);
  }
  for (const key of ["tableStepsPerEpoch", "shards"] as const) {
    if (!Number.isSafeInteger(t[key]) || t[key] < 0) {
      fail(`train.${key} must be a non-negative integer`);
    }
  }
  if (!(Number.isFinite(t.tableStepsPerImageStep) && t.tableStepsPerImageStep >= 0)) {
    fail(`train.tableStepsPerImageStep must be a non-negative number`);
  }
  if (!(t.lr > 0)) fail(`train.lr must be positive`);
  if (!(t.valShare > 0 && t.valShare < 1)) fail(`train.valShare must be in (0, 1)`);
  if (!(t.anomalyShare >= 0 && t.anomalyShare <= 1)) fail(`train.anomalyShare must be in [0, 1]`);
  if (!(t.averageWeights >= 0 && t.averageWeights <= 1)) {
    fail(`train.averageWeights must be in [0, 1]`);
  }
  for (const key of ["weightDecay", "anomalyLossWeight", "clipNorm"] as const) {
    if (!(t[key] >= 0)) fail(`train.${key} must be zero or positive`);
  }
  if (!Number.isSafeInteger(t.seed)) fail(`train.seed must be an integer`);
}

/** Reads and merges a `--config` JSON file. */
export async function loadConfigFile(path: string, base = DEFAULT_CONFIG): Promise<Config> {
  return mergeConfig(base, await readConfigFile(path), path);
}

/**
 * The overrides a JSON config file holds, parsed but not yet checked (see
 * {@linkcode loadConfigFile}, which merges and checks them).
 *
 * @throws {MadError} `PATH: problem` when the file is missing, unreadable or not JSON.
 */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new MadError(
      `${path}: ${isNotFound(e) ? "config file not found" : "cannot read config file"}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new MadError(`${path}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  return parsed;
}

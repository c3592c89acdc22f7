/**
 * Datasets for fedmq: MNIST from IDX files, partitioners that split a dataset across
 * simulated clients (iid, shards, dirichlet), and a device's own CSV / NDJSON files read by
 * named columns (`loadDeviceData`: labels, feature columns, windows, held-out split, natural
 * `by:COLUMN` splits, federated feature statistics). See datasets/README.md.
 */
export { subset, labelHistogram, type Dataset } from './dataset.js';
export { DataFileError, DataRowError, IdxFormatError } from './errors.js';
export {
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  parseIdxImages,
  parseIdxImagesHeader,
  parseIdxLabels,
  type IdxImages,
  type IdxImageShape,
} from './idx.js';
export {
  loadMnist,
  loadMnistFrom,
  MNIST_CLASSES,
  MNIST_SHAPE,
  MNIST_TEST_COUNT,
  MNIST_TRAIN_COUNT,
  type MnistSplits,
} from './mnist.js';
export { parsePartition, formatPartition, PARTITION_USAGE, type PartitionSpec } from './partitionSpec.js';
export { partition } from './partition.js';
export { DIRICHLET_MAX_ATTEMPTS, DIRICHLET_MIN_SIZE, dirichletMinSize } from './dirichlet.js';
export {
  parseDataSource,
  loadDataSource,
  DEFAULT_NUM_DEVICES,
  type DataSource,
  type DataSourceOptions,
} from './dataSource.js';
export {
  parseDeviceDataOptions,
  defaultDeviceDataOptions,
  deviceDataSpecs,
  DEFAULT_LABEL_COLUMN,
  DEFAULT_WINDOW,
  DEFAULT_STRIDE,
  DEFAULT_DELIMITER,
  DEFAULT_HOLDOUT,
  DEFAULT_HOLDOUT_SEED,
  MAX_CLASSES,
  MAX_WINDOW,
  type DeviceDataOptions,
  type DeviceDataConfig,
  type DeviceDataSpecs,
  type TargetKind,
  type DataFormat,
  type HoldoutBy,
} from './deviceDataOptions.js';
export {
  loadDeviceData,
  withExamples,
  gatherExamples,
  pickExamples,
  toDataset,
  type DeviceData,
  type DeviceTarget,
  type Readings,
  type Sequence,
} from './deviceData.js';
export { parseStrictNumber, sortIds } from './fields.js';
export { splitHoldout, readingsOf, type HoldoutSplit } from './holdout.js';
export {
  featureMoments,
  combineMoments,
  featureStatistics,
  standardize,
  type FeatureMoments,
  type FeatureStatistics,
} from './featureStats.js';
export {
  parseNaturalPartition,
  formatNaturalPartition,
  isNaturalPartition,
  splitByGroup,
  NATURAL_PARTITION_USAGE,
  type NaturalPartition,
  type GroupData,
} from './naturalSplit.js';
export { deviceExamples, datasetExamples, type DeviceExamples, type Examples } from './deviceExamples.js';
export { taskMismatch, assertTaskFits, type DataShape } from './taskFit.js';

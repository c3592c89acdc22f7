/**
 * Datasets for fedmq: MNIST from IDX files, partitioners that split a dataset across
 * simulated clients (iid, shards, dirichlet), and local CSV / NDJSON files for real devices.
 */
export { subset, labelHistogram, type Dataset } from './dataset.js';
export { DataFileError, IdxFormatError } from './errors.js';
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
  MNIST_TEST_COUNT,
  MNIST_TRAIN_COUNT,
  type MnistSplits,
} from './mnist.js';
export { parsePartition, formatPartition, PARTITION_USAGE, type PartitionSpec } from './partitionSpec.js';
export { partition } from './partition.js';
export { DIRICHLET_MAX_ATTEMPTS, DIRICHLET_MIN_SIZE, dirichletMinSize } from './dirichlet.js';
export { loadLocalFile, localFileFormat, type LocalFileFormat } from './localFile.js';
export {
  parseDataSource,
  loadDataSource,
  DEFAULT_NUM_DEVICES,
  type DataSource,
  type DataSourceOptions,
} from './dataSource.js';

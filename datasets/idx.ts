import { IdxFormatError } from './errors.js';

/**
 * Readers for the IDX format of LeCun et al.'s MNIST distribution: a big-endian uint32
 * magic (0x00000803 = unsigned bytes, 3 dimensions, for images; 0x00000801 for labels),
 * one big-endian uint32 per dimension, then the raw bytes.
 */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export const IDX_IMAGES_HEADER_BYTES = 16;
export const IDX_LABELS_HEADER_BYTES = 8;

export interface IdxImageShape {
  count: number;
  rows: number;
  cols: number;
}

export interface IdxImages extends IdxImageShape {
  /** `count * rows * cols` raw pixel bytes (a view on the input, not a copy). */
  pixels: Uint8Array;
}

/** Validates the 16-byte header of an images file of `fileBytes` bytes, so the pixels can be read straight to their destination. */
export function parseIdxImagesHeader(head: Uint8Array, fileBytes: number, path: string): IdxImageShape {
  const view = header(head, path, IDX_IMAGES_HEADER_BYTES, IDX_IMAGES_MAGIC, 'images');
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  const expected = IDX_IMAGES_HEADER_BYTES + count * rows * cols;
  if (fileBytes !== expected) {
    throw new IdxFormatError(path, `${count} images of ${rows}x${cols} need ${expected} bytes, the file has ${fileBytes}`);
  }
  return { count, rows, cols };
}

export function parseIdxImages(buf: Uint8Array, path: string): IdxImages {
  const shape = parseIdxImagesHeader(buf, buf.byteLength, path);
  return { ...shape, pixels: buf.subarray(IDX_IMAGES_HEADER_BYTES) };
}

export function parseIdxLabels(buf: Uint8Array, path: string): Uint8Array {
  const view = header(buf, path, IDX_LABELS_HEADER_BYTES, IDX_LABELS_MAGIC, 'labels');
  const count = view.getUint32(4);
  const expected = IDX_LABELS_HEADER_BYTES + count;
  if (buf.byteLength !== expected) {
    throw new IdxFormatError(path, `${count} labels need ${expected} bytes, the file has ${buf.byteLength}`);
  }
  return buf.subarray(IDX_LABELS_HEADER_BYTES);
}

function header(buf: Uint8Array, path: string, size: number, magic: number, what: string): DataView {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const found = buf.byteLength >= 4 ? view.getUint32(0) : null;
  if (found !== magic) {
    throw new IdxFormatError(path, `bad magic number ${found ?? '(none)'}, expected ${magic} (IDX ${what})`);
  }
  if (buf.byteLength < size) throw new IdxFormatError(path, `too short for an IDX ${what} header (${buf.byteLength} bytes)`);
  return view;
}

import { OptionsError } from '../protocol/errors.js';
import { withExamples, type DeviceData, type Readings } from './deviceData.js';

/** `by:COLUMN`: each distinct value of COLUMN is one device (a real fleet's own split). */
export interface NaturalPartition {
  kind: 'by';
  column: string;
}

export const NATURAL_PARTITION_USAGE = "'by:COLUMN' (COLUMN names the device or user id column)";

/** Whether a `--partition` value is a natural split; lets a parser try it before the seeded kinds. */
export function isNaturalPartition(spec: string): boolean {
  return spec.trim().startsWith('by:');
}

/** Parses `by:COLUMN`; throws `OptionsError('partition', ...)` otherwise. */
export function parseNaturalPartition(spec: string): NaturalPartition {
  const text = spec.trim();
  if (!text.startsWith('by:')) throw new OptionsError('partition', `'${spec}': expected ${NATURAL_PARTITION_USAGE}`);
  const column = text.slice('by:'.length).trim();
  if (column === '') throw new OptionsError('partition', `'${spec}': no column named; expected ${NATURAL_PARTITION_USAGE}`);
  return { kind: 'by', column };
}

export function formatNaturalPartition(partition: NaturalPartition): string {
  return `by:${partition.column}`;
}

/** One device's share of a natural split. */
export interface GroupData {
  /** The group column's value. */
  id: string;
  data: DeviceData;
}

/**
 * One dataset per value of the group column, in `data.groups` order (numeric ids ascending,
 * others by code units), with the same windows as the whole. Load with `groupBy` set to the
 * partition's column; a group with too few readings for one window is left out.
 */
export function splitByGroup(data: DeviceData): GroupData[] {
  if (data.groups.length === 0) throw new RangeError('splitByGroup: the data has no group column (load it with groupBy)');
  const features = data.featureNames.length;
  const out: GroupData[] = [];
  data.groups.forEach((id, group) => {
    const own = data.sequences.filter((s) => s.group === group);
    const first = own[0];
    const last = own[own.length - 1];
    if (first === undefined || last === undefined) return;
    // Readings are grouped by group, so a group's readings are one contiguous range.
    const from = first.start;
    const to = last.end;
    const readings: Readings = {
      readings: data.readings.slice(from * features, to * features),
      readingCount: to - from,
      featureNames: data.featureNames,
      readingTargets: data.readingTargets.slice(from, to),
      target: data.target,
      groups: [id],
      sequences: own.map((s) => ({ group: 0, file: s.file, start: s.start - from, end: s.end - from })),
    };
    if (!readings.sequences.some((s) => s.end - s.start >= data.window)) return;
    out.push({ id, data: withExamples(readings, data.window, data.stride) });
  });
  return out;
}

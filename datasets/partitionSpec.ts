import { OptionsError } from '../protocol/errors.js';

/** How a dataset is split across clients; see `partition()`. */
export type PartitionSpec =
  | { kind: 'iid' }
  /** McMahan et al. 2017: label-sorted shards, `perClient` shards per client. */
  | { kind: 'shards'; perClient: number }
  /** Hsu et al. 2019: per-class proportions from Dir(alpha); small alpha, strong skew. */
  | { kind: 'dirichlet'; alpha: number };

export const PARTITION_USAGE = "'iid', 'shards:K' (K a positive integer) or 'dirichlet:ALPHA' (ALPHA a positive number)";

const POSITIVE_INTEGER = /^[1-9]\d*$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Parses 'iid' | 'shards:K' | 'dirichlet:ALPHA'; throws `OptionsError('partition', ...)` otherwise. */
export function parsePartition(spec: string): PartitionSpec {
  const text = spec.trim();
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? undefined : text.slice(colon + 1);
  switch (kind) {
    case 'iid':
      if (arg !== undefined) throw bad(spec, "'iid' takes no parameter");
      return { kind: 'iid' };
    case 'shards': {
      if (arg === undefined || !POSITIVE_INTEGER.test(arg)) throw bad(spec, 'shards per client must be a positive integer');
      const perClient = Number(arg);
      if (!Number.isSafeInteger(perClient)) throw bad(spec, 'shards per client is too large');
      return { kind: 'shards', perClient };
    }
    case 'dirichlet': {
      const alpha = arg !== undefined && DECIMAL.test(arg) ? Number(arg) : NaN;
      if (!(alpha > 0 && Number.isFinite(alpha))) throw bad(spec, 'alpha must be a positive finite number');
      return { kind: 'dirichlet', alpha };
    }
    default:
      throw bad(spec, `unknown partition '${kind}'`);
  }
}

/** The inverse of `parsePartition`. */
export function formatPartition(spec: PartitionSpec): string {
  switch (spec.kind) {
    case 'iid':
      return 'iid';
    case 'shards':
      return `shards:${spec.perClient}`;
    case 'dirichlet':
      return `dirichlet:${spec.alpha}`;
  }
}

function bad(spec: string, why: string): OptionsError {
  return new OptionsError('partition', `'${spec}': ${why}; expected ${PARTITION_USAGE}`);
}

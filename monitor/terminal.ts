import { formatBytes, formatDuration, formatRate, progressBar, sparkline } from './format.js';
import { printableDeep } from './printable.js';
import type { MonitorSnapshot } from './state.js';
import { TOPIC_FAMILIES } from './traffic.js';

export interface TerminalOptions {
  /** Columns available. @default 100 */
  width?: number;
  /** Rows available; the device list is cut to fit. @default Infinity */
  height?: number;
  /** ANSI colours. @default false */
  color?: boolean;
}

const ANSI = { bold: '\x1b[1m', dim: '\x1b[2m', green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', cyan: '\x1b[36m', reset: '\x1b[0m' };
type Style = keyof typeof ANSI;

/**
 * Lines of the terminal view of one snapshot; a pure function, so it can be tested and piped.
 * Every string of the snapshot came from the network: control characters in it are shown as
 * escapes (`\x1b`), so the only ones written are the view's own colours.
 */
export function renderTerminal(snapshot: MonitorSnapshot, options: TerminalOptions = {}): string[] {
  const s = printableDeep(snapshot);
  const width = options.width ?? 100;
  const paint = (style: Style, text: string): string => (options.color ? `${ANSI[style]}${text}${ANSI.reset}` : text);
  const lines: string[] = [];

  const conn = s.connection;
  const connText = conn.state === 'connected' ? paint('green', 'connected') : paint('red', conn.state + (conn.error ? ` (${conn.error})` : ''));
  lines.push(`${paint('bold', 'fedmq monitor')}  fleet ${s.fleet}  ${conn.url}  ${connText}  ${new Date(s.ts).toISOString().slice(11, 19)}`);
  const t = s.task;
  const g = s.global;
  lines.push(
    (t ? `task   ${t.model}  ${t.paramCount.toLocaleString('en-US')} params  codec ${t.codec}  downlink ${t.downlink}` : 'task   (none yet)') +
      (g ? `   global v${g.version} (round ${g.round}, ${g.codec}) ${formatBytes(g.bytes)}` : ''),
  );
  lines.push('');

  const r = s.round;
  if (r) {
    const state = r.closed ? paint('dim', 'closed') : `deadline in ${formatDuration(r.remainingMs)}`;
    const rejected = r.rejected > 0
      ? `  ${paint('red', `rejected ${r.rejected}`)} (${Object.entries(r.rejectedByReason).map(([k, v]) => `${k}:${v}`).join(', ')}; ${r.rejectionsFrom})`
      : '  rejected 0';
    lines.push(`${paint('bold', r.mode === 'async' ? `Global ${r.round} (async, ${r.pending.length} training)` : `Round ${r.round}`)}  updates ${r.received}/${r.expected} ${progressBar(r.received, r.expected, 20)}  ${state}${rejected}${r.joinedLate ? paint('dim', '  (joined late)') : ''}`);
    lines.push(`       E=${r.epochs} B=${r.batchSize} lr=${r.lr} codec ${r.codec}  up ${formatBytes(r.bytesUp)}${r.pending.length > 0 && !r.closed ? `  waiting for ${list(r.pending, 6)}` : ''}`);
  } else {
    lines.push(`${paint('bold', 'Round')} (none yet)`);
  }
  const h = s.history;
  const last = h[h.length - 1];
  const spark = Math.max(10, Math.min(40, Math.floor((width - 50) / 2)));
  if (last) {
    lines.push(
      `Accuracy ${paint('cyan', sparkline(h.map((e) => e.accuracy), spark).padEnd(Math.min(spark, h.length)))} ${last.accuracy.toFixed(4)}` +
        `   Loss ${paint('yellow', sparkline(h.map((e) => e.loss), spark).padEnd(Math.min(spark, h.length)))} ${last.loss.toFixed(4)}` +
        `   (round ${last.round}, ${last.accepted}/${last.participants} accepted, ${formatDuration(last.wallMs)})`,
    );
  } else {
    lines.push('Accuracy (no round closed yet)');
  }
  lines.push('');

  const d = s.devices;
  lines.push(
    `${paint('bold', 'Devices')} ${d.total}: ${paint('green', `${d.online} online`)}, ${paint('yellow', `${d.training} training`)}, ${paint('dim', `${d.offline} offline`)}` +
      (d.unknown > 0 ? `, ${d.unknown} without status` : ''),
  );
  const trafficRows = TOPIC_FAMILIES.filter((f) => s.traffic[f]).length + 2;
  const room = Math.max(3, (options.height ?? Infinity) - lines.length - trafficRows - 6);
  const shown = d.list.slice(0, room);
  lines.push(paint('dim', `  ${'ID'.padEnd(20)} ${'STATE'.padEnd(9)} ${'LAST SEEN'.padStart(10)} ${'BACKEND'.padEnd(10)} ${'LAST UPDATE'.padStart(11)} ${'ROUND'.padStart(5)} ${'TRAIN ACC'.padStart(9)}`));
  for (const dev of shown) {
    const color: Style = dev.state === 'online' ? 'green' : dev.state === 'training' ? 'yellow' : 'dim';
    lines.push(
      `  ${dev.id.padEnd(20)} ${paint(color, dev.state.padEnd(9))} ${formatDuration(s.ts - dev.lastSeen).padStart(10)} ${(dev.backend ?? '-').padEnd(10)} ` +
        `${(dev.lastUpdateBytes === undefined ? '-' : formatBytes(dev.lastUpdateBytes)).padStart(11)} ${String(dev.lastUpdateRound ?? '-').padStart(5)} ` +
        `${(dev.trainAccuracy === undefined ? '-' : dev.trainAccuracy.toFixed(4)).padStart(9)}`,
    );
  }
  if (d.list.length > shown.length) lines.push(paint('dim', `  ... and ${d.list.length - shown.length} more`));
  lines.push('');

  lines.push(paint('bold', 'Traffic') + paint('dim', ` (rates over the last 10 s)`));
  lines.push(paint('dim', `  ${'TOPIC'.padEnd(14)} ${'MSG/S'.padStart(8)} ${'BYTES/S'.padStart(12)} ${'MESSAGES'.padStart(9)} ${'BYTES'.padStart(10)}`));
  for (const family of [...TOPIC_FAMILIES, 'total']) {
    const row = s.traffic[family];
    if (!row) continue;
    lines.push(
      `  ${family.padEnd(14)} ${formatRate(row.messagesPerSec, 'msg').padStart(8)} ${formatRate(row.bytesPerSec, 'bytes').padStart(12)} ` +
        `${String(row.messages).padStart(9)} ${formatBytes(row.bytes).padStart(10)}`,
    );
  }
  const b = s.broker;
  const sys =
    b.sys === 'denied' ? '$SYS refused by the broker'
      : b.sys === 'pending' ? '$SYS pending'
        : `${b.brokerId ? `aedes ${b.brokerId.slice(0, 8)}` : '$SYS'}: ${b.connects} connects, ${b.disconnects} disconnects since attach` +
          (b.lastHeartbeat ? `, heartbeat ${formatDuration(s.ts - b.lastHeartbeat)} ago` : '') +
          (b.values['$SYS/broker/clients/connected'] ? `, ${b.values['$SYS/broker/clients/connected']} clients connected` : '');
  lines.push(`${paint('bold', 'Broker')}  ${sys}${s.invalid.count > 0 ? `   ${paint('red', `${s.invalid.count} invalid messages`)} (last: ${s.invalid.last?.topic}: ${s.invalid.last?.error})` : ''}`);
  return lines.map((line) => clip(line, width, options.color === true));
}

function list(ids: string[], max: number): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} +${ids.length - max}`;
}

// SGR sequences (ESC [ ... m): the only control characters the view writes.
// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
// eslint-disable-next-line no-control-regex
const SGR_AT_START = /^\x1b\[[0-9;]*m/;

/** Cuts a line to `width` visible characters, keeping ANSI sequences intact. */
function clip(line: string, width: number, color: boolean): string {
  const visible = color ? line.replace(SGR, '') : line;
  if ([...visible].length <= width) return line;
  if (!color) return [...line].slice(0, width - 1).join('') + '…';
  let out = '';
  let count = 0;
  for (let i = 0; i < line.length; i++) {
    const m = SGR_AT_START.exec(line.slice(i));
    if (m) {
      out += m[0];
      i += m[0].length - 1;
      continue;
    }
    if (count >= width - 1) break;
    out += line[i];
    count += 1;
  }
  return `${out}…${ANSI.reset}`;
}

/**
 * What changed enough to print again when stdout is not a terminal: rounds, counts, states.
 * Countdowns and rates are left out, so a pipe gets a frame per event, not per second.
 */
export function frameSignature(s: MonitorSnapshot): string {
  const r = s.round;
  return JSON.stringify([
    s.connection.state, s.broker.sys, s.task?.model, s.global?.version,
    r && [r.round, r.received, r.rejected, r.closed],
    s.history.length,
    s.devices.list.map((d) => [d.id, d.state, d.lastUpdateRound]),
    s.invalid.count,
  ]);
}

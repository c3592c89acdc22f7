import { formatResources } from './devices.js';
import { deviceEvaluation, deviceMetricName, evaluationRows, formatMetric } from './evaluation.js';
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
    (t ? `task   ${t.model} ${taskShape(t)}  ${t.paramCount.toLocaleString('en-US')} params  codec ${t.codec}  downlink ${t.downlink}` : 'task   (none yet)') +
      (g ? `   global v${g.version} (round ${g.round}, ${g.codec}) ${formatBytes(g.bytes)}` : ''),
  );
  const sig = s.signatures;
  if (sig.state !== null) lines.push(signatureLine(sig, paint));
  lines.push('');

  const r = s.round;
  const ph = s.phase;
  if (r) {
    const evaluating = ph?.kind === 'evaluate' && ph.round === r.round && r.mode === 'sync';
    const state = r.closed ? paint('dim', 'closed') : evaluating ? paint('dim', 'collected') : `deadline in ${formatDuration(r.remainingMs)}`;
    const rejected = r.rejected > 0
      ? `  ${paint('red', `rejected ${r.rejected}`)} (${Object.entries(r.rejectedByReason).map(([k, v]) => `${k}:${v}`).join(', ')}; ${r.rejectionsFrom})`
      : '  rejected 0';
    lines.push(`${paint('bold', r.mode === 'async' ? `Global ${r.round} (async, ${r.pending.length} training)` : `Round ${r.round}`)}  updates ${r.received}/${r.expected} ${progressBar(r.received, r.expected, 20)}  ${state}${rejected}${r.joinedLate ? paint('dim', '  (joined late)') : ''}`);
    lines.push(`       E=${r.epochs} B=${r.batchSize} lr=${r.lr} codec ${r.codec}  up ${formatBytes(r.bytesUp)}${r.pending.length > 0 && !r.closed && !evaluating ? `  waiting for ${list(r.pending, 6)}` : ''}`);
  } else if (!ph) {
    lines.push(`${paint('bold', 'Round')} (none yet)`);
  }
  if (ph) {
    // A phase of the round, not a training round of its own.
    const what = ph.kind === 'evaluate' ? `Round ${ph.round}: evaluating on ${ph.expected} devices` : `Statistics: ${ph.expected} devices`;
    const state = ph.done ? paint('dim', 'done') : `deadline in ${formatDuration(ph.remainingMs)}`;
    lines.push(
      `${paint('bold', what)}  ${ph.kind === 'evaluate' ? `global v${ph.globalVersion}  ` : ''}${ph.received}/${ph.expected} ${progressBar(ph.received, ph.expected, 10)}  ${state}` +
        `${ph.pending.length > 0 && !ph.done ? `  waiting for ${list(ph.pending, 6)}` : ''}${ph.joinedLate ? paint('dim', '  (joined late)') : ''}`,
    );
  }
  const h = s.history;
  const last = h[h.length - 1];
  const spark = Math.max(10, Math.min(40, Math.floor((width - 50) / 2)));
  if (last) {
    // NaN: a task without accuracy (regression), or nothing evaluated the global.
    lines.push(
      `Accuracy ${paint('cyan', sparkline(h.map((e) => e.accuracy), spark).padEnd(Math.min(spark, h.length)))} ${formatMetric(last.accuracy)}` +
        `   Loss ${paint('yellow', sparkline(h.map((e) => e.loss), spark).padEnd(Math.min(spark, h.length)))} ${formatMetric(last.loss)}` +
        `   (round ${last.round}, ${last.accepted}/${last.participants} accepted, ${formatDuration(last.wallMs)})`,
    );
  } else {
    lines.push('Accuracy (no round closed yet)');
  }
  const p = s.privacy;
  if (p) {
    const budget = p.budget === undefined ? '' : `  budget ${p.budget} ${progressBar(p.epsilon, p.budget, 10)}`;
    lines.push(
      `${paint('bold', 'Privacy')}  epsilon ${p.epsilon.toFixed(3)} at delta ${p.delta}${budget}` +
        `   (${p.mode} DP, z ${p.noiseMultiplier}, clip ${formatMetric(p.clip)}, ${p.rounds} round${p.rounds === 1 ? '' : 's'} accounted, as of round ${p.round})`,
    );
  } else if (t?.dp) {
    lines.push(`${paint('bold', 'Privacy')}  local DP on the devices: z ${t.dp.noiseMultiplier}, clip ${t.dp.clip}`);
  }
  const ev = s.evaluation;
  if (ev) {
    const f = ev.federated;
    lines.push(
      `${paint('bold', 'Evaluation')} round ${ev.round}` +
        (f ? `: global v${f.globalVersion} on ${f.devices} devices, ${f.count.toLocaleString('en-US')} held-out examples` : ': central only'),
    );
    lines.push(paint('dim', `  ${'METRIC'.padEnd(20)} ${'FLEET'.padStart(9)} ${'MIN'.padStart(9)} ${'MEDIAN'.padStart(9)} ${'MAX'.padStart(9)} ${'CENTRAL'.padStart(9)}`));
    for (const row of evaluationRows(ev)) {
      lines.push(`  ${cut(row.metric, 20).padEnd(20)} ${[row.federated, row.min, row.median, row.max, row.central].map((v) => formatMetric(v).padStart(9)).join(' ')}`);
    }
  }
  lines.push('');

  const d = s.devices;
  lines.push(
    `${paint('bold', 'Devices')} ${d.total}: ${paint('green', `${d.online} online`)}, ${paint('yellow', `${d.training} training`)}, ` +
      (d.busy > 0 ? `${paint('cyan', `${d.busy} busy`)}, ` : '') + paint('dim', `${d.offline} offline`) +
      (d.unknown > 0 ? `, ${d.unknown} without status` : ''),
  );
  const trafficRows = TOPIC_FAMILIES.filter((f) => s.traffic[f]).length + 2;
  const room = Math.max(3, (options.height ?? Infinity) - lines.length - trafficRows - 6);
  const shown = d.list.slice(0, room);
  // Each device's last evaluation, once any device evaluated: its loss and the task's main metric.
  const metric = deviceMetricName(d.list, t?.task.metrics);
  // What devices can spare (power, temperature, load, memory), once any reports it: last, so a narrow terminal cuts it first.
  const resources = d.list.some((dev) => dev.resources !== undefined);
  lines.push(paint('dim', `  ${'ID'.padEnd(18)} ${'STATE'.padEnd(9)} ${'LAST SEEN'.padStart(9)} ${'BACKEND'.padEnd(10)} ${'LAST UPDATE'.padStart(11)} ${'ROUND'.padStart(5)} ${'TRAIN ACC'.padStart(9)}` +
    (metric !== undefined ? ` ${'EVAL LOSS'.padStart(9)} ${cut(metric, 9).toUpperCase().padStart(9)}` : '') + (resources ? '  RESOURCES' : '')));
  for (const dev of shown) {
    const color: Style = dev.state === 'online' ? 'green' : dev.state === 'training' ? 'yellow' : dev.state === 'busy' ? 'cyan' : 'dim';
    const evaluation = deviceEvaluation(dev, metric);
    lines.push(
      `  ${dev.id.padEnd(18)} ${paint(color, dev.state.padEnd(9))} ${formatDuration(s.ts - dev.lastSeen).padStart(9)} ${(dev.backend ?? '-').padEnd(10)} ` +
        `${(dev.lastUpdateBytes === undefined ? '-' : formatBytes(dev.lastUpdateBytes)).padStart(11)} ${String(dev.lastUpdateRound ?? '-').padStart(5)} ` +
        `${formatMetric(dev.trainAccuracy).padStart(9)}` +
        (metric !== undefined ? ` ${formatMetric(evaluation.loss).padStart(9)} ${formatMetric(evaluation.metric).padStart(9)}` : '') +
        (resources ? `  ${formatResources(dev.resources)}` : ''),
    );
    // Why a busy device declines work (its --train-when rules that fail), under its row.
    if (dev.state === 'busy' && dev.reason !== undefined) lines.push(paint('cyan', `    busy: ${dev.reason}`));
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

/** The task's input shape and output: `[28x28x1] -> 10 classes`. */
function taskShape(t: NonNullable<MonitorSnapshot['task']>): string {
  const o = t.task.output;
  const out = o.kind === 'classes' ? `${o.classes} classes` : o.kind === 'binary' ? 'binary' : `${o.outputs} regression output${o.outputs === 1 ? '' : 's'}`;
  return `[${t.task.input.shape.join('x')}] -> ${out}`;
}

/** At most `max` characters, the last one an ellipsis when cut. */
function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
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
    s.phase && [s.phase.kind, s.phase.round, s.phase.received, s.phase.done],
    s.history.length,
    s.devices.list.map((d) => [d.id, d.state, d.reason, d.lastUpdateRound, d.evalRound]),
    s.invalid.count,
  ]);
}

/** `signed  verified by key 0123...  task verified  global verified  round verified`: whether the fleet's messages verify. */
function signatureLine(sig: MonitorSnapshot['signatures'], paint: (style: Style, text: string) => string): string {
  const color = (state: string): string => paint(state === 'verified' ? 'green' : state === 'unverified' ? 'yellow' : 'red', state);
  const who = sig.trustedKey ? ` (key ${sig.trustedKey})` : sig.note ? ` (${sig.note})` : '';
  const kinds = Object.entries(sig.byKind).map(([kind, k]) => `${kind} ${color(k.state)}${k.key && k.key !== sig.trustedKey ? ` by ${k.key}` : ''}`).join('  ');
  return `signed ${color(sig.state ?? 'unsigned')}${who}  ${kinds}${sig.counts.failed > 0 ? paint('red', `  ${sig.counts.failed} failed`) : ''}`;
}

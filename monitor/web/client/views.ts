import { formatResources } from '../../devices.js';
import { printable } from '../../printable.js';
import { deviceEvaluation, deviceMetricName, evaluationRows, formatMetric } from '../../evaluation.js';
import { formatBytes, formatDuration, formatRate } from '../../format.js';
import type { MonitorSnapshot } from '../../state.js';
import { TOPIC_FAMILIES } from '../../traffic.js';

/** Rows drawn at most; a fleet of thousands shows the first ones and a count. */
const MAX_DEVICE_ROWS = 500;

export function byId<T extends HTMLElement = HTMLElement>(doc: Document, id: string): T {
  const el = doc.getElementById(id);
  if (!el) throw new Error(`dashboard page has no #${id}`);
  return el as T;
}

function setText(doc: Document, id: string, text: string): void {
  const el = byId(doc, id);
  if (el.textContent !== text) el.textContent = text;
}

/** A table row of text cells; `num` columns are right-aligned. Text only: nothing from the network becomes markup. */
export function row(doc: Document, cells: (string | { text: string; className: string })[], numeric: ReadonlySet<number>): HTMLTableRowElement {
  const tr = doc.createElement('tr');
  cells.forEach((cell, i) => {
    const td = doc.createElement('td');
    const { text, className } = typeof cell === 'string' ? { text: cell, className: '' } : cell;
    td.textContent = text;
    td.className = [className, numeric.has(i) ? 'num' : ''].filter(Boolean).join(' ');
    tr.append(td);
  });
  return tr;
}

/** Header, cards, device table, traffic and broker panels from one snapshot. */
export function renderSummary(doc: Document, s: MonitorSnapshot): void {
  setText(doc, 'fleet', s.fleet);
  setText(doc, 'broker-url', s.connection.url);
  const badge = byId(doc, 'connection');
  badge.className = `badge ${s.connection.state}`;
  setText(doc, 'connection', s.connection.state + (s.connection.error && s.connection.state !== 'connected' ? `: ${s.connection.error}` : ''));
  setText(doc, 'clock', new Date(s.ts).toLocaleTimeString());
  const t = s.task;
  setText(doc, 'task', t ? `${t.model}, ${t.paramCount.toLocaleString()} params, codec ${t.codec}, downlink ${t.downlink}` + (s.global ? `, global v${s.global.version} ${formatBytes(s.global.bytes)}` : '') + signatureText(s.signatures) : '');

  const r = s.round;
  const ph = s.phase;
  // An evaluate or statistics round message is a phase of the round, shown in its card; its countdown replaces the round's.
  const phase = ph && (ph.kind === 'evaluate' ? `round ${ph.round}: evaluating on ${ph.expected} devices (${ph.received} / ${ph.expected}${ph.done ? ', done' : ''})` : `statistics: ${ph.expected} devices (${ph.received} / ${ph.expected}${ph.done ? ', done' : ''})`);
  const phaseOpen = ph !== null && !ph.done;
  setText(doc, 'kpi-round', r ? String(r.round) : '–');
  setText(
    doc,
    'kpi-round-detail',
    (r ? `${r.closed ? 'closed' : 'open'} · E=${r.epochs} B=${r.batchSize} lr=${r.lr} · ${r.codec}${r.joinedLate ? ' · joined late' : ''}` : phase ? '' : 'waiting for a round') +
      (phase ? `${r ? ' · ' : ''}${phase}` : ''),
  );
  setText(doc, 'kpi-updates', r ? `${r.received} / ${r.expected}` : '–');
  byId(doc, 'kpi-updates-bar').style.width = r && r.expected > 0 ? `${Math.min(100, (100 * r.received) / r.expected)}%` : '0';
  setText(doc, 'kpi-deadline', phaseOpen ? formatDuration(ph.remainingMs) : r ? (r.closed ? 'closed' : formatDuration(r.remainingMs)) : '–');
  setText(doc, 'kpi-deadline-detail', phaseOpen ? `${ph.kind === 'evaluate' ? 'evaluation' : 'statistics'} · ${new Date(ph.deadline).toLocaleTimeString()}` : r ? new Date(r.deadline).toLocaleTimeString() : '');
  const last = s.history[s.history.length - 1];
  // NaN: no accuracy (a regression task) or nothing evaluated.
  setText(doc, 'kpi-accuracy', last ? formatMetric(last.accuracy, '–') : '–');
  setText(doc, 'kpi-loss', last ? `loss ${formatMetric(last.loss, '–')} · round ${last.round}` : 'no round closed yet');
  renderEvaluation(doc, s);
  const d = s.devices;
  setText(doc, 'kpi-devices', String(d.total));
  setText(doc, 'kpi-devices-detail', `${d.online} online · ${d.training} training · ${d.busy > 0 ? `${d.busy} busy · ` : ''}${d.offline} offline`);
  setText(doc, 'kpi-rejected', r ? String(r.rejected) : '–');
  setText(doc, 'kpi-rejected-detail', r && r.rejected > 0 ? `${Object.entries(r.rejectedByReason).map(([k, v]) => `${k} ${v}`).join(' · ')} (${r.rejectionsFrom})` : 'this round');

  const table = byId<HTMLTableElement>(doc, 'devices');
  addResourcesHeader(doc, table);
  const devices = table.tBodies[0]!;
  const numeric = new Set([3, 5, 6, 7, 8, 9, 10, 11]);
  const metric = deviceMetricName(d.list, t?.task.metrics);
  setText(doc, 'devices-eval-metric', `Eval ${metric ?? 'metric'}`);
  devices.replaceChildren(
    ...d.list.slice(0, MAX_DEVICE_ROWS).map((dev) => {
      const evaluation = deviceEvaluation(dev, metric);
      const tr = row(doc, [
        dev.id,
        // A busy device says why: the rules of its --train-when that fail (text from the network: control and bidi characters shown escaped).
        { text: dev.state === 'busy' && dev.reason !== undefined ? `busy: ${printable(dev.reason)}` : dev.state, className: `state-${dev.state}` },
        formatResources(dev.resources).replace(/^-$/, '–'),
        formatDuration(s.ts - dev.lastSeen),
        dev.backend ?? '–',
        dev.samples === undefined ? '–' : dev.samples.toLocaleString(),
        dev.lastUpdateBytes === undefined ? '–' : formatBytes(dev.lastUpdateBytes),
        String(dev.lastUpdateRound ?? '–'),
        formatMetric(dev.trainAccuracy, '–'),
        dev.trainMs === undefined ? '–' : formatDuration(dev.trainMs),
        formatMetric(evaluation.loss, '–'),
        formatMetric(evaluation.metric, '–'),
      ], numeric);
      tr.dataset.device = dev.id;
      tr.dataset.state = dev.state;
      return tr;
    }),
  );
  setText(doc, 'devices-more', d.list.length > MAX_DEVICE_ROWS ? `… and ${d.list.length - MAX_DEVICE_ROWS} more` : '');

  const traffic = byId<HTMLTableElement>(doc, 'traffic').tBodies[0]!;
  traffic.replaceChildren(
    ...[...TOPIC_FAMILIES, 'total'].flatMap((family) => {
      const t = s.traffic[family];
      if (!t) return [];
      return [row(doc, [family, formatRate(t.messagesPerSec, 'msg'), formatRate(t.bytesPerSec, 'bytes'), String(t.messages), formatBytes(t.bytes)], new Set([1, 2, 3, 4]))];
    }),
  );

  const b = s.broker;
  setText(
    doc,
    'broker',
    b.sys === 'denied' ? 'the broker refused $SYS/#'
      : b.sys === 'pending' ? 'waiting for $SYS'
        : `${b.brokerId ? `Aedes ${b.brokerId}` : '$SYS'} · ${b.connects} connects and ${b.disconnects} disconnects since this page opened` +
          (b.lastHeartbeat ? ` · heartbeat ${formatDuration(s.ts - b.lastHeartbeat)} ago` : '') +
          (s.invalid.count > 0 ? ` · ${s.invalid.count} invalid messages (last on ${s.invalid.last?.topic}: ${s.invalid.last?.error})` : ''),
  );
}

/** The devices table's Resources column header (after State): index.html has it; a page saved from an older dashboard gets it once. */
function addResourcesHeader(doc: Document, table: HTMLTableElement): void {
  const header = table.tHead?.rows[0];
  if (!header || header.querySelector('.devices-resources')) return;
  const th = doc.createElement('th');
  th.className = 'devices-resources';
  th.textContent = 'Resources';
  header.insertBefore(th, header.cells[2] ?? null);
}

/** The evaluation panel: the fleet's loss and metrics pooled, their spread across devices (min, median, max), and central's. */
function renderEvaluation(doc: Document, s: MonitorSnapshot): void {
  const e = s.evaluation;
  const panel = byId(doc, 'evaluation-panel');
  panel.hidden = e === null;
  if (!e) return;
  const f = e.federated;
  setText(
    doc,
    'evaluation-detail',
    `round ${e.round}` + (f ? ` · global v${f.globalVersion} on ${f.devices} devices, ${f.count.toLocaleString()} held-out examples` : ' · central only'),
  );
  const body = byId<HTMLTableElement>(doc, 'evaluation').tBodies[0]!;
  body.replaceChildren(
    ...evaluationRows(e).map((r) => {
      const tr = row(doc, [r.metric, ...[r.federated, r.min, r.median, r.max, r.central].map((v) => formatMetric(v, '–'))], new Set([1, 2, 3, 4, 5]));
      tr.dataset.metric = r.metric;
      return tr;
    }),
  );
}

/** `, signed: verified (key 0123...)`: whether the fleet's messages verify, after the task line. */
function signatureText(sig: MonitorSnapshot['signatures']): string {
  if (sig.state === null) return '';
  const failed = Object.entries(sig.byKind).filter(([, k]) => k.state !== 'verified').map(([kind, k]) => `${kind} ${k.state}`);
  const who = sig.trustedKey ? ` by key ${sig.trustedKey}` : sig.note ? ` (${sig.note})` : '';
  return `, signed: ${sig.state}${who}${sig.state !== 'verified' && failed.length > 0 ? ` [${failed.join(', ')}]` : ''}`;
}

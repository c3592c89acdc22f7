import { formatBytes, formatDuration } from '../../format.js';
import { inspectPayload } from '../../inspect.js';
import type { TopicLog } from '../../topicLog.js';
import { byId, row } from './views.js';

/** Every topic seen; clicking one shows its last payload decoded (CBOR to JSON, arrays summarised). */
export class TopicExplorer {
  private selected: string | undefined;
  private shownAt = -1;
  private filter = '';
  private paramCount: number | undefined;

  constructor(
    private readonly doc: Document,
    private readonly log: TopicLog,
  ) {
    const input = byId<HTMLInputElement>(doc, 'topic-filter');
    input.addEventListener('input', () => {
      this.filter = input.value.trim();
      this.render(Date.now());
    });
    byId<HTMLTableElement>(doc, 'topics').tBodies[0]!.addEventListener('click', (event) => {
      const tr = (event.target as HTMLElement).closest('tr');
      if (!tr?.dataset.topic) return;
      this.selected = tr.dataset.topic;
      this.shownAt = -1;
      this.render(Date.now());
    });
  }

  /** Redraws the list; `paramCount` (from the task) lets deltas be decoded for their norm. */
  render(now: number, paramCount = this.paramCount): void {
    this.paramCount = paramCount;
    const doc = this.doc;
    const body = byId<HTMLTableElement>(doc, 'topics').tBodies[0]!;
    const topics = this.log.list().filter((t) => this.filter === '' || t.topic.includes(this.filter));
    body.replaceChildren(
      ...topics.map((t) => {
        const tr = row(doc, [t.topic + (t.retained ? ' (retained)' : ''), String(t.messages), formatBytes(t.lastBytes), formatDuration(now - t.lastAt)], new Set([1, 2, 3]));
        tr.dataset.topic = t.topic;
        if (t.topic === this.selected) tr.classList.add('selected');
        return tr;
      }),
    );
    const entry = topics.find((t) => t.topic === this.selected);
    if (!entry || entry.lastAt === this.shownAt) return;
    this.shownAt = entry.lastAt;
    const payload = this.log.lastPayload(entry.topic) ?? new Uint8Array();
    const inspected = inspectPayload(entry.topic, payload, paramCount === undefined ? {} : { paramCount });
    byId(doc, 'topic-title').textContent = `${entry.topic} · ${inspected.format} · ${formatBytes(payload.byteLength)} · ${new Date(entry.lastAt).toLocaleTimeString()}`;
    byId(doc, 'topic-payload').textContent = JSON.stringify(inspected.value, null, 2);
  }
}
